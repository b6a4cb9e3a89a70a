"""The DRAM map of an emitted model: an activation arena and a weight arena, regions in words.
Every op writes its own output region once; a consumer reads it in place when shapes and widths agree."""
from __future__ import annotations

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

    A consumer's input i reads its producer's output region when the producer is emitted, the
    shapes are equal (no layout op between them was folded out of the IR: a head split or merge,
    a flatten) and the widths agree. Otherwise the input gets a region of its own, which the host
    fills (the layout transform or width conversion is not part of the emitted design).
    """

    def __init__(self, arena: Arena):
        self.arena = arena
        self.outputs: dict[str, tuple[tuple[int, ...], Region]] = {}

    def output(self, name: str, shape, elems: int, bits: int) -> Region:
        region = self.arena.alloc(elems, bits)
        self.outputs[name] = (tuple(shape), region)
        return region

    def input(self, producers, shape, elems: int, bits: int, used: set) -> tuple[Region, str | None]:
        for name in producers:
            found = self.outputs.get(name)
            if found and name not in used and found[0] == tuple(shape) and found[1].bits == bits:
                used.add(name)
                return found[1], name
        return self.arena.alloc(elems, bits), None
