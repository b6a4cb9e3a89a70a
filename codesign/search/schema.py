"""The sections of a design-space file, each checked and built into a frozen value; one error line each.

`space.py` assembles them into a DesignSpace. Every message names the field and what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from accel_sim.errors import UserError
from accel_sim.inputs import check_int, check_number
from accel_sim.inputs import read_yaml
from codesign.search.metrics import METRICS, Bound, Constraints, metric
from codesign.hashing import content_hash
from codesign.transforms.precision import Bits, PrecisionPolicy, Rule
from codesign.transforms.prune import PrunePlan


# A knob's values are enumerated and searched: the example spaces have 2-4 per knob; 1,000 keeps the
# duplicate check, the grid index and NSGA-II's categorical sampling instant.
MAX_CHOICES = 1000
MAX_HEADS = 1024    # attention heads per block: ViT-22B has 48 (Dehghani et al. 2023); 1,024 is above any


def require_mapping(data, where: str) -> None:
    if not isinstance(data, dict):
        raise UserError(f"{where} must be a mapping of keys to values, got {type(data).__name__}")


def _keys(data, where: str, allowed: tuple[str, ...]) -> None:
    require_mapping(data, where)
    for key in data:
        if key not in allowed:
            raise UserError(f"unknown key {key!r} in {where}; allowed: {', '.join(allowed)}")


def _as_list(raw) -> list:
    return list(raw) if isinstance(raw, (list, tuple)) else [raw]


def read_space_file(path: str):
    return read_yaml(path, "design space")


@dataclass(frozen=True)
class Knob:
    """One dimension of the space: a name (a results column) and its choices, in file order."""
    name: str
    choices: tuple
    kind: str                       # "hardware" or "compression"

    @classmethod
    def of(cls, name: str, choices: tuple, kind: str, field: str) -> Knob:
        if not choices:
            raise UserError(f"{field}: empty list; give at least one value (the space would have no points)")
        if len(choices) > MAX_CHOICES:
            raise UserError(f"{field}: {len(choices):,} values, more than the {MAX_CHOICES:,} a knob may have")
        seen = set()
        for value in choices:
            key = (type(value) is bool, value if isinstance(value, (str, int, float)) else repr(value))
            if key in seen:
                raise UserError(f"{field}: {value!r} is listed twice")
            seen.add(key)
        return cls(name, tuple(choices), kind)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_size: tuple[int, int, int] | None = None
    batch: int = 1

    def to_dict(self) -> dict:
        return {"name": self.name, "input_size": list(self.input_size) if self.input_size else None,
                "batch": self.batch}


def parse_model(data) -> ModelSpec:
    from codesign.frontend.models import parse_input_size

    _keys(data, "model", ("name", "input_size", "batch"))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UserError("model.name: give a timm model name or pkg.module:factory")
    size = data.get("input_size")
    if size is not None:
        try:
            size = parse_input_size(",".join(str(v) for v in _as_list(size)))
        except UserError:
            raise UserError(f"model.input_size {size!r} is not valid; give H or [C, H, W] "
                            "(positive integers)") from None
    batch = check_int(data.get("batch", 1), "model.batch")
    return ModelSpec(name.strip(), size, batch)


@dataclass(frozen=True)
class PrecisionGroup:
    """Layers that share one precision knob: precision rule keys (op, glob, module, re:, kind:)."""
    name: str
    ops: tuple[str, ...]
    knob: Knob


@dataclass(frozen=True)
class CompressionChoice:
    """The compression of one point: what the workload and the fidelity measurement depend on."""
    policy: PrecisionPolicy
    plan: PrunePlan
    finetune: int | None = None     # recovery fine-tuning epochs when the space searches them

    @cached_property
    def key(self) -> str:
        extra = {"finetune": self.finetune} if self.finetune is not None else {}
        return content_hash({"precision": self.policy.spec, "pruning": self.plan.to_dict(), **extra})

    @property
    def precision_spec(self) -> str:
        return self.policy.spec

    @property
    def heads_spec(self) -> str | None:
        return self.plan.heads_spec

    @staticmethod
    def some_bits() -> Bits:
        return Bits(8, 8)

    @classmethod
    def build(cls, default: str | None, groups, bits_by_group: dict, heads: dict, mlp,
              finetune: int | None = None) -> CompressionChoice:
        rules = tuple(Rule(key, Bits.parse(bits_by_group[g.name])) for g in groups for key in g.ops)
        policy = PrecisionPolicy(**({"default": Bits.parse(default)} if default else {}), rules=rules)
        return cls(policy, PrunePlan(**heads, mlp_keep_ratio=mlp), finetune)


def _widths(raw, field: str) -> tuple[str, ...]:
    out = []
    for value in _as_list(raw):
        try:
            out.append(str(Bits.parse(value)))
        except UserError as err:
            raise UserError(f"{field}: {err}") from None
    return tuple(out)


def _knob(name: str, values, check, field: str | None = None) -> Knob:
    """A compression knob `name` over `values` (one or a list), each checked by `check(value, field)`."""
    field = field or f"compression.{name}"
    return Knob.of(name, tuple(check(v, field) for v in _as_list(values)), "compression", field)


def parse_compression(data) -> dict:
    """DesignSpace fields: precision_default, precision_groups, heads_ratio, heads_per_block, mlp_ratio,
    finetune (recovery fine-tuning epochs as a knob: fidelity only, the hardware does not change)."""
    _keys(data, "compression", ("precision", "heads", "mlp_keep_ratio", "finetune"))
    out = {"precision_default": None, "precision_groups": (), "heads_ratio": None, "heads_per_block": None,
           "mlp_ratio": None, "finetune": None}
    prec = data.get("precision") or {}
    _keys(prec, "compression.precision", ("default", "groups"))
    if "default" in prec:
        field = "compression.precision.default"
        out["precision_default"] = Knob.of("precision.default", _widths(prec["default"], field), "compression", field)
    groups, seen = [], {}
    groups_data = prec.get("groups") or {}
    require_mapping(groups_data, "compression.precision.groups")
    for name, spec in groups_data.items():
        where = f"compression.precision.groups.{name}"
        _keys(spec, where, ("ops", "widths"))
        if "ops" not in spec or "widths" not in spec:
            raise UserError(f"{where}: give ops (precision rule keys, e.g. '*.attn.qkv') and widths (e.g. [w8a8, w4a8])")
        ops = tuple(str(o).strip() for o in _as_list(spec["ops"]))
        for key in ops:
            Rule(key, CompressionChoice.some_bits())
            if key in seen:
                raise UserError(f"{where}: ops {key!r} is already in group {seen[key]!r}")
            seen[key] = name
        groups.append(PrecisionGroup(str(name), ops, Knob.of(f"precision.{name}", _widths(spec["widths"], where),
                                                             "compression", f"{where}.widths")))
    out["precision_groups"] = tuple(groups)
    heads = data.get("heads") or {}
    _keys(heads, "compression.heads", ("keep_ratio", "keep_per_block"))
    if len(heads) > 1:
        raise UserError("compression.heads: give keep_ratio (one ratio for every attention) or keep_per_block "
                        "(a count per attention), not both")
    ratio = lambda value, field: float(check_number(value, field))       # noqa: E731
    if "keep_ratio" in heads:
        out["heads_ratio"] = _knob("heads.keep_ratio", heads["keep_ratio"], ratio)
    if "keep_per_block" in heads:
        out["heads_per_block"] = _knob("heads", heads["keep_per_block"],
                                       lambda value, field: check_int(value, field, maximum=MAX_HEADS),
                                       "compression.heads.keep_per_block").choices
    if "mlp_keep_ratio" in data:
        out["mlp_ratio"] = _knob("mlp_keep_ratio", data["mlp_keep_ratio"], ratio)
    if "finetune" in data:
        out["finetune"] = _knob("finetune", data["finetune"], check_int)
    return out


def parse_objectives(data) -> tuple[str, ...]:
    names = _as_list(data) if data is not None else []
    if not names:
        raise UserError(f"objectives: empty; give at least one of {', '.join(METRICS)}")
    for name in names:
        if not isinstance(name, str):
            raise UserError(f"objectives: {name!r} is not a metric name; allowed: {', '.join(METRICS)}")
        metric(name, "objective")
        if names.count(name) > 1:
            raise UserError(f"objectives: {name!r} is listed twice")
    return tuple(names)


def parse_constraints(data) -> Constraints:
    allowed = ("fits_device", *METRICS)
    _keys(data, "constraints", allowed)
    fits = data.get("fits_device", False)
    if not isinstance(fits, bool):
        raise UserError(f"constraints.fits_device must be true or false, got {fits!r}")
    bounds = []
    for name, spec in data.items():
        if name == "fits_device":
            continue
        where = f"constraints.{name}"
        _keys(spec, where, ("min", "max"))
        if not spec:
            raise UserError(f"{where}: give min and/or max")
        for key, value in spec.items():
            check_number(value, f"{where}.{key}", minimum=-1e300, strict=False, maximum=1e300)
        bounds.append(Bound(name, spec.get("min"), spec.get("max")))
    return Constraints(fits, tuple(bounds))


@dataclass(frozen=True)
class FidelitySpec:
    """How fidelity is measured (see `codesign.fidelity.evaluate`): top-1 accuracy when the model has
    trained weights and labelled data; the cosine proxy only when `proxy: cosine` asks for it."""
    samples: int = 16
    seed: int = 0
    checkpoint: str | None = None
    calibration: str | None = None
    evaluator: str | None = None
    dataset: str | None = None
    finetune: int = 0              # epochs of recovery fine-tuning for every compressed point
    proxy: str | None = None       # "cosine": measure a model without labels by its logits' cosine

    def to_dict(self) -> dict:
        """The settings; dataset, finetune and proxy only when set (so older spaces keep their hashes)."""
        out = {"samples": self.samples, "seed": self.seed, "checkpoint": self.checkpoint,
               "calibration": self.calibration, "evaluator": self.evaluator}
        extra = {"dataset": self.dataset, "finetune": self.finetune, "proxy": self.proxy}
        return {**out, **{k: v for k, v in extra.items() if v}}

    def check_measurable(self, model: str, finetune: int = 0) -> None:
        """Refuse a fidelity that would silently be the proxy: random weights have no accuracy.
        `finetune`: the most fine-tuning epochs the space's knob asks for."""
        from codesign.frontend.reference import reference_model

        labelled = reference_model(model) is not None or (self.checkpoint and self.dataset)
        if not (labelled or self.evaluator or self.proxy):
            raise UserError(f"fidelity of {model}: no accuracy to measure (random weights or no labelled data); "
                            "use a reference model (ref_vit_mnist), give fidelity.checkpoint and "
                            "fidelity.dataset, or set fidelity.proxy: cosine to search on the logit-cosine proxy")
        if (self.finetune or finetune) and not labelled:
            raise UserError(f"fine-tuning (fidelity.finetune, compression.finetune) needs labelled data: "
                            f"{model} has none")


def parse_fidelity(data) -> FidelitySpec:
    _keys(data, "fidelity", ("samples", "seed", "checkpoint", "calibration", "evaluator", "dataset", "finetune",
                             "proxy"))
    samples = check_int(data.get("samples", 16), "fidelity.samples")
    seed = check_int(data.get("seed", 0), "fidelity.seed")
    finetune = check_int(data.get("finetune", 0), "fidelity.finetune")
    if data.get("proxy") not in (None, "cosine"):
        raise UserError(f"fidelity.proxy {data.get('proxy')!r} is not valid; the one proxy is cosine")
    texts = {}
    for key in ("checkpoint", "calibration", "evaluator", "dataset"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise UserError(f"fidelity.{key} {value!r} is not valid; give a path or name")
        texts[key] = value
    return FidelitySpec(samples, seed, **texts, finetune=finetune, proxy=data.get("proxy"))
