"""Model fidelity under compression: the IR's precision and pruning choices run on the real torch model.

`evaluate(...)` measures top-1 accuracy on labelled data (or a proxy without it), cached on disk.
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
from codesign.transforms import (PrecisionPolicy, PrunePlan, apply_precision, attention_layout, attentions,
                                 head_choices, mlp_choices, parse_precision, parse_prune)

FIDELITY_VERSION = 2      # bump when the measurement changes, so that old cache entries are not reused
# recovery fine-tuning (AdamW, cosine schedule): half the reference ViT's training rate, no decay; on it,
# w1a8 recovers from 23 % to 91 % test top-1 in one epoch (docs/fidelity.md has the table)
FINETUNE = {"lr": 5e-4, "batch": 64, "weight_decay": 0.0}
RANDOM_WEIGHTS_NOTE = ("no accuracy: {model} has random weights (give a reference model, or --checkpoint "
                       "with a labelled --dataset); fidelity is the cosine-of-logits proxy")


@dataclass(frozen=True)
class FidelityResult:
    """How well the compressed model does. `score` is what a search maximises: top-1 accuracy on the
    test split when the model has trained weights and labelled data, else the user evaluator's value
    if one was given, else the cosine proxy (`metric` says which)."""
    model: str
    precision: str                    # canonical precision spec
    pruning: dict                     # PrunePlan.to_dict()
    metric: str                       # "top1", "evaluator" or "cosine": what `score` is
    top1: float | None                # top-1 accuracy of the compressed model on the test split
    top1_ci95: list | None            # its 95 % Wilson interval [low, high]
    float_top1: float | None          # the float model's top-1 on the same images
    float_top1_ci95: list | None
    test_images: int | None
    dataset: str | None               # "mnist5k" (bundled) or the user's folder / .npz, with its digest
    importance: str | None            # how pruned heads and units were ranked: "taylor" or "l1"
    finetune_epochs: int              # recovery fine-tuning epochs on the train split (0: none)
    ranges: str                       # activation range method: "mse", "percentile" or "max"
    samples: int                      # images compared (the test split, or the random batch)
    calibration: str                  # "split:calibration", "random:samples=N:seed=S" or "images:<sha256>"
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
    note: str | None                  # why there is no accuracy, when there is none
    seconds: float                    # wall time of the measurement (not of a cache hit)
    cache_key: str
    from_cache: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def evaluate(model: str, precision: PrecisionPolicy | str | None = None,
             pruning: PrunePlan | str | None = None, *, input_size: tuple[int, int, int] | None = None,
             checkpoint: str | None = None, dataset: str | None = None, calibration: str | None = None,
             samples: int = 16, seed: int = 0, evaluator: str | None = None, finetune: int = 0,
             ranges: str = "mse", cache_dir: str | None = None, use_cache: bool = True,
             graph: Graph | None = None) -> FidelityResult:
    """Fidelity of `model` (reference model, timm name or pkg.module:factory) under `precision` and `pruning`.

    precision: a PrecisionPolicy or its spec (None: the IR default, w16a16 everywhere).
    pruning: a PrunePlan or a `--prune-heads` spec.
    Weights: a reference model's own; else `checkpoint` (.pt/.pth via torch.load(weights_only=True) or
    .safetensors); else timm's init under `seed` (random: no accuracy, see RANDOM_WEIGHTS_NOTE).
    Labelled data: a reference model's bundled set, or `dataset` (a folder of class subfolders or an
    .npz of images and labels, split 70/10/20 into train / calibration / test). With it, ranges are
    calibrated on the calibration split and top-1 is measured on the test split; without it,
    `samples` images (seeded noise, or the image files in `calibration`) are compared.
    finetune: epochs of straight-through fine-tuning of the compressed model on the train split.
    ranges: activation ranges by "mse", "percentile" or "max" (see codesign.fidelity.quantizers).
    evaluator: 'pkg.module:function' called as function(compressed_model, float_model) -> float.
    graph: the model's uncompressed IR if the caller has it already (saves an extraction).
    Cached under `cache_dir` (default $CODESIGN_CACHE_DIR/fidelity or ~/.cache/vit-codesign/fidelity).
    """
    request = _request(model, precision, pruning, input_size=input_size, checkpoint=checkpoint, dataset=dataset,
                       calibration=calibration, samples=samples, seed=seed, evaluator=evaluator, finetune=finetune,
                       ranges=ranges, graph=graph)
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
    dataset: str | None
    dataset_id: str | None
    calibration: str | None
    calibration_id: str
    samples: int
    seed: int
    evaluator: str | None
    finetune: int
    ranges: str

    def payload(self) -> dict:
        return {"version": FIDELITY_VERSION, "model": self.model, "input_size": self.input_size,
                "checkpoint_sha256": self.checkpoint_sha256, "dataset": self.dataset_id,
                "calibration": self.calibration_id, "seed": self.seed, "precision": self.policy.spec,
                "pruning": self.plan.to_dict(), "finetune": self.finetune, "finetune_settings": FINETUNE,
                "ranges": self.ranges, "evaluator": self.evaluator,
                "evaluator_source": _source_digest(self.evaluator),
                "model_source": _source_digest(self.model), "versions": _library_versions()}


def _request(model: str, precision, pruning, *, input_size, checkpoint, dataset, calibration, samples: int,
             seed: int, evaluator, finetune: int, ranges: str, graph: Graph | None) -> _Request:
    """The arguments of `evaluate` checked (one-line UserErrors) and resolved into a _Request."""
    from codesign.fidelity.quantizers import RANGE_METHODS
    from codesign.frontend.reference import reference_model

    policy = precision if isinstance(precision, PrecisionPolicy) else (
        parse_precision(precision) if precision is not None else PrecisionPolicy())
    plan = pruning if isinstance(pruning, PrunePlan) else (
        parse_prune(pruning) if pruning is not None else PrunePlan())
    check_int(samples, "fidelity samples")
    check_int(finetune, "--finetune")
    if ranges not in RANGE_METHODS:
        raise UserError(f"activation ranges {ranges!r} is not valid; give one of {', '.join(RANGE_METHODS)}")
    ref = reference_model(model)
    if ref is not None and checkpoint is None:
        checkpoint = ref.weights_path
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise UserError(f"checkpoint {checkpoint!r} does not exist")
    if dataset is not None and checkpoint is None:
        raise UserError(f"--dataset needs --checkpoint: {model} with random weights has no accuracy to measure")
    if graph is not None and (graph.model != model
                              or (input_size and graph.input_shape[1:] != tuple(input_size))):
        raise UserError(f"the graph given is of {graph.model} at {graph.input_shape[1:]}, not of {model}")
    from codesign.fidelity.inputs import calibration_digest, dataset_digest, file_sha256

    data_id = dataset_digest(dataset) if dataset is not None else (
        f"bundled:{ref.dataset}" if ref is not None else None)
    if finetune and data_id is None:
        raise UserError(f"--finetune needs labelled data: {model} has random weights and no --dataset")
    if data_id is not None and calibration is not None:
        raise UserError("--calibration is for models without labelled data; with labels the ranges are "
                        "calibrated on the data set's calibration split")
    if plan.importance == "taylor" and data_id is None:
        raise UserError("--prune-importance taylor needs labelled data (a reference model, or --dataset)")
    return _Request(model=model, input_size=tuple(input_size) if input_size else None, policy=policy,
                    plan=plan, checkpoint=checkpoint, checkpoint_sha256=file_sha256(checkpoint) if checkpoint else None,
                    dataset=dataset, dataset_id=data_id, calibration=calibration,
                    calibration_id="split:calibration" if data_id else calibration_digest(calibration, samples, seed),
                    samples=samples, seed=seed, evaluator=evaluator, finetune=finetune, ranges=ranges)


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
    for name in ("torch", "timm", "mlxtend"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@dataclass
class Compressed:
    """A request's models: the float one and its compressed copy (quantisers calibrated and frozen,
    masks in place, weights still parametrised), the labelled split or the calibration batch."""
    float_model: object
    model: object
    compressor: object
    layers: dict                      # quantised layer -> (w_bits, a_bits)
    split: object | None              # codesign.fidelity.datasets.Split, when there are labels
    data: object | None               # the calibration batch, when there are none
    masks: dict
    kept_heads: dict
    importance: str | None


def _compress(req: _Request, graph: Graph) -> Compressed:
    from codesign.fidelity.compress import Compressor, attention_sites, quantizable_layers, vector_sites
    from codesign.fidelity.inputs import calibration_batch
    from codesign.fidelity.measure import CHUNK
    from codesign.fidelity.train import EVAL_BATCH, deterministic_cpu

    deterministic_cpu()
    float_model = _float_model(req.model, req.seed, req.checkpoint, req.checkpoint_sha256)
    split = _split(req.model, req.dataset, graph.input_shape[1:]) if req.dataset_id else None
    compressed = copy.deepcopy(float_model)
    ops = apply_precision(graph, req.policy).ops
    layers = quantizable_layers(compressed, ops)
    masks, kept_heads, importance = _pruning(graph, req.plan, float_model, split)
    compressor = Compressor(compressed, layers, masks, vector=vector_sites(compressed, ops),
                            attention=attention_sites(compressed, ops, attentions(graph)), method=req.ranges)
    data = None
    if split is not None:
        compressor.calibrate(split.calibration.images.split(EVAL_BATCH))
    else:
        data = calibration_batch(req.calibration, req.samples, req.seed, graph.input_shape[1:], float_model)
        compressor.calibrate(data.split(CHUNK))
    compressor.freeze()
    return Compressed(float_model, compressed, compressor, layers, split, data, masks, kept_heads, importance)


def compressed_model(model: str, precision: PrecisionPolicy | str | None = None,
                     pruning: PrunePlan | str | None = None, *, checkpoint: str | None = None,
                     dataset: str | None = None, samples: int = 16, seed: int = 0, ranges: str = "mse",
                     graph: Graph | None = None) -> Compressed:
    """The torch fake-quantised model `evaluate` measures (same weights, data, calibration and
    quantisers; no fine-tuning), its weights baked, in eval mode; for the emitted HLS's testbench."""
    from codesign.frontend import extract

    req = _request(model, precision, pruning, input_size=graph.input_shape[1:] if graph else None,
                   checkpoint=checkpoint, dataset=dataset, calibration=None, samples=samples, seed=seed,
                   evaluator=None, finetune=0, ranges=ranges, graph=graph)
    out = _compress(req, graph or extract(model))
    out.compressor.bake()
    out.model.eval()
    return out


def _measure(req: _Request, graph: Graph | None, key: str) -> FidelityResult:
    import torch

    from codesign.fidelity.accuracy import binomial_interval
    from codesign.fidelity.measure import compare
    from codesign.fidelity.train import EVAL_BATCH, fit
    from codesign.frontend import extract

    start = time.perf_counter()
    score_fn = _load_evaluator(req.evaluator) if req.evaluator else None
    graph = graph or extract(req.model, input_size=req.input_size)
    c = _compress(req, graph)
    float_model, compressed, compressor, layers, split, data = c.float_model, c.model, c.compressor, c.layers, \
        c.split, c.data
    masks, kept_heads, importance = c.masks, c.kept_heads, c.importance
    finetune = req.finetune if (masks or compressor.compresses) else 0   # nothing to recover from
    if finetune:
        fit(compressed, split.train, epochs=finetune, seed=req.seed, label="fine-tuning", **FINETUNE)
    compressor.bake()
    compressed.eval()
    if split is not None:
        measured = compare(float_model, compressed, list(layers), split.test.images, split.test.labels,
                           chunk=EVAL_BATCH)
    else:
        measured = compare(float_model, compressed, list(layers), data)
    top = {"top1": None, "top1_ci95": None, "float_top1": None, "float_top1_ci95": None, "test_images": None}
    metric, score, note = "cosine", measured.cosine_similarity, None
    if split is not None:
        n = len(split.test)
        top = {"top1": measured.correct / n, "top1_ci95": list(binomial_interval(measured.correct, n)),
               "float_top1": measured.float_correct / n,
               "float_top1_ci95": list(binomial_interval(measured.float_correct, n)), "test_images": n}
        metric, score = "top1", top["top1"]
    elif score_fn is None:
        note = RANDOM_WEIGHTS_NOTE.format(model=req.model) if req.checkpoint is None else \
            f"no accuracy: no labelled --dataset for {req.model}; fidelity is the cosine-of-logits proxy"
    if score_fn is not None:
        from codesign.boundary.user_code import call
        with torch.no_grad():
            value = call(score_fn, req.evaluator, "evaluator", compressed, copy.deepcopy(float_model))
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise UserError(f"evaluator {req.evaluator!r} returned {str(value)[:40]} "
                            f"({type(value).__name__}), not a finite number")
        metric, score = "evaluator", float(value)
    sqnr = measured.layer_sqnr_db
    return FidelityResult(model=req.model, precision=req.policy.spec, pruning=req.plan.to_dict(), metric=metric,
                          **top, dataset=req.dataset_id, importance=importance, finetune_epochs=finetune,
                          ranges=req.ranges, samples=len(split.test) if split is not None else req.samples,
                          calibration=req.calibration_id,
                          cosine_similarity=measured.cosine_similarity,
                          top1_agreement=measured.top1_agreement,
                          float_top1_classes=measured.float_top1_classes,
                          cross_image_cosine=measured.cross_image_cosine,
                          mean_sqnr_db=sum(sqnr.values()) / max(len(sqnr), 1), layer_sqnr_db=sqnr,
                          kept_heads=kept_heads, quantized_layers=len(layers), evaluator=req.evaluator,
                          score=score, note=note, seconds=round(time.perf_counter() - start, 3), cache_key=key)


def _pruning(graph: Graph, plan: PrunePlan, float_model, split):
    """Masks on the output projections' and fc2s' inputs, the kept heads, and the importance used."""
    from codesign.fidelity.compress import head_mask, mlp_mask

    pruned_heads = [c for c in head_choices(graph, plan) if c.pruned]
    mlps = mlp_choices(graph, plan)
    if not (pruned_heads or mlps):
        return {}, {}, None
    importance = plan.importance or ("taylor" if split is not None else "l1")
    layouts = {c.attention.name: attention_layout(graph, c.attention) for c in pruned_heads}
    scores = {}
    if importance == "taylor":
        from codesign.fidelity.importance import taylor_scores
        groups = {layouts[c.attention.name].proj: c.attention.value_dim for c in pruned_heads}
        groups.update({c.fc2: 1 for c in mlps})
        scores = taylor_scores(float_model, groups, split.calibration)
    modules = dict(float_model.named_modules())
    widths = {op.name: op.gemm.n for op in graph.ops if op.gemm is not None}
    masks, kept_heads = {}, {}
    for choice in pruned_heads:
        layout = layouts[choice.attention.name]
        kept, masks[layout.proj] = head_mask(modules, choice, layout, widths, scores.get(layout.proj))
        kept_heads[choice.attention.name] = list(kept)
    for choice in mlps:
        _, masks[choice.fc2] = mlp_mask(modules, choice, scores.get(choice.fc2))
    return masks, kept_heads, importance


@functools.lru_cache(maxsize=2)
def _split(model: str, dataset: str | None, input_size: tuple[int, int, int]):
    """The labelled split for `model`: its bundled set, or the user's `dataset` (read once per process)."""
    from codesign.fidelity.datasets import bundled, load_dataset
    from codesign.frontend.reference import reference_model

    ref = reference_model(model)
    if dataset is None:
        return bundled(ref.dataset, ref.mean, ref.std)
    from codesign.frontend import build_model
    from codesign.frontend.torchvision_compat import import_timm

    cfg = getattr(build_model(model), "pretrained_cfg", None) or {}
    timm_data = import_timm().data   # models without statistics get timm's ImageNet ones
    return load_dataset(dataset, tuple(input_size), cfg.get("mean", timm_data.IMAGENET_DEFAULT_MEAN),
                        cfg.get("std", timm_data.IMAGENET_DEFAULT_STD))


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


__all__ = ["Compressed", "FidelityResult", "compressed_model", "evaluate"]
