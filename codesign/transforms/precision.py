"""Per-op weight and activation bit widths: a `PrecisionPolicy` parsed from a compact spec or YAML.

`apply_precision(graph, policy)` sets `w_bits`/`a_bits` on every op; width 1 means binarisation.
"""
from __future__ import annotations

import fnmatch
import os
import re
import warnings
from dataclasses import dataclass
from enum import Enum

from codesign.errors import UserError
from codesign.ir import DEFAULT_BITS, SUPPORTED_BITS, Graph, Op, OpKind

_WIDTHS = ", ".join(map(str, SUPPORTED_BITS))
_BITS = re.compile(r"^w(\d+)a(\d+)$")
_GLOB_CHARS = frozenset("*?[")
# A rule per op of the largest timm models (ViT-g/14 lowers to ~1,000 ops) is the most a policy needs;
# every rule is matched against every op, so a larger policy is refused rather than run for minutes.
MAX_RULES = 2000


class PolicyWarning(UserWarning):
    """A precision or pruning rule that has no effect on this model (it matches no op)."""


def split_entries(text: str) -> list[str]:
    """Split 'a=1,b=[2,3],re:x{1,2}' on the commas that are outside brackets, braces and parentheses."""
    entries, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            entries.append(text[start:i].strip())
            start = i + 1
    entries.append(text[start:].strip())
    return entries


@dataclass(frozen=True)
class Bits:
    """Weight and activation widths of one op; 1 is binarisation (sign x scale, XNOR-popcount)."""
    w_bits: int
    a_bits: int

    def __post_init__(self):
        for name, value in (("weight", self.w_bits), ("activation", self.a_bits)):
            if value not in SUPPORTED_BITS:
                raise UserError(f"precision w{self.w_bits}a{self.a_bits}: {name} width {value} is not "
                                f"supported; allowed widths: {_WIDTHS}")

    @classmethod
    def parse(cls, text: str) -> Bits:
        match = _BITS.match(str(text).strip().lower())
        if not match:
            raise UserError(f"precision {text!r} is not valid: write w<bits>a<bits> (e.g. w8a8, w1a8) "
                            f"with widths from {_WIDTHS}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"w{self.w_bits}a{self.a_bits}"


class RuleLevel(int, Enum):
    """How specific a rule is; a higher level wins (see `PrecisionPolicy`)."""
    KIND = 1
    MODULE = 2
    PATTERN = 3
    OP = 4


@dataclass(frozen=True)
class Rule:
    """`key` as typed: an op or module name, a glob, `re:REGEX` or `kind:KIND`."""
    key: str
    bits: Bits

    def __post_init__(self):
        if self.key.startswith("kind:"):
            kinds = {k.value for k in OpKind}
            if self.key[5:] not in kinds:
                raise UserError(f"precision rule {self.key!r}: unknown op kind; allowed kinds: "
                                f"{', '.join(sorted(kinds))}")
        elif self.key.startswith("re:"):
            try:
                re.compile(self.key[3:])
            except re.error as exc:
                raise UserError(f"precision rule '{self.key}': bad regular expression ({exc})") from None
        elif not self.key or "=" in self.key or any(c.isspace() for c in self.key):
            raise UserError(f"precision rule key {self.key!r} is not valid: give an op or module name, "
                            "a glob (*.attn.qkv), re:REGEX or kind:KIND")

    def level(self, op: Op) -> RuleLevel | None:
        """The level at which this rule matches `op`, or None if it does not."""
        key = self.key
        if key.startswith("kind:"):
            return RuleLevel.KIND if op.kind.value == key[5:] else None
        if key.startswith("re:"):
            return RuleLevel.PATTERN if re.fullmatch(key[3:], op.name) else None
        if _GLOB_CHARS & set(key):
            return RuleLevel.PATTERN if fnmatch.fnmatchcase(op.name, key) else None
        if op.name == key:
            return RuleLevel.OP
        return RuleLevel.MODULE if op.name.startswith(key + ".") else None


@dataclass(frozen=True)
class PrecisionPolicy:
    """Bit widths per op: a default plus rules. The most specific matching rule wins:

    1. an exact op name (`blocks.0.attn.qkv`);
    2. a glob on op names (`*.attn.qkv`) or a regular expression (`re:blocks\\.(1|2)\\..*`, full match);
    3. a module prefix (`blocks.3`, `layers.0`: every op inside it; a longer prefix beats a shorter one);
    4. an op kind (`kind:linear`, `kind:attn_qk`);
    5. the default.
    Between two rules of the same level the one written later wins.

    PE-array ops with weights (linear, conv2d) take both widths. Ops whose second operand is an
    activation (attn_qk, attn_av, matmul) take the activation width for both operands. Vector ops
    take the activation width only, except that binarisation (a1) is PE-array arithmetic: a vector op
    under an a1 rule keeps the default width (16) and the sign is taken where a PE-array op reads it.
    """
    default: Bits = Bits(DEFAULT_BITS, DEFAULT_BITS)
    rules: tuple[Rule, ...] = ()

    def __post_init__(self):
        if len(self.rules) > MAX_RULES:
            raise UserError(f"precision policy has {len(self.rules):,} rules, more than {MAX_RULES:,}; group ops "
                            "with globs (*.attn.qkv), module prefixes, re:REGEX or kind:KIND")
        seen = set()
        for rule in self.rules:
            if rule.key in seen:
                raise UserError(f"precision rule {rule.key!r} is given twice; give each op or pattern once")
            seen.add(rule.key)

    @property
    def spec(self) -> str:
        """The canonical compact spec (parses back to an equal policy)."""
        return ",".join([f"default={self.default}"] + [f"{r.key}={r.bits}" for r in self.rules])

    def bits_for(self, op: Op) -> Bits:
        best, best_rank = self.default, (0, 0, -1)
        for index, rule in enumerate(self.rules):
            level = rule.level(op)
            if level is None:
                continue
            rank = (int(level), len(rule.key) if level is RuleLevel.MODULE else 0, index)
            if rank > best_rank:
                best, best_rank = rule.bits, rank
        return best

    def to_dict(self) -> dict:
        return {"default": str(self.default), "rules": {r.key: str(r.bits) for r in self.rules}}


def parse_precision(text: str) -> PrecisionPolicy:
    """A policy from `w8a8`, `default=w8a8,blocks.0=w16a16,kind:linear=w4a8,...` or a YAML file path."""
    text = str(text).strip()
    if text.endswith((".yaml", ".yml")):
        return _load_yaml(text)
    if not text:
        raise UserError("--precision is empty: give e.g. w8a8 or default=w8a8,blocks.0=w16a16")
    default, rules = None, []
    for entry in split_entries(text):
        key, eq, value = entry.rpartition("=")
        if not entry or (eq and not key):
            raise UserError(f"precision spec {text!r}: empty entry; write KEY=w<bits>a<bits> "
                            "separated by commas")
        if not eq and not _BITS.match(entry.lower()):
            raise UserError(f"precision spec {text!r}: {entry!r} is neither a width like w8a8 nor "
                            "KEY=w<bits>a<bits>")
        if not eq or key == "default":
            if default is not None:
                raise UserError(f"precision spec {text!r}: the default is given twice")
            default = Bits.parse(value)
        else:
            rules.append(Rule(key.strip(), Bits.parse(value)))
    return PrecisionPolicy(default=default or Bits(DEFAULT_BITS, DEFAULT_BITS), rules=tuple(rules))


def _load_yaml(path: str) -> PrecisionPolicy:
    from accel_sim.inputs import read_yaml

    if not os.path.isfile(path):
        raise UserError(f"precision file {path!r} does not exist")
    data = read_yaml(path, "precision file")
    if not isinstance(data, dict) or set(data) - {"version", "default", "rules"}:
        raise UserError(f"precision file {path!r}: expected a mapping with keys default, rules "
                        "(and optionally version: 1)")
    if data.get("version", 1) != 1:
        raise UserError(f"precision file {path!r}: version {data['version']!r} is not supported; use 1")
    rules = data.get("rules") or {}
    if not isinstance(rules, dict):
        raise UserError(f"precision file {path!r}: rules must be a mapping of KEY: w<bits>a<bits>")
    if len(rules) > MAX_RULES:
        raise UserError(f"precision file {path!r} has {len(rules):,} rules, more than {MAX_RULES:,}; group ops "
                        "with globs (*.attn.qkv), module prefixes, re:REGEX or kind:KIND")
    default = Bits.parse(data["default"]) if "default" in data else Bits(DEFAULT_BITS, DEFAULT_BITS)
    return PrecisionPolicy(default=default,
                           rules=tuple(Rule(str(k), Bits.parse(v)) for k, v in rules.items()))


def op_bits(op: Op, bits: Bits) -> tuple[int, int]:
    """The (w_bits, a_bits) an op takes under `bits` (see `PrecisionPolicy` for the reasons)."""
    if op.kind in (OpKind.LINEAR, OpKind.CONV2D):
        return bits.w_bits, bits.a_bits
    if op.on_pe_array:
        return bits.a_bits, bits.a_bits
    return DEFAULT_BITS, bits.a_bits if bits.a_bits != 1 else DEFAULT_BITS


def apply_precision(graph: Graph, policy: PrecisionPolicy) -> Graph:
    """A Graph whose ops carry the policy's widths; warns (PolicyWarning) about rules matching no op."""
    for rule in policy.rules:
        if not any(rule.level(op) is not None for op in graph.ops):
            warnings.warn(f"precision rule '{rule.key}' matches no op of {graph.model}; it has no effect",
                          PolicyWarning, stacklevel=2)
    ops = []
    for op in graph.ops:
        w_bits, a_bits = op_bits(op, policy.bits_for(op))
        ops.append(op.replace(w_bits=w_bits, a_bits=a_bits))
    return graph.replace_ops(ops)
