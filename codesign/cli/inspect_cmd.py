"""`codesign inspect MODEL`: the IR as a per-op table with totals and a per-kind summary.

`--json` and `--csv` print the same data for machines (the JSON contract is in DESIGN.md).
"""
from __future__ import annotations

import json
import time

from codesign.cli.arg_types import int_option
from codesign.cli.compression_args import add_compression_arguments, compression_of, reported_policy_warnings
from codesign.report import human, table, to_csv

CSV_HEADERS = ["name", "kind", "block", "output_shape", "macs", "params", "weight_elems", "in_elems",
               "out_elems", "w_bits", "a_bits", "gemm_m", "gemm_n", "gemm_k", "gemm_batch", "heads"]


def add_model_arguments(p) -> None:
    """MODEL, --input-size and --batch, shared by every command that extracts a model."""
    p.add_argument("model", help="timm model name (see `codesign models`) or pkg.module:factory")
    p.add_argument("--input-size", default=None, metavar="C,H,W",
                   help="input size as H, H,W or C,H,W (default: the model's own)")
    p.add_argument("--batch", type=int_option("--batch"), default=1, help="batch size (default 1)")


def add_parser(sub) -> None:
    p = sub.add_parser("inspect", help="extract a model's graph IR and print it")
    add_model_arguments(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print one CSV row per op")
    fmt.add_argument("--summary", action="store_true", help="print only totals and the per-kind summary")
    add_compression_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from codesign.frontend import extract

    start = time.perf_counter()
    graph = extract(args.model, input_size=args.input_size, batch=args.batch)
    seconds = time.perf_counter() - start
    compression = compression_of(args)
    with reported_policy_warnings():
        graph = compression.apply(graph, args.verify_ir or None)
    if args.json:
        data = graph.to_dict()
        data["compression"] = compression.to_dict()
        data["timing"] = {"extract_s": round(seconds, 4)}
        print(json.dumps(data, indent=1))
    elif args.csv:
        print(to_csv(CSV_HEADERS, [_csv_row(op) for op in graph.ops]), end="")
    else:
        print(render(graph, summary_only=args.summary))
        chosen = {k: v for k, v in compression.to_dict().items() if v is not None}
        if chosen:
            print("\ncompression: " + ", ".join(f"{k} {v}" for k, v in chosen.items()))
        print(f"\nextracted in {seconds:.2f} s")
    return 0


def _csv_row(op) -> list:
    g = op.gemm
    heads = getattr(op.attrs, "heads", "")
    return [op.name, op.kind.value, op.block, "x".join(map(str, op.output)), op.macs, op.params,
            op.weight_elems, op.in_elems, op.out_elems, op.w_bits, op.a_bits,
            g.m if g else "", g.n if g else "", g.k if g else "", g.batch if g else "", heads]


def _bits(op) -> str:
    """w8a8 for ops with two operands on the PE array; a8 for vector ops (they have no weights)."""
    return f"w{op.w_bits}a{op.a_bits}" if op.on_pe_array else f"a{op.a_bits}"


def render(graph, summary_only: bool = False) -> str:
    totals = graph.totals()
    parts = [f"{graph.model}  input {'x'.join(map(str, graph.input_shape))}"]
    if not summary_only:
        rows = [[op.name, op.kind.value, "x".join(map(str, op.output)), human(op.macs) if op.macs else "-",
                 human(op.params) if op.params else "-", _bits(op), getattr(op.attrs, "heads", "")]
                for op in graph.ops]
        parts.append(table(["op", "kind", "output", "MACs", "params", "bits", "heads"], rows,
                           right={3, 4, 6}))
    kinds = sorted(totals.ops_by_kind, key=lambda k: -totals.macs_by_kind.get(k, 0))
    rows = [[k, totals.ops_by_kind[k], human(totals.macs_by_kind.get(k, 0)),
             f"{100 * totals.macs_by_kind.get(k, 0) / max(totals.macs, 1):.1f}%"] for k in kinds]
    parts.append(table(["kind", "ops", "MACs", "share"], rows, right={1, 2, 3}))
    parts.append(f"total: {totals.ops} ops ({totals.pe_array_ops} on the PE array, {totals.vector_ops} "
                 f"on the vector unit), {human(totals.macs)} MACs ({totals.macs:,}), "
                 f"{human(totals.params)} params ({totals.params:,})")
    return "\n\n".join(parts)
