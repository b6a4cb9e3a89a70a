"""A compressed design point as a QONNX file: the fidelity path's fake-quantised torch model, pruned heads and MLP
units removed, exported by torch.onnx (dynamo) with every active quantiser as a QONNX Quant node (docs/qonnx.md).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import os
import time
from dataclasses import asdict, dataclass

import torch

from codesign.errors import UserError
from codesign.fidelity.compress import Compressor, attention_sites, quantizable_layers, vector_sites
from codesign.fidelity.qonnx_check import Agreement, agreement
from codesign.fidelity.qonnx_ops import bipolar_quant, quant, translation_table
from codesign.fidelity.quantizers import WeightQuant, weight_scale
from codesign.fidelity.shrink import remove_heads, remove_units
from codesign.transforms import (Compression, PrecisionPolicy, PrunePlan, apply_precision, attention_layout,
                                 attentions, head_choices, mlp_choices)

# torch 2.13's exporter writes its ops at opset 18 (TORCHLIB_OPSET in torch/onnx/_internal/exporter/_constants.py),
# so nothing is version-converted; GELU is then spelled with Erf, which readers of older opsets know (Gelu is 20)
OPSET = 18
SAMPLES = 16    # calibration images of a model without labelled data: codesign.fidelity.evaluate's default

# Why this route: the model exported is the fidelity path's own (codesign.fidelity.compress), so the file cannot
# drift from what fidelity measures; while exporting, each quantiser calls a torch custom op (qonnx_ops) that the
# maintained exporter translates into a QONNX node, so no ONNX graph is edited by hand and the TorchScript
# exporter (deprecated since torch 2.9) is not needed.


@dataclass
class CompressedModel:
    """The torch side of an export: the physically pruned, fake-quantised model, with the quantisers of the
    fidelity path's model calibrated as fidelity calibrates them."""
    module: torch.nn.Module
    compressor: Compressor
    measured: torch.nn.Module             # the fidelity path's model it equals: full matrices, pruned inputs masked
    model: str
    input_shape: tuple[int, ...]          # (1, C, H, W): the exported graph's input
    compression: Compression
    kept_heads: dict[str, list[int]]      # attention -> kept head indices (pruned attentions only)
    kept_units: dict[str, list[int]]      # MLP fc1 -> kept hidden units (pruned MLPs only)
    importance: str | None                # how heads and units were ranked: "taylor" or "l1"
    calibration: str                      # what the activation ranges saw (as FidelityResult.calibration)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.module(images)


@dataclass(frozen=True)
class QonnxExport:
    """What `write_qonnx` wrote: the file, the design point, and the QONNX nodes in it."""
    path: str
    model: str
    input_shape: list
    compression: dict                     # Compression.to_dict()
    kept_heads: dict
    kept_units: dict                      # MLP fc1 -> how many hidden units are kept
    importance: str | None
    calibration: str
    quant_nodes: dict                     # "w4", "a8", "w1", ...: count of Quant / BipolarQuant nodes
    nodes: int
    export_s: float
    agreement: Agreement | None = None    # with a check: the file run by qonnx against the torch model

    def to_dict(self) -> dict:
        return {**asdict(self), "agreement": self.agreement.to_dict() if self.agreement else None}


def export_design(model: str, compression: Compression, path: str, *, check: int = 0, seed: int = 0,
                  **options) -> QonnxExport:
    """`compressed_model(model, compression, seed=seed, **options)` written to `path`; with `check` > 0, the
    file is then run by qonnx on that many images and compared with the torch model (`.agreement`)."""
    from codesign.progress import step

    compressed = compressed_model(model, compression, seed=seed, **options)
    written = write_qonnx(compressed, path)
    if check:
        with step(f"running {path} with qonnx on {check} images"):
            written = dataclasses.replace(written, agreement=agreement(compressed, path, check, seed))
    return written


def compressed_model(model: str, compression: Compression | None = None, *, input_size=None,
                     checkpoint: str | None = None, calibration: str | None = None, samples: int | None = None,
                     seed: int = 0, verify_ir: bool | None = None) -> CompressedModel:
    """`model` compressed as `codesign.fidelity.evaluate` compresses it, pruned units removed.

    Weights: a reference model's own, else `checkpoint`, else timm's init under `seed`. Pruned heads and
    units are ranked as fidelity ranks them (taylor on a reference model's labelled calibration split,
    else l1). Activation ranges are calibrated on that split, else on `samples` images (default SAMPLES;
    seeded noise, or the files in `calibration`). The shrunk layers are checked against the pruned IR (its
    passes verified with `verify_ir` as in `Compression.apply`).
    """
    from codesign.fidelity import _pruning
    from codesign.fidelity.inputs import calibration_batch, calibration_digest, load_model
    from codesign.fidelity.measure import CHUNK
    from codesign.fidelity.reference import reference_split
    from codesign.fidelity.train import EVAL_BATCH, deterministic_cpu
    from codesign.frontend import extract
    from codesign.frontend.reference import reference_model

    compression = compression or Compression()
    ref = reference_model(model)
    for flag, value in (("--calibration", calibration), ("--samples", samples)):
        if ref is not None and value is not None:
            raise UserError(f"{flag} is for models without labelled data; {model} is calibrated on its data set's "
                            "calibration split")
    deterministic_cpu()
    graph = extract(model, input_size=input_size)
    float_model = load_model(model, seed, checkpoint if checkpoint is not None or ref is None else ref.weights_path)
    split = reference_split(ref) if ref is not None else None
    plan = compression.pruning or PrunePlan()
    if plan.importance == "taylor" and split is None:
        raise UserError("--prune-importance taylor needs labelled data (a reference model)")
    masks, kept_heads, importance = _pruning(graph, plan, float_model, split)
    ops = apply_precision(graph, compression.precision or PrecisionPolicy()).ops
    measured = copy.deepcopy(float_model)          # the fidelity path's model: pruned inputs masked
    reference = Compressor(measured, quantizable_layers(measured, ops), masks, vector=vector_sites(measured, ops),
                           attention=attention_sites(measured, ops, attentions(graph)))
    if split is not None:
        reference.calibrate(split.calibration.images.split(EVAL_BATCH))
        source = "split:calibration"
    else:
        samples = samples or SAMPLES
        reference.calibrate(calibration_batch(calibration, samples, seed, graph.input_shape[1:],
                                              float_model).split(CHUNK))
        source = calibration_digest(calibration, samples, seed)
    reference.freeze()
    module, rows, kept_units = copy.deepcopy(float_model), {}, {}
    for choice in head_choices(graph, plan):
        if choice.pruned:
            rows.update(remove_heads(module, attention_layout(graph, choice.attention),
                                     kept_heads[choice.attention.name]))
    for choice in mlp_choices(graph, plan):
        kept_units[choice.fc1] = masks[choice.fc2].nonzero().flatten().tolist()
        rows.update(remove_units(module, choice, kept_units[choice.fc1]))
    compressor = Compressor(module, quantizable_layers(module, ops), {}, vector=vector_sites(module, ops),
                            attention=attention_sites(module, ops, attentions(graph)))
    _adopt(compressor, reference, float_model, rows)
    _check_shapes(module, Compression(pruning=compression.pruning).apply(graph, verify_ir))   # precision: above
    module.eval()
    return CompressedModel(module, compressor, measured.eval(), model, (1, *graph.input_shape[1:]), compression,
                           kept_heads, kept_units, importance, source)


def _adopt(compressor: Compressor, reference: Compressor, float_model, rows: dict[str, torch.Tensor]) -> None:
    """Give the shrunk model the measured model's quantisers: every activation site's calibrated grid (the sites
    are made in the same order), and every layer's weight steps as its full rows chose them, so that the two
    compute the same function (a layer that lost columns keeps the steps its pruned columns took part in)."""
    for mine, theirs in zip(compressor.quants, reference.quants, strict=True):
        mine.calibrating, mine.low, mine.high, mine.scale = False, theirs.low, theirs.high, theirs.scale
    modules = dict(float_model.named_modules())
    for name, (w_bits, _) in compressor.bits.items():
        if w_bits < 16:
            scale = weight_scale(modules[name].weight.detach(), w_bits)
            chain = compressor.model.get_submodule(name).parametrizations.weight
            chain[0] = WeightQuant(w_bits, scale[rows[name]] if name in rows else scale)


def _check_shapes(module: torch.nn.Module, pruned) -> None:
    """Every linear layer of the shrunk model has the GEMM shape of the compressed IR's op (out = n, in = k)."""
    from codesign.ir import OpKind

    modules = dict(module.named_modules())
    for op in pruned.ops:
        layer = modules.get(op.name)
        if op.kind is OpKind.LINEAR and isinstance(layer, torch.nn.Linear) and \
                tuple(layer.weight.shape) != (op.gemm.n, op.gemm.k):
            raise RuntimeError(f"the shrunk {op.name} is {tuple(layer.weight.shape)}, the pruned IR's op "
                               f"{(op.gemm.n, op.gemm.k)}: pruning on the model and on the IR disagree")


def write_qonnx(compressed: CompressedModel, path: str) -> QonnxExport:
    """Export `compressed` to `path` as QONNX (opset OPSET plus the qonnx.custom_op.general domain),
    cleaned with qonnx's own transforms (shape inference, constant folding that keeps the Quant nodes)."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    from codesign.boundary.outputs import check_output_file
    from codesign.progress import step

    check_output_file(path, "-o")
    start = time.perf_counter()
    with step(f"exporting {compressed.model} to QONNX"), _quiet_exporter(), _as_qonnx_nodes(compressed.compressor):
        program = torch.onnx.export(compressed.module, (torch.zeros(compressed.input_shape),), dynamo=True,
                                    opset_version=OPSET, custom_translation_table=translation_table(),
                                    optimize=True, verbose=False, input_names=["image"], output_names=["logits"])
    wrapper = _cleaned(ModelWrapper(program.model_proto))
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        onnx.save(wrapper.model, path)
    except OSError as exc:
        raise UserError(f"-o {path!r}: cannot write there ({exc.strerror or exc})") from None
    counts: dict[str, int] = {}
    for node in wrapper.graph.node:
        if node.op_type in ("Quant", "BipolarQuant"):
            key = ("w" if wrapper.get_initializer(node.input[0]) is not None else "a") + (
                str(int(wrapper.get_initializer(node.input[3]))) if node.op_type == "Quant" else "1")
            counts[key] = counts.get(key, 0) + 1
    return QonnxExport(path=path, model=compressed.model, input_shape=list(compressed.input_shape),
                       compression=compressed.compression.to_dict(), kept_heads=compressed.kept_heads,
                       kept_units={k: len(v) for k, v in compressed.kept_units.items()},
                       importance=compressed.importance, calibration=compressed.calibration,
                       quant_nodes=dict(sorted(counts.items())), nodes=len(wrapper.graph.node),
                       export_s=round(time.perf_counter() - start, 3))


def _cleaned(wrapper):
    """qonnx.util.cleanup's transforms, all but its renaming: weights keep their module paths
    (`blocks.0.attn.qkv.weight`, its per-channel step `...weight_scale`): a layer is found by its torch name."""
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (GiveUniqueNodeNames, GiveUniqueParameterTensors, RemoveStaticGraphInputs,
                                              RemoveUnusedTensors)
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.quant_constant_folding import FoldTransposeIntoQuantInit

    for tensor in [t.name for t in wrapper.graph.initializer]:
        if ".parametrizations.weight." in tensor:
            wrapper.rename_tensor(tensor, tensor.replace(".parametrizations.weight.original", ".weight")
                                  .replace(".parametrizations.weight.0.scale", ".weight_scale"))
    for transform in (InferShapes(), GiveUniqueParameterTensors(),
                      FoldConstants(exclude_op_types=["Quant", "BipolarQuant"]), FoldTransposeIntoQuantInit(),
                      RemoveUnusedTensors(), RemoveStaticGraphInputs(), GiveUniqueNodeNames(), InferShapes()):
        wrapper = wrapper.transform(transform)
    return wrapper


class _WeightNode(torch.nn.Module):
    """A weight parametrisation for export: the layer's float weight through one per-channel QONNX node."""

    def __init__(self, weight: torch.Tensor, quantizer: WeightQuant):
        super().__init__()
        self.bits = quantizer.bits
        scale = quantizer.scale if quantizer.scale is not None else weight_scale(weight, self.bits)
        self.register_buffer("scale", scale.reshape(-1, *[1] * (weight.dim() - 1)))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if self.bits == 1:
            return bipolar_quant(weight, self.scale)
        return quant(weight, self.scale, self.bits, True, True)


def _activation_node(site, x: torch.Tensor) -> torch.Tensor:
    """One calibrated ActQuant as a QONNX node: its per-tensor scale, the signed or unsigned grid it chose."""
    scale = torch.tensor(site.scale, dtype=x.dtype)
    if site.bits == 1:
        return bipolar_quant(x, scale)
    signed = site.low < 0
    return quant(x, scale, site.bits, signed, signed)    # signed: [-(2^(b-1)-1), 2^(b-1)-1]; unsigned: [0, 2^b-1]


@contextlib.contextmanager
def _as_qonnx_nodes(compressor: Compressor):
    """While exporting, every active quantiser calls the QONNX custom ops instead of its own arithmetic."""
    from torch.nn.utils import parametrize

    sites = [q for q in compressor.quants if q.active]
    weights = []
    for name, (w_bits, _) in compressor.bits.items():
        module = compressor.model.get_submodule(name)
        if w_bits < 16 and parametrize.is_parametrized(module, "weight"):
            chain = module.parametrizations.weight
            weights.append((chain, chain[0]))
            chain[0] = _WeightNode(chain.original.detach(), chain[0])
    for site in sites:
        site.quantize = functools.partial(_activation_node, site)
    try:
        yield
    finally:
        for site in sites:
            del site.quantize
        for chain, original in weights:
            chain[0] = original


@contextlib.contextmanager
def _quiet_exporter():
    """torch.onnx prints its steps and logs warnings about optional packages (torchvision); keep stdout ours."""
    import io
    import logging
    import warnings

    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.CRITICAL)   # "torchvision is not installed" is logged as an error
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
