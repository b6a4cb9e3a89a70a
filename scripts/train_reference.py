"""Retrain the reference models (all, or those named) and rewrite their weights and accuracy records.

    OMP_WAIT_POLICY=PASSIVE python scripts/train_reference.py [ref_vit_mnist ref_resnet_mnist]
"""
from __future__ import annotations

import sys

from codesign.fidelity.reference import retrain
from codesign.frontend.reference import REFERENCE_MODELS


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in REFERENCE_MODELS]
    if unknown:
        sys.stderr.write(f"unknown reference model {unknown[0]!r}; known: {', '.join(REFERENCE_MODELS)}\n")
        return 2
    for name in names or list(REFERENCE_MODELS):
        out = retrain(name)
        low, high = out["test_top1_ci95"]
        print(f"{name}: test top-1 {out['test_top1']:.2%} (95 % CI {low:.2%}-{high:.2%}) "
              f"in {out['train_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
