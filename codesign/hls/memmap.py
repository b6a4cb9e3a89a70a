"""The DRAM map of an emitted model: an activation arena and a weight arena, regions in words.
Every op writes its own output region once; a consumer reads it in place when shapes and widths agree."""
from __future__ import annotations

import math
from dataclasses import dataclass

from codesign.hls.pack import words_for


@dataclass(frozen=True)
class Region:
    arena: str          # "act" or "wgt"
    word_off: int       # first DRAM word of the region in its arena
    words: int
    elems: int
    bits: int


class Arena:
    """Regions laid out one after another, each starting on a word boundary."""

    def __init__(self, name: str, word_bits: int):
        self.name = name
        self.word_bits = word_bits
        self.words = 0

    def alloc(self, elems: int, bits: int) -> Region:
        words = max(1, words_for(elems, bits, self.word_bits))
        region = Region(self.name, self.words, words, int(elems), bits)
        self.words += words
        return region


class ActivationMap:
    """Output regions by op name, and the rule for reading one in place.

    A consumer's input reads a producer's output region when the producer is emitted, the widths
    agree and the layout op between them (if the IR folded one out) is one the kernels address
    (codesign/hls/layout.py). Otherwise, when `strict` is off (a subset of layers), the input gets a
    region of its own that the host fills; with `strict` on (the whole network), that is an error
    unless the input has no emitted producer (the model's input).
    """

    def __init__(self, arena: Arena, strict: bool = False):
        self.arena = arena
        self.strict = strict
        self.outputs: dict[str, tuple] = {}

    def output(self, op, where, bits: int) -> Region:
        region = self.arena.alloc(where.elems, bits)
        self.outputs[op.name] = (op, where, region)
        return region

    def input(self, consumer, index: int, producers, bits: int, used: set):
        """(region, producer name or None, View or None) of input `index` of `consumer`."""
        from codesign.hls.layout import view

        shape = tuple(consumer.inputs[index])
        for name in producers:
            found = self.outputs.get(name)
            if not found or found[2].bits != bits:
                continue
            producer, where, region = found
            seen = view(producer, where, consumer, index)
            if not self.strict and seen is not None and seen.kind != "identity":
                seen = None             # a subset's testbench fills each layer's inputs contiguously
            if seen is not None and (name not in used or seen.kind == "head_split"):
                used.add(name)
                return region, name, seen
        if self.strict and any(n in self.outputs for n in producers):
            from codesign.errors import UserError

            have = [(n, list(self.outputs[n][1].shape), self.outputs[n][2].bits)
                    for n in producers if n in self.outputs]
            raise UserError(f"the HLS templates cannot connect input {index} of {consumer.name!r} "
                            f"(shape {list(shape)}, {bits}-bit) to its producers {have}: no layout op or width "
                            f"conversion of the emitted design reads it; emit a subset with --layers")
        return self.arena.alloc(math.prod(shape), bits), None, None
