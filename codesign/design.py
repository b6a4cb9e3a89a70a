"""A design point: the model, its compression, the hardware and the mapping choices, as one value.
`codesign simulate`, sweep and search rows and `emit-hls --from-results` all build and read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from accel_sim.config import Accelerator, accelerator_from_dict
from accel_sim.devices import get_device
from accel_sim.errors import UserError
from codesign.frontend.models import parse_input_size
from codesign.hashing import content_hash
from codesign.transforms.compression import Compression

MAPPINGS = ("searched", "scalesim", "hls")
OBJECTIVES = ("latency", "energy", "edp")


@dataclass(frozen=True)
class DesignPoint:
    """Everything that decides what is simulated or emitted. Frozen and hashable; `to_dict` and
    `from_dict` round-trip it through JSON, and `key` names it by content."""
    model: str                                   # timm name or 'pkg.module:factory'
    accelerator: Accelerator
    compression: Compression = Compression()
    device: str | None = None                    # FPGA board (a part or Device is stored as its board)
    input_size: tuple[int, ...] | None = None    # (channels, height, width); None: the model's own
    batch: int = 1
    dataflow: str | None = None                  # every layer's dataflow; None: the accelerator's
    layer_dataflows: tuple[tuple[str, str], ...] = ()   # (op glob, dataflow) overrides, in order
    mapping: str = "searched"
    objective: str = "latency"
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        if self.mapping not in MAPPINGS:
            raise UserError(f"mapping must be one of {', '.join(MAPPINGS)}; got {self.mapping!r}")
        if self.objective not in OBJECTIVES:
            raise UserError(f"objective must be one of {', '.join(OBJECTIVES)}; got {self.objective!r}")
        if self.device is not None:        # the board's canonical name; an unknown one fails here
            object.__setattr__(self, "device", get_device(self.device).name)
        if isinstance(self.layer_dataflows, dict):
            object.__setattr__(self, "layer_dataflows", tuple(self.layer_dataflows.items()))
        if self.input_size is not None:       # '224', 224, (3, 224, 224) -> (3, 224, 224)
            size = self.input_size
            text = ",".join(str(v) for v in size) if isinstance(size, (tuple, list)) else str(size)
            object.__setattr__(self, "input_size", parse_input_size(text))
        object.__setattr__(self, "key", content_hash(self.to_dict()))

    def to_dict(self) -> dict:
        return {"model": self.model, "accelerator": self.accelerator.to_dict(),
                "compression": self.compression.to_dict(), "device": self.device,
                "input_size": list(self.input_size) if self.input_size else None, "batch": self.batch,
                "dataflow": self.dataflow, "layer_dataflows": [list(p) for p in self.layer_dataflows],
                "mapping": self.mapping, "objective": self.objective}

    @classmethod
    def from_dict(cls, data: dict, where: str = "design point") -> DesignPoint:
        """The inverse of `to_dict`."""
        return cls(model=data["model"], accelerator=accelerator_from_dict(data["accelerator"], where),
                   compression=Compression.from_dict(data.get("compression") or {}), device=data.get("device"),
                   input_size=data.get("input_size"), batch=data.get("batch", 1), dataflow=data.get("dataflow"),
                   layer_dataflows=tuple(tuple(p) for p in data.get("layer_dataflows") or ()),
                   mapping=data.get("mapping", "searched"), objective=data.get("objective", "latency"))

    @property
    def overrides(self) -> dict[str, str] | None:
        """The per-op dataflow overrides as the scheduler takes them (None when there are none)."""
        return dict(self.layer_dataflows) or None
