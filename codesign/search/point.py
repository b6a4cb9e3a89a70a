"""A point of a design space: one value per knob, frozen, named by a content hash
(codesign/hashing.py). codesign/design.py's DesignPoint is what such a point means."""
from __future__ import annotations

from dataclasses import dataclass, field

from codesign.hashing import content_hash


@dataclass(frozen=True)
class SpacePoint:
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
