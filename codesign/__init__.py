"""vit-codesign: how fast, how power-hungry and how big a model is on an accelerator.

The Python API mirrors the command line; heavy imports (torch, timm) happen only when needed.
"""
from __future__ import annotations

import os

__version__ = "0.1.0"

# Compression API, imported on first use (codesign.transforms): see `inspect` for the CLI mirror.
_TRANSFORMS = ("Compression", "PrecisionPolicy", "PrunePlan", "apply_precision", "apply_pruning",
               "parse_precision", "parse_prune")


def __getattr__(name: str):
    if name in _TRANSFORMS:
        import codesign.transforms
        return getattr(codesign.transforms, name)
    raise AttributeError(f"module 'codesign' has no attribute {name!r}")


def inspect(model: str, input_size=None, batch: int = 1, precision=None, prune_heads=None,
            prune_mlp: float | str | None = None):
    """The IR `Graph` of a timm model name or `pkg.module:factory` (see `codesign inspect`).

    `precision`, `prune_heads` and `prune_mlp` take what `--precision`, `--prune-heads` and
    `--prune-mlp` take (or a parsed PrecisionPolicy / PrunePlan); pruning is applied first.
    """
    from codesign.boundary import api
    from codesign.frontend import extract

    api.expect("model", model, (str,), "a timm model name or 'pkg.module:factory'", optional=False)
    api.input_size_arg(input_size)
    api.compression_args(precision, prune_heads, prune_mlp)
    from codesign.transforms import Compression

    graph = extract(model, input_size=input_size, batch=api.batch_arg(batch))
    return Compression.of(precision, prune_heads, prune_mlp).apply(graph)


def sweep(space, results: str | None = None, *, samples: int | None = None, seed: int = 0,
          workers: int | None = None, dask: str | None = None, device: str | None = None, quiet: bool = True):
    """Evaluate a design space (YAML path, mapping or DesignSpace) into a results file (see `codesign sweep`).

    Returns a SweepResult (counts, the Pareto front, files written). With workers > 1 the pool is
    spawned: call it under `if __name__ == "__main__":` in a script.
    """
    from codesign.search.sweep import run_sweep
    return run_sweep(space, results, samples=samples, seed=seed, workers=workers, dask=dask, device=device,
                     quiet=quiet)


def co_search(space, trials: int, *, seed: int = 0, storage: str | None = None, study_name: str | None = None,
              target_fps: float | None = None, device: str | None = None, population: int | None = None,
              results: str | None = None, quiet: bool = True):
    """NSGA-II co-search of a design space until the study has `trials` finished trials (see
    `codesign search`). Returns a SearchResult (the front, the study, and with `target_fps` a
    TargetReport)."""
    from codesign.search.study import run_search
    return run_search(space, trials, seed=seed, storage=storage, study_name=study_name, target_fps=target_fps,
                      device=device, population=population, results=results, quiet=quiet)


def simulate(model, accel="zcu102", dataflow: str | None = None, layer_dataflows: dict | None = None,
             input_size=None, batch: int = 1, device=None, precision=None, prune_heads=None, prune_mlp=None,
             mapping: str = "searched", objective: str = "latency", fidelity: bool = False,
             checkpoint: str | None = None, dataset: str | None = None, calibration: str | None = None,
             evaluator: str | None = None, finetune: int = 0, verify_ir: bool | None = None):
    """Simulate a model (timm name, object path, Graph or SCALE-Sim topology CSV) on an accelerator
    (see `codesign simulate`); compression arguments as in `inspect`; `mapping` searched, scalesim
    or hls, `objective` latency, energy or edp. With `fidelity`, the compressed real model is
    measured too (top-1 on labelled data - a reference model's own, or `checkpoint` + `dataset` -
    else the logit-cosine proxy), optionally after `finetune` epochs. `verify_ir` checks the IR
    after each compression pass. Returns a Simulation (`.result`, `.resources`, `.fidelity`)."""
    from accel_sim.loading import load_accelerator
    from codesign.boundary import api
    from codesign.design import DesignPoint
    from codesign.ir import Graph
    from codesign.simulation import FidelityOptions, simulate_design
    from codesign.transforms import Compression

    api.model_arg(model)
    api.accel_arg(accel)
    api.dataflow_args(dataflow, layer_dataflows)
    api.input_size_arg(input_size)
    batch = api.batch_arg(batch)
    api.compression_args(precision, prune_heads, prune_mlp)
    options = FidelityOptions.asked(api.flag_arg("fidelity", fidelity), lambda name: f"{name}=", checkpoint=checkpoint,
                                    dataset=dataset, calibration=calibration, evaluator=evaluator, finetune=finetune)
    graph = model if isinstance(model, Graph) else None
    design = DesignPoint(model=graph.model if graph else os.fspath(model), accelerator=load_accelerator(accel),
                         compression=Compression.of(precision, prune_heads, prune_mlp), device=device,
                         input_size=input_size, batch=batch, dataflow=dataflow,
                         layer_dataflows=tuple((layer_dataflows or {}).items()), mapping=mapping, objective=objective)
    return simulate_design(design, graph=graph, fidelity=options, verify_ir=verify_ir)


def emit_hls(model, accel="zcu102", device=None, precision=None, prune_heads=None, prune_mlp=None,
             layers=None, tb_layers=None, out_dir: str = "out/hls", force: bool = False, dataflow: str | None = None,
             layer_dataflows: dict | None = None, input_size=None, batch: int = 1, seed: int = 0,
             mapping: str = "hls", images: int | None = None, checkpoint: str | None = None,
             dataset: str | None = None):
    """Write the Vitis HLS project of a design point into `out_dir` (see `codesign emit-hls`).

    `model` is a timm name, 'pkg.module:factory' or an IR Graph; `device` defaults to the
    accelerator's name when it is a board; `mapping` "hls" or "searched" names the Schedule whose
    tiles are emitted. With trained weights (a reference model's, or `checkpoint`'s, with labelled
    images from `dataset`) the whole-network testbench runs `images` test images (default 8) and
    the result holds the torch fake-quantised model's top-1 on them. Returns an EmitResult (files
    written, the layer table, the testbench cases; `to_dict()`).
    """
    from accel_sim.loading import load_accelerator
    from codesign.boundary import api
    from codesign.design import DesignPoint
    from codesign.hls.emit import emit_design
    from codesign.ir import Graph
    from codesign.transforms import Compression

    api.expect("model", model, (str, Graph), "a timm model name, 'pkg.module:factory' or a Graph", optional=False)
    api.accel_arg(accel)
    api.dataflow_args(dataflow, layer_dataflows)
    api.compression_args(precision, prune_heads, prune_mlp)
    api.expect("out_dir", out_dir, (str, os.PathLike), "a directory path", optional=False)
    graph = model if isinstance(model, Graph) else None
    accelerator = load_accelerator(accel)
    design = DesignPoint(model=graph.model if graph else model, accelerator=accelerator,
                         compression=Compression.of(precision, prune_heads, prune_mlp),
                         device=device if device is not None else board_of(accelerator), input_size=input_size,
                         batch=api.batch_arg(batch), dataflow=dataflow,
                         layer_dataflows=tuple((layer_dataflows or {}).items()), mapping=mapping)
    return emit_design(design, graph=graph, layers=layers, tb_layers=tb_layers, out_dir=out_dir, force=force,
                       seed=seed, images=images, checkpoint=checkpoint, dataset=dataset)


def export_qonnx(model: str, out: str, precision=None, prune_heads=None, prune_mlp=None, *, input_size=None,
                 checkpoint: str | None = None, calibration: str | None = None, samples: int | None = None,
                 seed: int = 0, check: int = 0, verify_ir: bool | None = None):
    """Write `model` compressed (compression arguments as in `inspect`) as a QONNX file `out` (see `codesign
    export-qonnx`): the fidelity path's fake-quantised model, every quantiser a Quant node, pruned heads and
    MLP units removed. Weights, calibration and ranking as `simulate(..., fidelity=True)`. With `check` > 0,
    the file is run by qonnx on that many images against the torch model. `verify_ir` checks the IR after
    each compression pass. Returns a QonnxExport (`.agreement` with a check; `to_dict()`)."""
    from accel_sim.inputs import LIMITS, check_int
    from codesign.boundary import api
    from codesign.boundary.outputs import check_output_file
    from codesign.transforms import Compression

    api.expect("model", model, (str,), "a timm model name, a reference model or 'pkg.module:factory'",
               optional=False)
    api.expect("out", out, (str, os.PathLike), "a file path", optional=False)
    check_output_file(out, "-o")          # before torch is imported: a bad path fails at once
    api.input_size_arg(input_size)
    api.compression_args(precision, prune_heads, prune_mlp)
    api.expect("checkpoint", checkpoint, (str, os.PathLike), "a weights file path")
    api.expect("calibration", calibration, (str, os.PathLike), "a directory of images")
    if samples is not None:
        check_int(samples, "samples")
    check_int(seed, "seed")
    if check:
        check_int(check, "check", maximum=LIMITS["samples"].high)
    from codesign.fidelity.qonnx_export import export_design
    return export_design(model, Compression.of(precision, prune_heads, prune_mlp), os.fspath(out),
                         check=check, seed=seed, input_size=input_size,
                         checkpoint=os.fspath(checkpoint) if checkpoint is not None else None,
                         calibration=os.fspath(calibration) if calibration is not None else None, samples=samples,
                         verify_ir=verify_ir)


def board_of(accel) -> str | None:
    """The board an accelerator is named after (zcu102, u250, ...), or None."""
    from accel_sim.devices import get_device
    from accel_sim.errors import UserError

    try:
        return get_device(accel.name).name
    except UserError:
        return None


__all__ = ["inspect", "simulate", "sweep", "co_search", "emit_hls", "export_qonnx", "__version__", *_TRANSFORMS]
