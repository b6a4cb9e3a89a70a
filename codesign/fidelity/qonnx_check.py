"""A QONNX file run by qonnx's own executor and compared with the torch fake-quantised model it was exported from.

`agreement` reports the largest logit difference (also relative to the logit range) and the top-1 agreement.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

# max |qonnx - torch| over the logits as a fraction of the torch logits' range (max - min) that counts as
# agreeing. Measured (docs/qonnx.md): 8e-8 tiny ViT w4a4, 1.4e-7 ref_vit_mnist w4a4, 5e-7 deit_tiny float.
# A quantised value that float32 summation order (onnxruntime vs torch) pushes across a rounding boundary
# moves the logits by far more (deit_tiny w4a4, random weights: 0.13). 1e-4: 200x the largest agreeing case.
RELATIVE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Agreement:
    """How the QONNX file's logits compare with the torch model's on the same images."""
    images: int
    source: str                     # "split:test[:N]" (labelled) or "random:samples=N:seed=S"
    max_abs_diff: float
    logit_range: float              # max - min of the torch logits over all images
    relative_diff: float            # max_abs_diff / logit_range
    top1_agreement: float           # fraction of images whose top-1 class is the same
    torch_correct: int | None       # with labels: images the torch model gets right
    qonnx_correct: int | None       # ... and the QONNX file
    qonnx_s: float                  # wall time of executing the file on all images
    worst_image: int                # index of the image with the largest logit difference
    tolerance: float = RELATIVE_TOLERANCE

    @property
    def passed(self) -> bool:
        return self.relative_diff <= self.tolerance and self.top1_agreement == 1.0

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def check_images(model: str, input_shape, count: int, seed: int = 0):
    """(images, labels or None, source): a reference model's first `count` test images with their labels,
    else `count` seeded N(0, 1) images (seed + 1: not the calibration batch)."""
    from codesign.fidelity.reference import reference_split
    from codesign.frontend.reference import reference_model

    ref = reference_model(model)
    if ref is not None:
        test = reference_split(ref).test
        return test.images[:count], test.labels[:count], f"split:test[:{count}]"
    generator = torch.Generator().manual_seed(seed + 1)
    return torch.randn((count, *input_shape[1:]), generator=generator), None, f"random:samples={count}:seed={seed + 1}"


def run_qonnx(path: str, images: np.ndarray) -> tuple[np.ndarray, float]:
    """The file's output for each image (qonnx.core.onnx_exec.execute_onnx, one image at a time: the graph has
    batch 1), and the wall time it took."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    wrapper = ModelWrapper(path)
    name_in, name_out = wrapper.graph.input[0].name, wrapper.graph.output[0].name
    start = time.perf_counter()
    outputs = [execute_onnx(wrapper, {name_in: image[None].astype(np.float32)})[name_out] for image in images]
    return np.concatenate(outputs), time.perf_counter() - start


def agreement(compressed, path: str, count: int = 16, seed: int = 0) -> Agreement:
    """Run `path` with qonnx on `count` images and compare with `compressed` (a CompressedModel) on the same."""
    images, labels, source = check_images(compressed.model, compressed.input_shape, count, seed)
    expected = compressed(images).numpy()
    got, seconds = run_qonnx(path, images.numpy())
    per_image = np.abs(got - expected).reshape(len(images), -1).max(axis=1)
    diff = float(per_image.max())
    span = float(expected.max() - expected.min())
    correct = (lambda logits: int((logits.argmax(1) == labels.numpy()).sum())) if labels is not None else None
    return Agreement(images=len(images), source=source, max_abs_diff=diff, logit_range=span,
                     relative_diff=diff / span if span > 0 else float(diff > 0),
                     top1_agreement=float((got.argmax(1) == expected.argmax(1)).mean()),
                     torch_correct=correct(expected) if correct else None,
                     qonnx_correct=correct(got) if correct else None, qonnx_s=round(seconds, 3),
                     worst_image=int(per_image.argmax()))
