"""A design point: one value per knob of a space, frozen, named by a content hash.

The hash is sha256 over canonical JSON (sorted keys, no whitespace), stable across processes and runs.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

KEY_CHARS = 16      # hex digits of the point hash kept in results files (64 bits)


def canonical_json(data) -> str:
    """The one text form that is hashed: sorted keys, no spaces, no NaN or infinity."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def content_hash(data, chars: int = KEY_CHARS) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:chars]


@dataclass(frozen=True)
class DesignPoint:
    """Knob values in the space's knob order, and the hash of the space's fixed context (model,
    base accelerators, fidelity settings): the same values in another context are another point."""
    values: tuple[tuple[str, object], ...]
    context: str
    key: str = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "key", content_hash({"context": self.context, "values": dict(self.values)}))

    def as_dict(self) -> dict:
        return dict(self.values)

    def __getitem__(self, knob: str):
        for name, value in self.values:
            if name == knob:
                return value
        raise KeyError(knob)
