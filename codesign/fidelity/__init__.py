"""Model fidelity under compression: the IR's precision and pruning choices run on the real torch model.

`evaluate(...)` compares the compressed model with the float one (or calls a user evaluator), cached on disk.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import math
import numbers
import os
import time
from dataclasses import dataclass

from accel_sim.inputs import check_int
from codesign.errors import UserError
from codesign.fidelity import cache
from codesign.ir import Graph
from codesign.transforms import (PrecisionPolicy, PrunePlan, apply_precision, attention_layout, head_choices,
                                 mlp_choices, parse_precision, parse_prune)

FIDELITY_VERSION = 1      # bump when the measurement changes, so that old cache entries are not reused


@dataclass(frozen=True)
class FidelityResult:
    """How close the compressed model stays to the float model. `score` is what a search maximises:
    the user evaluator's value if one was given, else `cosine_similarity`."""
    model: str
    precision: str                    # canonical precision spec
    pruning: dict                     # PrunePlan.to_dict()
    samples: int
    calibration: str                  # "random:samples=N:seed=S" or "images:<sha256>"
    cosine_similarity: float          # mean over images of cos(compressed logits, float logits)
    top1_agreement: float             # fraction of images whose top-1 class is unchanged
    float_top1_classes: int           # distinct top-1 classes of the float model (1: top-1 is degenerate)
    cross_image_cosine: float         # cosine between float logits of different images: what a model
                                      # ignoring its input would score (the floor to read cosine against)
    mean_sqnr_db: float               # mean over quantised layers of their output SQNR
    layer_sqnr_db: dict               # quantised layer -> SQNR (dB) of its output vs the float model
    kept_heads: dict                  # attention -> kept head indices (pruned attentions only)
    quantized_layers: int             # Linear/Conv2d modules fake-quantised (those that are IR ops)
    evaluator: str | None
    score: float
    seconds: float                    # wall time of the measurement (not of a cache hit)
    cache_key: str
    from_cache: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def evaluate(model: str, precision: PrecisionPolicy | str | None = None,
             pruning: PrunePlan | str | None = None, *, input_size: tuple[int, int, int] | None = None,
             checkpoint: str | None = None, calibration: str | None = None, samples: int = 16, seed: int = 0,
             evaluator: str | None = None, cache_dir: str | None = None, use_cache: bool = True,
             graph: Graph | None = None) -> FidelityResult:
    """Fidelity of `model` (timm name or pkg.module:factory) under `precision` and `pruning`.

    precision: a PrecisionPolicy or its spec (None: the IR default, w16a16 everywhere).
    pruning: a PrunePlan or a `--prune-heads` spec. The model is built on CPU with timm's init under
    `seed` (or loaded from `checkpoint`, .pt/.pth via torch.load(weights_only=True) or .safetensors).
    calibration: None for `samples` seeded random images, or a directory of images.
    evaluator: 'pkg.module:function' called as function(compressed_model, float_model) -> float.
    graph: the model's uncompressed IR if the caller has it already (saves an extraction).
    Fake-quantised: every Linear/Conv2d module that is an IR op (weights per output channel, inputs
    per tensor, ranges calibrated on the same images); pruned heads and MLP units are masked at the
    input of the output projection / fc2, which is exactly their removal. Cached under
    `cache_dir` (default $CODESIGN_CACHE_DIR/fidelity or ~/.cache/vit-codesign/fidelity).
    """
    policy = precision if isinstance(precision, PrecisionPolicy) else (
        parse_precision(precision) if precision is not None else PrecisionPolicy())
    plan = pruning if isinstance(pruning, PrunePlan) else (
        parse_prune(pruning) if pruning is not None else PrunePlan())
    check_int(samples, "fidelity samples")
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise UserError(f"checkpoint {checkpoint!r} does not exist")
    if graph is not None and (graph.model != model
                              or (input_size and graph.input_shape[1:] != tuple(input_size))):
        raise UserError(f"the graph given is of {graph.model} at {graph.input_shape[1:]}, not of {model}")
    from codesign.fidelity.inputs import calibration_digest, file_sha256

    request = _Request(model=model, input_size=tuple(input_size) if input_size else None, policy=policy,
                       plan=plan, checkpoint=checkpoint,
                       checkpoint_sha256=file_sha256(checkpoint) if checkpoint else None,
                       calibration=calibration, calibration_id=calibration_digest(calibration, samples, seed),
                       samples=samples, seed=seed, evaluator=evaluator)
    key, directory = cache.content_key(request.payload()), cache.cache_dir(cache_dir)
    if use_cache:
        hit = cache.load(directory, key)
        if hit is not None and set(hit) == {f.name for f in dataclasses.fields(FidelityResult)}:
            return FidelityResult(**{**hit, "from_cache": True})
    result = _measure(request, graph, key)
    if use_cache:
        cache.store(directory, key, result.to_dict())
    return result


@dataclass(frozen=True)
class _Request:
    """Everything a measurement depends on; `payload()` is what the cache key hashes."""
    model: str
    input_size: tuple[int, int, int] | None
    policy: PrecisionPolicy
    plan: PrunePlan
    checkpoint: str | None
    checkpoint_sha256: str | None
    calibration: str | None
    calibration_id: str
    samples: int
    seed: int
    evaluator: str | None

    def payload(self) -> dict:
        return {"version": FIDELITY_VERSION, "model": self.model, "input_size": self.input_size,
                "checkpoint_sha256": self.checkpoint_sha256, "calibration": self.calibration_id,
                "seed": self.seed, "precision": self.policy.spec, "pruning": self.plan.to_dict(),
                "evaluator": self.evaluator, "evaluator_source": _source_digest(self.evaluator),
                "model_source": _source_digest(self.model), "versions": _library_versions()}


def _source_digest(spec: str | None) -> str | None:
    """sha256 of the file behind `pkg.module:function`, so editing an evaluator or model invalidates."""
    if not spec or ":" not in spec:
        return None
    from codesign.boundary.user_code import source_file
    from codesign.fidelity.inputs import file_sha256

    origin = source_file(spec)
    return file_sha256(origin) if origin else None


def _library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for name in ("torch", "timm"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _measure(req: _Request, graph: Graph | None, key: str) -> FidelityResult:
    import torch

    from codesign.fidelity.compress import Compressor, head_mask, mlp_mask, quantizable_layers
    from codesign.fidelity.inputs import calibration_batch
    from codesign.fidelity.measure import CHUNK, compare
    from codesign.frontend import extract

    start = time.perf_counter()
    score_fn = _load_evaluator(req.evaluator) if req.evaluator else None
    graph = graph or extract(req.model, input_size=req.input_size)
    float_model = _float_model(req.model, req.seed, req.checkpoint, req.checkpoint_sha256)
    compressed = copy.deepcopy(float_model)
    modules = dict(float_model.named_modules())
    layers = quantizable_layers(compressed, apply_precision(graph, req.policy).ops)
    masks, kept_heads = {}, {}
    widths = {op.name: op.gemm.n for op in graph.ops if op.gemm is not None}
    for choice in head_choices(graph, req.plan):
        if choice.pruned:
            layout = attention_layout(graph, choice.attention)
            kept, masks[layout.proj] = head_mask(modules, choice, layout, widths)
            kept_heads[choice.attention.name] = list(kept)
    for choice in mlp_choices(graph, req.plan):
        _, masks[choice.fc2] = mlp_mask(modules, choice)
    data = calibration_batch(req.calibration, req.samples, req.seed, graph.input_shape[1:], float_model)
    compressor = Compressor(compressed, layers, masks)
    compressor.calibrate(data.split(CHUNK))
    compressor.freeze()
    measured = compare(float_model, compressed, list(layers), data)
    score = measured.cosine_similarity
    if score_fn is not None:
        from codesign.boundary.user_code import call
        with torch.no_grad():
            value = call(score_fn, req.evaluator, "evaluator", compressed, copy.deepcopy(float_model))
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise UserError(f"evaluator {req.evaluator!r} returned {str(value)[:40]} "
                            f"({type(value).__name__}), not a finite number")
        score = float(value)
    sqnr = measured.layer_sqnr_db
    return FidelityResult(model=req.model, precision=req.policy.spec, pruning=req.plan.to_dict(),
                          samples=req.samples, calibration=req.calibration_id,
                          cosine_similarity=measured.cosine_similarity,
                          top1_agreement=measured.top1_agreement,
                          float_top1_classes=measured.float_top1_classes,
                          cross_image_cosine=measured.cross_image_cosine,
                          mean_sqnr_db=sum(sqnr.values()) / max(len(sqnr), 1), layer_sqnr_db=sqnr,
                          kept_heads=kept_heads, quantized_layers=len(layers), evaluator=req.evaluator,
                          score=score, seconds=round(time.perf_counter() - start, 3), cache_key=key)


@functools.lru_cache(maxsize=2)
def _float_model(model: str, seed: int, checkpoint: str | None, checkpoint_sha256: str | None):
    """Built once per process for one (model, seed, checkpoint content); callers must not modify it."""
    from codesign.fidelity.inputs import load_model

    return load_model(model, seed, checkpoint)


def _load_evaluator(spec: str):
    from codesign.boundary.user_code import resolve

    function = resolve(spec, "evaluator")
    if not callable(function):
        raise UserError(f"evaluator {spec!r} is a {type(function).__name__}, not a function")
    return function


__all__ = ["FidelityResult", "evaluate"]
