"""A DesignPoint (codesign/design.py) -> a Vitis HLS project directory: generated headers, the
hand-written kernel library, testbench, Tcl, README. `codesign.emit_hls` builds the point."""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from accel_sim.config import Accelerator
from accel_sim.cost_model import ORDERS
from accel_sim.loading import load_accelerator
from accel_sim.devices import Device, get_device
from codesign.design import DesignPoint
from codesign.errors import UserError
from codesign.hls import golden
from codesign.hls.descriptors import FIELDS, LayerTable, build_table
from codesign.hls.network import NetworkData, reference
from codesign.hls.support import check_exp_impl, check_supported, fold_batchnorm
from codesign.hls.tbdata import TbCase, make_case
from codesign.hls.writer import ProjectWriter
from codesign.ir import Graph
from codesign.transforms import PrunePlan

LIB_FILES = ("cs_base.h", "cs_pack.h", "cs_dram.h", "cs_pe_array.h", "cs_buffers.h", "cs_gemm.h",
             "cs_vector_unit.h")


@dataclass
class EmitResult:
    """What was written where, and the design point it was written for."""
    out_dir: str
    files: list
    design: dict
    table: LayerTable = field(repr=False)
    cases: list = field(repr=False)
    network: NetworkData | None = field(default=None, repr=False)   # the whole-network testbench's data

    def to_dict(self) -> dict:
        return {"out_dir": self.out_dir, "files": list(self.files), "design": self.design,
                "layers": [e.op.name for e in self.table.entries],
                "variants": [f"{v.family}:{v.prec.struct_name}" for v in self.table.variants],
                "testbench": "network" if self.network is not None else "layers",
                "tb_cases": [e.op.name for e in self.table.entries] if self.network is not None
                else [c.entry.op.name for c in self.cases]}


def split_globs(text) -> list[str]:
    if text is None:
        return []
    items = text if isinstance(text, (list, tuple)) else str(text).split(",")
    return [item.strip() for item in items if item.strip()]


def select_ops(graph: Graph, globs: list[str], flag: str = "--layers") -> list:
    """Ops whose names match any of `globs` (all ops when none), in graph order."""
    if not globs:
        return list(graph.ops)
    for pattern in globs:
        if not any(fnmatch.fnmatchcase(op.name, pattern) for op in graph.ops):
            raise UserError(f"{flag} {pattern!r} matches no op of {graph.model} (see `codesign inspect "
                            f"{graph.model}` for the op names)")
    return [op for op in graph.ops if any(fnmatch.fnmatchcase(op.name, p) for p in globs)]


def _tb_entries(table: LayerTable, tb_layers) -> list:
    """Default: the first layer of each (op kind, precision class); 'all'; or globs."""
    globs = split_globs(tb_layers)
    if globs == ["all"]:
        return list(table.entries)
    if globs:
        for pattern in globs:
            if not any(fnmatch.fnmatchcase(e.op.name, pattern) for e in table.entries):
                raise UserError(f"--tb-layers {pattern!r} matches none of the emitted layers")
        return [e for e in table.entries if any(fnmatch.fnmatchcase(e.op.name, p) for p in globs)]
    seen, out = set(), []
    for e in table.entries:
        key = (e.op.kind, e.prec, e.values["b_src"])
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _trained_weights(design: DesignPoint, globs: list, images, checkpoint, dataset) -> int | None:
    """How many test images the whole-network testbench runs with trained weights (a reference
    model's, or `checkpoint`'s), or None: seeded weights on one seeded input."""
    from accel_sim.inputs import check_int
    from codesign.frontend.reference import reference_model
    from codesign.hls.trained import DEFAULT_IMAGES

    has_weights = checkpoint is not None or reference_model(design.model) is not None
    if images is not None:
        check_int(images, "--images")
        if not has_weights:
            raise UserError(f"--images needs trained weights: {design.model} has none (give a reference model, "
                            f"e.g. ref_vit_mnist, or --checkpoint)")
    if dataset is not None and checkpoint is None:
        raise UserError("--dataset needs --checkpoint: the test images are for trained weights")
    if globs:
        if images is not None or checkpoint is not None:
            raise UserError("--images and --checkpoint are for the whole-network testbench; drop --layers")
        return None
    if not has_weights:
        return None
    return DEFAULT_IMAGES if images is None else images


def _luts(table: LayerTable) -> dict:
    bits = sorted({p.a_bits for p in table.precisions if p.is_vector})
    return {b: {"frac": golden.exp_tables(b).frac, "exp": golden.exp_tables(b), "phi": golden.phi_table(b)}
            for b in bits}


def _act_luts(table: LayerTable) -> dict:
    """(function, bits) -> output codes of the table activations the model uses."""
    used = sorted({(v.family, v.prec.a_bits) for v in table.variants if v.family in golden.LUT_FUNCTIONS})
    return {key: golden.act_lut(*key) for key in used}


def _render(table: LayerTable, cases: list[TbCase], design: dict, project_name: str,
            network: NetworkData | None) -> dict[str, str]:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("hls_templates", "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=False)
    context = {"dp": design, "hw": table.hw, "table": table, "cases": cases, "fields": FIELDS,
               "loop_orders": ORDERS.tolist(),
               "luts": _luts(table), "act_luts": _act_luts(table), "project_name": project_name,
               "network": network is not None,
               "init": network.init if network is not None else [],
               "images": network.images if network is not None else 0,
               "trained": network is not None and network.trained is not None,
               "consts": {"mult_bits": golden.MULT_BITS, "ln_z_frac": golden.LN_Z_FRAC,
                          "ln_gamma_frac": golden.LN_GAMMA_FRAC}}
    targets = {"cs_config.h.j2": "src/cs_config.h", "cs_luts.h.j2": "src/cs_luts.h",
               "cs_layers.h.j2": "src/cs_layers.h", "cs_top.h.j2": "src/cs_top.h",
               "cs_top.cpp.j2": "src/cs_top.cpp",
               "tb_network.cpp.j2" if network is not None else "tb_main.cpp.j2": "tb/tb_main.cpp",
               "run_hls.tcl.j2": "run_hls.tcl", "README.md.j2": "README.md"}
    return {dst: env.get_template(src).render(**context) for src, dst in targets.items()}


def emit_design(design: DesignPoint, *, graph: Graph | None = None, layers=None, tb_layers=None,
                out_dir: str = "out/hls", force: bool = False, seed: int = 0,
                verify_ir: bool | None = None, images: int | None = None, checkpoint: str | None = None,
                dataset: str | None = None) -> EmitResult:
    """Write the Vitis HLS project of `design` into `out_dir` (see `codesign emit-hls`).

    `graph` is the design's model already extracted (uncompressed), if the caller has it. `layers`
    and `tb_layers` are comma-separated globs over op names (`tb_layers="all"` runs every emitted
    layer). Without `layers` the whole network is emitted and its testbench runs every layer in one
    call of the top function per image, against the integer reference network
    (codesign/hls/network.py): with trained weights (a reference model's, or `checkpoint`'s; see
    codesign/hls/trained.py) on `images` test images (of the model's data set or `dataset`; default
    8), else on one seeded input with seeded weights. The tiles (m, n and k, loop order) are those of the Schedule of
    `design.mapping`: "hls" (the simulator's mapping of these templates: no fusion, no residency)
    or "searched" (what a sweep or search evaluated).
    """
    from accel_sim.engine import cost_schedule
    from codesign.scheduler import schedule

    accelerator, mapping = design.accelerator, design.mapping
    if design.dataflow is not None:
        accelerator = accelerator.with_dataflow(design.dataflow)
    if design.device is None:
        raise UserError(f"--device is needed: accelerator {accelerator.name!r} is not a board name "
                        f"(see `codesign devices`)")
    board = get_device(design.device)
    globs = split_globs(layers)
    writer = ProjectWriter(out_dir, force)
    weights = _trained_weights(design, globs, images, checkpoint, dataset)
    if graph is None:
        from codesign.frontend import extract
        graph = extract(design.model, input_size=design.input_size, batch=design.batch)
    source_graph = graph
    graph = design.compression.apply(graph, verify_ir)
    spec = design.compression.precision_spec or "as extracted (16-bit)"
    prune = (design.compression.pruning or PrunePlan()).to_dict()
    selected, folded = fold_batchnorm(graph, select_ops(graph, globs))
    check_supported(selected)
    check_exp_impl(accelerator, selected)
    if mapping not in ("hls", "searched"):
        raise UserError(f"--mapping {mapping!r} cannot be emitted: use hls or searched")
    sim = cost_schedule(schedule(graph, accelerator, None, design.overrides, mapping))
    whole = not globs
    if whole and tb_layers is not None:
        raise UserError("--tb-layers picks the layers of a --layers subset; the whole network runs in one testbench")
    table = build_table(graph, accelerator, board, sim, selected, network=whole, folded=folded)
    rng = np.random.default_rng(seed)
    cases, blobs, network = [], {}, None
    if whole:
        trained = None
        if weights is not None:
            from codesign.hls.trained import prepare
            trained = prepare(design.model, source_graph, table, folded, design.compression.precision,
                              design.compression.pruning, images=weights, seed=seed, checkpoint=checkpoint,
                              dataset=dataset)
        network = reference(table, rng, trained)
        blobs = network.blobs()
    for entry in [] if whole else _tb_entries(table, tb_layers):
        case, data = make_case(table, entry, rng)
        cases.append(case)
        blobs.update(data)
    selected_names = {op.name for op in selected}
    design = {"model": graph.model, "input_shape": list(graph.input_shape), "precision": spec, "prune": prune,
              "accelerator": accelerator.to_dict(), "device": board.to_dict(),
              "layers": [op.name for op in selected], "seed": seed, "mapping": mapping,
              "batchnorm_folded_into": folded,
              "tile_m_cut_to_fit": {name: {"schedule": a, "emitted": b} for name, (a, b) in table.cut.items()},
              "simulated_cycles": int(sum(c for n, c in zip(sim.names, sim.columns["cycles"]) if n in selected_names)),
              "clock_mhz": accelerator.clock_mhz, "part": board.part,
              "testbench_data": "none (per-layer cases)" if not whole else "seeded" if network.trained is None
              else "trained"}
    if whole and network.trained is not None:
        from codesign.hls.trained import agreement
        design["trained"] = {**network.trained.source,
                             "reference_vs_torch": agreement(network.trained, network.logits),
                             "note": "reference_vs_torch: the integer reference's top-1 (the C++ testbench must "
                                     "equal its logits bit for bit) next to the torch fake-quantised model's "
                                     "(codesign.fidelity, same precision) and the labels"}
    project_name = "cs_" + "".join(ch if ch.isalnum() else "_" for ch in graph.model.split(":")[-1])[:40]
    files: dict = dict(_render(table, cases, design, project_name, network))
    lib = resources.files("hls_templates") / "lib"
    files.update({f"src/lib/{name}": (lib / name).read_bytes() for name in LIB_FILES})
    files.update({f"tb/data/{name}": data for name, data in blobs.items()})
    if whole:
        manifest = {"dram_word_bits": table.hw.dram_word_bits, "mode": "network",
                    "layers": [{"layer": e.index, "name": e.op.name, "ident": e.ident, "kind": e.op.kind.value,
                                "out_word_off": e.regions["o"].word_off, "out_elems": e.regions["o"].elems,
                                "out_bits": e.regions["o"].bits, "simulated_cycles": e.sim["cycles"]}
                               for e in table.entries],
                    "images": network.images,
                    "init": [{"word_off": off, "words": words, "file": name, "per_image": bool(per_image)}
                             for off, words, name, _, per_image in network.init],
                    "note": "wgt.bin is the whole weight arena, input_*/tokens_* the activation regions the host "
                            "writes first (input_*: each image's words in turn), expected_act.bin the activation "
                            "arena after the last layer of each image in turn as the integer reference computes "
                            "it (packed DRAM words, little-endian); logits.expected.i32 the final layer's output "
                            "of each image in turn"}
    else:
        manifest = {"dram_word_bits": table.hw.dram_word_bits, "mode": "layers", "cases": [c.to_dict() for c in cases],
                    "note": "inputs are packed DRAM words (little-endian); *.expected.i32 is the golden model "
                            "(the C++ must match it exactly); *.exact.f64 is the exact math on the same inputs "
                            "for the vector unit, compared in LSBs of the output format"}
    files["tb/data/manifest.json"] = json.dumps(manifest, indent=1)
    files["design_point.json"] = json.dumps(design, indent=1)
    writer.write_all(files)
    return EmitResult(writer.root, list(writer.written), design, table, cases, network)
