"""QONNX's Quant and BipolarQuant as torch custom ops, and their translation for torch.onnx.export (dynamo).

Semantics as fastmachinelearning/qonnx docs/qonnx-custom-ops/quant_op.md: x/scale clamped to the grid, rounded, x scale.
"""
from __future__ import annotations

import torch

DOMAIN = "qonnx.custom_op.general"    # the domain qonnx's executor looks its custom ops up in
ROUNDING = "ROUND"    # half to even: qonnx runs it as numpy.round (custom_op/general/intquant.py), as torch.round


@torch.library.custom_op("codesign::qonnx_quant", mutates_args=())
def quant(x: torch.Tensor, scale: torch.Tensor, bits: int, signed: bool, narrow: bool) -> torch.Tensor:
    """Zero-point 0 integer quantisation: [-(2^(b-1)) + narrow, 2^(b-1)-1] signed, [0, 2^b-1-narrow] unsigned."""
    low = -(2 ** (bits - 1)) + int(narrow) if signed else 0
    high = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1 - int(narrow)
    return (x / scale).clamp(low, high).round() * scale


@quant.register_fake
def _(x, scale, bits, signed, narrow):
    return torch.empty_like(x)


@torch.library.custom_op("codesign::qonnx_bipolar_quant", mutates_args=())
def bipolar_quant(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """+-1 (x >= 0 gives +1) times scale."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype) * scale


@bipolar_quant.register_fake
def _(x, scale):
    return torch.empty_like(x)


def translation_table() -> dict:
    """The custom ops -> onnxscript functions emitting QONNX nodes (torch.onnx.export's custom_translation_table)."""
    from onnxscript import opset18 as op
    from onnxscript.values import Opset

    _register_schemas()
    qonnx = Opset(DOMAIN, 1)

    def quant_node(x, scale, bits: int, signed: bool, narrow: bool):
        zeropoint = op.Constant(value_float=0.0)
        bitwidth = op.Constant(value_float=float(bits))
        return qonnx.Quant(x, scale, zeropoint, bitwidth, signed=int(signed), narrow=int(narrow),
                           rounding_mode=ROUNDING)

    def bipolar_node(x, scale):
        return qonnx.BipolarQuant(x, scale)

    return {torch.ops.codesign.qonnx_quant.default: quant_node,
            torch.ops.codesign.qonnx_bipolar_quant.default: bipolar_node}


def _register_schemas() -> None:
    """onnxscript builds a node only for an op with a schema: Quant's and BipolarQuant's, once per process."""
    from onnx import defs
    from onnx.defs import OpSchema

    def parameter(name: str) -> OpSchema.FormalParameter:
        return OpSchema.FormalParameter(name, "T")

    def register(name: str, inputs: tuple[str, ...], attributes: tuple[tuple[str, object], ...]) -> None:
        if defs.has(name, DOMAIN):
            return
        defs.register_schema(OpSchema(
            name, DOMAIN, 1, inputs=[parameter(i) for i in inputs], outputs=[parameter("y")],
            type_constraints=[("T", ["tensor(float)"], "float tensors")],
            attributes=[OpSchema.Attribute(a, kind, "") for a, kind in attributes]))

    register("Quant", ("x", "scale", "zeropt", "bitwidth"),
             (("signed", OpSchema.AttrType.INT), ("narrow", OpSchema.AttrType.INT),
              ("rounding_mode", OpSchema.AttrType.STRING)))
    register("BipolarQuant", ("x", "scale"), ())
