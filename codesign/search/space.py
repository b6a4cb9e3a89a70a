"""Design spaces in YAML (version 1): validated whole first, then built into a frozen `DesignSpace`.

The space knows its knobs, enumerates or samples `SpacePoint`s, and turns a point into an
Accelerator (+ device) and a compression choice. Torch-free; `bind(graph)` checks it against the model.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
from dataclasses import dataclass
from functools import cached_property

from accel_sim.config import Accelerator
from accel_sim.loading import load_accelerator
from accel_sim.devices import get_device
from accel_sim.errors import UserError
from accel_sim.inputs import check_int, check_number
from accel_sim.resources import estimate_resources
from codesign.design import DesignPoint
from codesign.hashing import content_hash
from codesign.search.knobs import DEFAULT_BASE, HARDWARE_KNOBS, build_accelerator
from codesign.search.metrics import METRICS, Bound, Constraints, metric
from codesign.search.point import SpacePoint
from codesign.transforms.compression import Compression
from codesign.search.schema import (CompressionChoice, FidelitySpec, Knob, ModelSpec, PrecisionGroup,
                                    parse_compression, parse_constraints, parse_fidelity, parse_model,
                                    parse_objectives, read_space_file, require_mapping)

SPACE_VERSION = 1
TOP_KEYS = ("version", "model", "accelerator", "compression", "objectives", "constraints", "fidelity")
GRID_LIMIT = 1_000_000


@dataclass(frozen=True)
class DesignSpace:
    """Hardware knobs x compression knobs of one model, what to optimise and what a point must meet."""
    source: str
    model: ModelSpec
    hardware: tuple[Knob, ...]                     # in file order; base and device included when given
    bases: tuple[tuple[str, Accelerator], ...]     # every base the space names, loaded
    scale_ports: bool
    precision_default: Knob | None
    precision_groups: tuple[PrecisionGroup, ...]
    heads_ratio: Knob | None
    heads_per_block: tuple[int, ...] | None        # kept-head counts each attention may take
    mlp_ratio: Knob | None
    finetune: Knob | None
    objectives: tuple[str, ...]
    constraints: Constraints
    fidelity: FidelitySpec
    attention_names: tuple[str, ...] = ()          # set by `bind`
    attention_heads: tuple[int, ...] = ()

    # --- knobs -----------------------------------------------------------------------------
    @cached_property
    def compression_knobs(self) -> tuple[Knob, ...]:
        knobs = [self.precision_default] if self.precision_default else []
        knobs += [g.knob for g in self.precision_groups]
        if self.heads_ratio:
            knobs.append(self.heads_ratio)
        if self.heads_per_block:
            if not self.attention_names:
                raise UserError("compression.heads.keep_per_block needs the model's graph (bind the space first)")
            knobs += [Knob(f"heads.{name}", self.heads_per_block, "compression") for name in self.attention_names]
        if self.mlp_ratio:
            knobs.append(self.mlp_ratio)
        if self.finetune:
            knobs.append(self.finetune)
        return tuple(knobs)

    @cached_property
    def knobs(self) -> tuple[Knob, ...]:
        """Column order: hardware knobs, then compression knobs."""
        return self.hardware + self.compression_knobs

    @cached_property
    def _grid_knobs(self) -> tuple[Knob, ...]:
        """Enumeration order: compression outermost, so neighbouring points share a workload."""
        return self.compression_knobs + self.hardware

    @property
    def has_compression(self) -> bool:
        return bool(self.precision_default or self.precision_groups or self.heads_ratio
                    or self.heads_per_block or self.mlp_ratio)

    @property
    def has_device(self) -> bool:
        return any(k.name == "device" for k in self.hardware)

    @property
    def measures_fidelity(self) -> bool:
        """Fidelity is measured when the space compresses, or when an objective or bound uses it."""
        bounds = {b.metric for b in self.constraints.bounds}
        return self.has_compression or "fidelity" in self.objectives or "fidelity" in bounds

    @cached_property
    def size(self) -> int:
        return math.prod(len(k.choices) for k in self.knobs)

    @cached_property
    def context(self) -> str:
        """Hash of what every point shares: model, base accelerators' contents, fidelity settings."""
        return content_hash({"model": self.model.to_dict(), "scale_ports": self.scale_ports,
                             "bases": {name: content_hash(acc.to_dict()) for name, acc in self.bases},
                             "fidelity": self.fidelity.to_dict() if self.measures_fidelity else None})

    # --- points ----------------------------------------------------------------------------
    def point(self, values: dict) -> SpacePoint:
        """The point with these knob values (every knob, each one of its choices)."""
        missing = [k.name for k in self.knobs if k.name not in values]
        extra = sorted(set(values) - {k.name for k in self.knobs})
        if missing or extra:
            raise UserError(f"design point: missing knobs {missing} / unknown knobs {extra}")
        for knob in self.knobs:
            if values[knob.name] not in knob.choices:
                raise UserError(f"design point: {knob.name}={values[knob.name]!r} is not one of {list(knob.choices)}")
        return SpacePoint(tuple((k.name, values[k.name]) for k in self.knobs), self.context)

    def point_at(self, index: int) -> SpacePoint:
        """Point `index` of the grid (mixed radix, the last hardware knob fastest)."""
        values = {}
        for knob in reversed(self._grid_knobs):
            index, digit = divmod(index, len(knob.choices))
            values[knob.name] = knob.choices[digit]
        return self.point(values)

    def grid(self) -> list[SpacePoint]:
        if self.size > GRID_LIMIT:
            raise UserError(f"the space has {self.size:,} points, more than a grid sweep takes "
                            f"({GRID_LIMIT:,}); sample it with --samples N")
        return [self.point_at(i) for i in range(self.size)]

    def sample(self, count: int, seed: int) -> list[SpacePoint]:
        """`count` distinct points drawn uniformly with `seed` (all of them, in grid order, if fewer)."""
        check_int(count, "--samples", maximum=10**9)
        if count >= self.size:
            return self.grid()
        picks = random.Random(seed).sample(range(self.size), count)
        return [self.point_at(i) for i in sorted(picks)]

    # --- what a point means ----------------------------------------------------------------
    def hardware_values(self, point: SpacePoint) -> dict:
        values = {k.name: point[k.name] for k in self.hardware}
        values.setdefault("base", self.bases[0][0])
        return values

    def accelerator_of(self, point: SpacePoint) -> Accelerator:
        values = self.hardware_values(point)
        return build_accelerator(dict(self.bases)[values["base"]], values, self.scale_ports)

    def design_of(self, point: SpacePoint) -> DesignPoint:
        """What `point` means: the model, its compression and the accelerator the knobs build."""
        choice = self.compression_of(point)
        return DesignPoint(model=self.model.name, accelerator=self.accelerator_of(point),
                           compression=Compression(choice.policy, choice.plan),
                           device=self.hardware_values(point).get("device"), input_size=self.model.input_size,
                           batch=self.model.batch)

    @cached_property
    def _choices(self) -> dict:
        return {}

    def compression_of(self, point: SpacePoint) -> CompressionChoice:
        """The compression choice of `point` (memoised: many points share one)."""
        values = tuple(point[k.name] for k in self.compression_knobs)
        if values not in self._choices:
            self._choices[values] = self._compression(point)
        return self._choices[values]

    def _compression(self, point: SpacePoint) -> CompressionChoice:
        policy_bits = {g.name: point[g.knob.name] for g in self.precision_groups}
        default = point[self.precision_default.name] if self.precision_default else None
        if self.heads_ratio:
            heads = {"keep_ratio": point[self.heads_ratio.name]}
        elif self.heads_per_block:
            heads = {"keep_counts": tuple(point[f"heads.{n}"] for n in self.attention_names)}
        else:
            heads = {}
        mlp = point[self.mlp_ratio.name] if self.mlp_ratio else None
        finetune = point[self.finetune.name] if self.finetune else None
        return CompressionChoice.build(default, self.precision_groups, policy_bits, heads, mlp, finetune)

    # --- checks ----------------------------------------------------------------------------
    def bind(self, graph) -> DesignSpace:
        """This space for `graph` (the model's IR): per-attention head knobs, rules that match ops."""
        from codesign.ir import OpKind
        from codesign.transforms import attentions
        from codesign.transforms.precision import Rule

        for group in self.precision_groups:
            for key in group.ops:
                rule = Rule(key, CompressionChoice.some_bits())
                if not any(rule.level(op) is not None for op in graph.ops):
                    raise UserError(f"compression.precision.groups.{group.name}: ops {key!r} matches no op of "
                                    f"{graph.model}")
        atts = attentions(graph)
        if (self.heads_ratio or self.heads_per_block) and not atts:
            raise UserError(f"compression.heads: {graph.model} has no attention whose heads could be pruned")
        if self.heads_per_block:
            for att in atts:
                if max(self.heads_per_block) > att.heads:
                    raise UserError(f"compression.heads.keep_per_block: {max(self.heads_per_block)} heads is more "
                                    f"than the {att.heads} of {att.name}")
        if self.mlp_ratio and not any(op.kind == OpKind.GELU for op in graph.ops):
            raise UserError(f"compression.mlp_keep_ratio: {graph.model} has no transformer MLP to shrink")
        return dataclasses.replace(self, attention_names=tuple(a.name for a in atts),
                                   attention_heads=tuple(a.heads for a in atts))

    def check_satisfiable(self) -> None:
        """Refuse a space no point of which can be feasible for a reason visible before simulating."""
        if self.measures_fidelity:
            self.fidelity.check_measurable(self.model.name, max(self.finetune.choices) if self.finetune else 0)
        for bound in self.constraints.bounds:
            if bound.minimum is not None and bound.maximum is not None and bound.minimum > bound.maximum:
                raise UserError(f"constraints.{bound.metric}: min {bound.minimum:g} > max {bound.maximum:g}; "
                                "no point can meet both")
            if bound.metric == "fidelity" and not self.fidelity.evaluator and (bound.minimum or 0) > 1:
                raise UserError(f"constraints.fidelity: min {bound.minimum:g} cannot be met; accuracy and the "
                                "cosine similarity are at most 1")
        if self.constraints.fits_device:
            self._check_some_accelerator_fits()

    def _check_some_accelerator_fits(self) -> None:
        smallest = {k.name: min(k.choices) for k in self.hardware
                    if k.name in ("rows", "cols", "ifmap_kib", "weight_kib", "ofmap_kib", "vector_lanes")}
        devices = next(k.choices for k in self.hardware if k.name == "device")
        report = None
        for _, base in self.bases:
            acc = build_accelerator(base, smallest, self.scale_ports)
            for device in devices:
                est = estimate_resources(acc, device)
                if est.fits:
                    return
                r = est.first_overflow
                report = (f"{est.used[r]:,} {r} where {est.device.name} has {est.available[r]:,}", est.device.name)
        shown = ", ".join(f"{k}={v}" for k, v in smallest.items()) or "the base"
        raise UserError(f"no accelerator in the space fits {', '.join(devices)}: even the smallest ({shown}) "
                        f"needs {report[0]}; shrink the array or buffers, or pick a larger device")

    def with_overrides(self, device: str | None = None, target_fps: float | None = None) -> DesignSpace:
        """`--device` fixes the device knob; `--target-fps` adds fps >= target (and fits the device, if
        there is one) and makes fidelity the one objective: the answer is the best-fidelity point."""
        space = self
        if device is not None:
            knob = Knob("device", (get_device(device).name,), "hardware")
            others = tuple(k for k in space.hardware if k.name != "device")
            space = dataclasses.replace(space, hardware=others + (knob,),
                                        constraints=dataclasses.replace(space.constraints, fits_device=True))
        if target_fps is not None:
            check_number(target_fps, "--target-fps")
            bounds = [b for b in space.constraints.bounds if b.metric != "fps"]
            old = next((b for b in space.constraints.bounds if b.metric == "fps"), Bound("fps"))
            bounds.append(Bound("fps", max(float(target_fps), old.minimum or 0.0), old.maximum))
            fits = space.constraints.fits_device or space.has_device
            objectives = ("fidelity",)
            space = dataclasses.replace(space, objectives=objectives,
                                        constraints=Constraints(fits, tuple(bounds)))
        _check_device_needs(space)
        space.check_satisfiable()
        return space


def _check_device_needs(space: DesignSpace) -> None:
    needs_device = [n for n in (*space.objectives, *(b.metric for b in space.constraints.bounds))
                    if METRICS[n].needs == "device"]
    if space.constraints.fits_device:
        needs_device.insert(0, "constraints.fits_device")
    if needs_device and not space.has_device:
        raise UserError(f"{needs_device[0]} needs an FPGA device: add accelerator.device (e.g. zcu102) "
                        "or pass --device")


def load_space(spec) -> DesignSpace:
    """A DesignSpace from a YAML file path, a parsed mapping, or a DesignSpace (returned as is)."""
    if isinstance(spec, DesignSpace):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        source = os.fspath(spec)
        data = read_space_file(source)
    else:
        source, data = "space", spec
    label = os.path.basename(source)
    try:
        return _build(data, source)
    except UserError as err:
        raise UserError(f"{label}: {err}") from None


def _build(data, source: str) -> DesignSpace:
    if data is None:
        raise UserError("the space is empty; give version, model, accelerator and objectives")
    require_mapping(data, "the top level")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise UserError(f"unknown key {unknown[0]!r}; allowed keys: {', '.join(TOP_KEYS)}")
    if data.get("version") != SPACE_VERSION:
        raise UserError(f"version must be {SPACE_VERSION}, got {data.get('version')!r}")
    for key in ("model", "objectives"):
        if key not in data:
            raise UserError(f"missing field {key}")
    model = parse_model(data["model"])
    hardware, bases, scale_ports = _parse_accelerator(data.get("accelerator") or {})
    comp = parse_compression(data.get("compression") or {})
    objectives = parse_objectives(data["objectives"])
    constraints = parse_constraints(data.get("constraints") or {})
    fidelity = parse_fidelity(data.get("fidelity") or {})
    space = DesignSpace(source=source, model=model, hardware=hardware, bases=bases, scale_ports=scale_ports,
                        objectives=objectives, constraints=constraints, fidelity=fidelity, **comp)
    if space.has_device and "fits_device" not in (data.get("constraints") or {}):
        space = dataclasses.replace(space, constraints=dataclasses.replace(constraints, fits_device=True))
    _check_device_needs(space)
    space.check_satisfiable()
    return space


def _parse_accelerator(data) -> tuple[tuple[Knob, ...], tuple[tuple[str, Accelerator], ...], bool]:
    require_mapping(data, "accelerator")
    allowed = (*HARDWARE_KNOBS, "scale_ports")
    knobs = []
    for key, raw in data.items():
        if key not in allowed:
            raise UserError(f"unknown key {key!r} in accelerator; allowed: {', '.join(allowed)}")
        if key == "scale_ports":
            continue
        field = f"accelerator.{key}"
        values = raw if isinstance(raw, list) else [raw]
        parse = HARDWARE_KNOBS[key].parse
        choices = tuple(parse(v, field) for v in values)
        if key == "device":
            choices = tuple(_named(field, get_device, v).name for v in choices)
        knobs.append(Knob.of(key, choices, "hardware", field))
    scale_ports = data.get("scale_ports", True)
    if not isinstance(scale_ports, bool):
        raise UserError(f"accelerator.scale_ports must be true or false, got {scale_ports!r}")
    base_knob = next((k for k in knobs if k.name == "base"), None)
    names = base_knob.choices if base_knob else (DEFAULT_BASE,)
    bases = tuple((name, _named("accelerator.base", load_accelerator, name)) for name in names)
    return tuple(knobs), bases, scale_ports


def _named(field: str, load, name):
    try:
        return load(name)
    except UserError as err:
        raise UserError(f"{field}: {err}") from None


def read_objective_names(text: str) -> tuple[str, ...]:
    """'latency_ms,energy_mj' -> ('latency_ms', 'energy_mj'), each checked against the metric table."""
    names = tuple(n.strip() for n in str(text).split(",") if n.strip())
    if not names:
        raise UserError("--objectives is empty; give metric names such as latency_ms,energy_mj")
    for name in names:
        metric(name, "objective")
    return names


__all__ = ["DesignSpace", "load_space", "read_objective_names", "SPACE_VERSION"]
