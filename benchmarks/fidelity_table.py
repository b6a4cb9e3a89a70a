"""The accuracy table of docs/fidelity.md: the reference ViT under precision and pruning, with 95 % intervals.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/fidelity_table.py [MODEL] [FINETUNE_EPOCHS]   (cached; ~10 min cold)
"""
from __future__ import annotations

import dataclasses
import sys

from codesign.fidelity import evaluate
from codesign.frontend import extract
from codesign.transforms import parse_prune

MODEL = sys.argv[1] if len(sys.argv) > 1 else "ref_vit_mnist"
EPOCHS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
PRECISIONS = ("w16a16", "w8a8", "w6a6", "w4a8", "w4a4", "w2a8", "w1a8")
KEEP = ("0.75", "0.5", "0.25")


def cell(res) -> str:
    low, high = res.top1_ci95
    return f"{100 * res.top1:.1f} ({100 * low:.1f}-{100 * high:.1f})"


def main() -> None:
    graph = extract(MODEL)
    run = lambda precision=None, plan=None, finetune=0: evaluate(MODEL, precision, plan, graph=graph,  # noqa: E731
                                                                  finetune=finetune)
    print(f"{MODEL}: top-1 % on the test split (95 % Wilson interval); fine-tuning {EPOCHS} epochs\n")
    print("| precision | post-training | fine-tuned |\n|---|---|---|")
    for p in PRECISIONS:
        print(f"| {p} | {cell(run(p))} | {cell(run(p, finetune=EPOCHS))} |", flush=True)
    print("\n| pruning (w16a16) | kept | L1 | data-driven (Taylor) | Taylor, fine-tuned |\n|---|---|---|---|---|")
    for keep in KEEP:
        plans = {s: dataclasses.replace(parse_prune(keep), importance=s) for s in ("l1", "taylor")}
        print(f"| heads | {float(keep):.0%} | {cell(run(plan=plans['l1']))} | {cell(run(plan=plans['taylor']))} "
              f"| {cell(run(plan=plans['taylor'], finetune=EPOCHS))} |", flush=True)
    for keep in KEEP:
        plans = {s: dataclasses.replace(parse_prune(mlp=keep), importance=s) for s in ("l1", "taylor")}
        print(f"| MLP units | {float(keep):.0%} | {cell(run(plan=plans['l1']))} | {cell(run(plan=plans['taylor']))} "
              f"| {cell(run(plan=plans['taylor'], finetune=EPOCHS))} |", flush=True)


if __name__ == "__main__":
    main()
