"""The reference models: small timm architectures trained on MNIST-5k, with weights shipped in the package.

Their names work wherever a model name does; `codesign.fidelity.reference` loads and retrains their weights.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "reference")


@dataclass(frozen=True)
class ReferenceModel:
    """A timm architecture with overrides (`kwargs`), its input and the data set its weights learnt."""
    name: str
    arch: str                                  # a timm model name
    kwargs: tuple[tuple[str, object], ...]     # passed to timm.create_model
    input_size: tuple[int, int, int]
    dataset: str                               # see codesign.fidelity.datasets.DATASETS
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train: dict = field(default_factory=dict, hash=False, compare=False)   # codesign.fidelity.train.fit's
                                                                           # settings (chosen by trying a few)

    @property
    def weights_path(self) -> str:
        return os.path.join(WEIGHTS_DIR, f"{self.name}.safetensors")

    @property
    def record_path(self) -> str:
        """JSON beside the weights: the accuracy they score and how they were trained."""
        return os.path.join(WEIGHTS_DIR, f"{self.name}.json")


# MNIST pixel statistics 0.1307 / 0.3081: the values of the PyTorch MNIST example
# (pytorch/examples, mnist/main.py), computed on the MNIST training set.
_MNIST = {"input_size": (1, 28, 28), "dataset": "mnist5k", "mean": (0.1307,), "std": (0.3081,)}

REFERENCE_MODELS = {m.name: m for m in (
    # 28x28 input in 7x7 patches (16 tokens + class token), width 64, 4 blocks of 4 heads, MLP 2x: 139 k params
    ReferenceModel("ref_vit_mnist", "vit_tiny_patch16_224",
                   (("img_size", 28), ("patch_size", 7), ("in_chans", 1), ("num_classes", 10),
                    ("embed_dim", 64), ("depth", 4), ("num_heads", 4), ("mlp_ratio", 2.0)),
                   train={"epochs": 50, "lr": 1e-3, "batch": 32, "seed": 0, "weight_decay": 0.05,
                          "label_smoothing": 0.1},
                   **_MNIST),
    # a ResNet of one BasicBlock per stage, 16..64 channels: 126 k params
    ReferenceModel("ref_resnet_mnist", "resnet18",
                   (("layers", (1, 1, 1, 1)), ("channels", (16, 32, 48, 64)), ("stem_width", 16),
                    ("in_chans", 1), ("num_classes", 10)),
                   train={"epochs": 20, "lr": 3e-3, "batch": 64, "seed": 0, "weight_decay": 1e-4,
                          "label_smoothing": 0.1},
                   **_MNIST),
)}


def reference_model(name: str) -> ReferenceModel | None:
    return REFERENCE_MODELS.get(name)


def build_reference(ref: ReferenceModel, create_model):
    """The architecture (no weights); its pretrained_cfg states the real input size and statistics."""
    model = create_model(ref.arch, pretrained=False, **dict(ref.kwargs))
    model.pretrained_cfg = {**(getattr(model, "pretrained_cfg", None) or {}), "architecture": ref.arch,
                            "input_size": ref.input_size, "mean": ref.mean, "std": ref.std,
                            "num_classes": dict(ref.kwargs).get("num_classes"), "url": "", "hf_hub_id": None}
    return model
