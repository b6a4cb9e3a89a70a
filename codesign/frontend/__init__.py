"""Frontend: a timm name or `pkg.module:factory` -> torch.export on the meta device -> IR Graph.

No weights are initialised or needed; shapes come from fake tensors, names from module paths.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings

from codesign.errors import ExportFailed
from codesign.progress import step
from accel_sim.inputs.numbers import check_macs
from codesign.frontend.models import (build_model, check_batch, check_model_name, default_input_size,
                                      parse_input_size, timm_model_names)
from codesign.ir import Graph

__all__ = ["extract", "build_model", "check_model_name", "parse_input_size", "timm_model_names"]


def extract(model: str, input_size: tuple[int, int, int] | str | None = None, batch: int = 1) -> Graph:
    """The IR Graph of `model` at `batch` x `input_size` (C, H, W; the model's default if None)."""
    import torch

    from codesign.frontend.lower import lower

    if isinstance(input_size, str) or input_size is None:
        input_size = parse_input_size(input_size)
    else:
        input_size = parse_input_size(",".join(str(v) for v in input_size))
    batch = check_batch(batch)
    module = build_model(model)  # fresh every time: some models cache tensors on the module
    size = input_size or default_input_size(module)
    example = torch.empty((batch, *size), device="meta")
    try:
        with step(f"extracting {model}"), _quiet_torch():
            exported = torch.export.export(module, (example,), strict=False)
    except Exception as exc:  # torch raises many types; the user needs the module and the reason
        raise ExportFailed(_export_failure(model, module, exc)) from None
    params = sum(p.numel() for p in module.parameters())
    graph = lower(exported, model, (batch, *size), params)
    check_macs(sum(op.macs for op in graph.ops), f"{model} at batch {batch} x {size}")
    return graph


def _export_failure(model: str, module, exc: BaseException) -> str:
    """Name the innermost module of `model` whose forward was running when export failed."""
    names = {id(m): name for name, m in module.named_modules()}
    failing = None
    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if id(owner) in names:
            failing = names[id(owner)] or "<root>"
        tb = tb.tb_next
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    where = f" in module {failing!r}" if failing else ""
    return f"cannot export {model}{where}: {type(exc).__name__}: {reason}"[:400]


@contextlib.contextmanager
def _quiet_torch():
    """Keep torch's export chatter off stderr: failures are reported once, as one line."""
    names = [n for n in logging.Logger.manager.loggerDict if n == "torch" or n.startswith("torch.")]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            # levit/efficientformer cache biases on the module (harmless); failures print graphs
            warnings.filterwarnings("ignore", message=".*assigned during export.*")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
