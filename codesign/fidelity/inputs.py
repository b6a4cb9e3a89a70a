"""What a fidelity run reads: the real model (seeded init or a checkpoint) and the calibration images.

Each input also has a content digest, so that results can be cached by what went in.
"""
from __future__ import annotations

import hashlib
import os

from codesign.boundary.images import IMAGE_EXTENSIONS, image_files, open_image
from codesign.errors import UserError
from codesign.frontend import build_model

def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model(model: str, seed: int, checkpoint: str | None):
    """The model on CPU in eval mode: timm's own init under `seed`, then the checkpoint if given."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = build_model(model, device="cpu")
    if checkpoint is not None:
        load_checkpoint(module, checkpoint, model)
    return module.eval()


def load_checkpoint(module, path: str, model: str) -> None:
    """Load a state dict (torch.load with weights_only, or safetensors); UserError on the first misfit."""
    import torch

    if not os.path.isfile(path):
        raise UserError(f"checkpoint {path!r} does not exist")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file
            state = load_file(path, device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and safetensors errors all mean "not a readable checkpoint"
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(f"cannot read checkpoint {path!r}: {type(exc).__name__}: {reason}") from None
    for wrapper in ("state_dict", "model"):  # training scripts often nest the weights once
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"checkpoint {path!r} is not a state dict of tensors")
    expected = module.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            raise UserError(f"checkpoint {path!r} does not fit {model}: first mismatching key {key!r} "
                            "(missing from the checkpoint)")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise UserError(f"checkpoint {path!r} does not fit {model}: first mismatching key {key!r} "
                            f"(shape {tuple(state[key].shape)}, model expects {tuple(tensor.shape)})")
    extra = [key for key in state if key not in expected]
    if extra:
        raise UserError(f"checkpoint {path!r} does not fit {model}: first mismatching key {extra[0]!r} "
                        "(not in the model)")
    module.load_state_dict(state, strict=True)


def dataset_digest(path: str) -> str:
    """What identifies a labelled data set: the .npz's bytes, or every class folder's image names and bytes."""
    if path.endswith(".npz") and os.path.isfile(path):
        return f"npz:{file_sha256(path)}"
    if not os.path.isdir(path):
        raise UserError(f"--dataset {path!r} is neither a folder of class subfolders nor an .npz file")
    digest = hashlib.sha256()
    for cls in sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))):
        folder = os.path.join(path, cls)
        for name in sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)):
            digest.update(f"{cls}/{name}".encode() + b"\0" + file_sha256(os.path.join(folder, name)).encode())
    return f"folder:{digest.hexdigest()}"


def calibration_digest(calibration: str | None, samples: int, seed: int) -> str:
    """What identifies the calibration batch: the seed for random images, else the images' bytes."""
    if calibration is None:
        return f"random:samples={samples}:seed={seed}"
    digest = hashlib.sha256()
    for path in image_files(calibration, samples):
        digest.update(os.path.basename(path).encode() + b"\0" + file_sha256(path).encode())
    return f"images:{digest.hexdigest()}"


def calibration_batch(calibration: str | None, samples: int, seed: int, input_size, module):
    """`samples` images of `input_size` (C, H, W): seeded N(0, 1) noise, or files from a directory.

    Files are read with PIL, resized to H x W and normalised with the model's mean and std.
    """
    import torch

    if calibration is None:
        generator = torch.Generator().manual_seed(seed)
        return torch.randn((samples, *input_size), generator=generator)
    channels, height, width = input_size
    if channels not in (1, 3):
        raise UserError(f"calibration images need a 1- or 3-channel model input, not {channels} channels")
    from codesign.frontend.torchvision_compat import import_timm

    timm_data = import_timm().data   # models without a pretrained_cfg get timm's ImageNet statistics
    cfg = getattr(module, "pretrained_cfg", None) or {}
    mean = torch.tensor(cfg.get("mean", timm_data.IMAGENET_DEFAULT_MEAN)[:channels]).view(-1, 1, 1)
    std = torch.tensor(cfg.get("std", timm_data.IMAGENET_DEFAULT_STD)[:channels]).view(-1, 1, 1)
    images = []
    for path in image_files(calibration, samples):
        img = open_image(path, "L" if channels == 1 else "RGB", (width, height))
        data = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
        pixels = data.view(height, width, channels).permute(2, 0, 1).float() / 255.0
        images.append((pixels - mean) / std)
    return torch.stack(images)
