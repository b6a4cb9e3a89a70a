"""Calibration images a user hands in: which files of a folder are images, and reading one safely.

Subfolders and other files are skipped with one warning line; size and pixel count are bounded.
"""
from __future__ import annotations

import os
import warnings

from codesign.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
# A 24-megapixel camera frame is 6000 x 4000; ImageNet images average ~400 x 350 (Russakovsky et al.
# IJCV 2015). 50 megapixels admits every photograph and refuses a header claiming 900 megapixels
# before anything is decoded (PIL would warn at 89 and refuse only at 179 megapixels).
MAX_IMAGE_PIXELS = 50_000_000
MAX_IMAGE_BYTES = 256 << 20     # a 50-megapixel uncompressed RGB TIFF is 150 MB


class SkippedInputWarning(UserWarning):
    """Something a user gave was not used (a non-image in a calibration folder, ...)."""


def image_files(directory: str, samples: int) -> list[str]:
    """The first `samples` image files of `directory` (by name); subfolders and others are skipped."""
    if not os.path.isdir(directory):
        raise UserError(f"calibration directory {directory!r} does not exist")
    try:
        names = sorted(os.listdir(directory))
    except OSError as err:
        raise UserError(f"cannot list calibration directory {directory!r}: {err.strerror or err}") from None
    images, skipped = [], []
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isfile(path) and name.lower().endswith(IMAGE_EXTENSIONS):
            images.append(path)
        else:
            skipped.append(name + ("/" if os.path.isdir(path) else ""))
    if not images:
        extra = f"; it holds {', '.join(skipped[:3])}{', ...' if len(skipped) > 3 else ''}" if skipped else ""
        raise UserError(f"calibration directory {directory!r} has no image files "
                        f"({', '.join(IMAGE_EXTENSIONS)}) directly inside it{extra}")
    note = (f"calibration directory {directory!r}: skipped {len(skipped)} entries that are not image files "
            f"({', '.join(skipped[:3])}{', ...' if len(skipped) > 3 else ''})")
    if skipped:      # the folder is listed twice (digest, then reading): the CLI shows the line once
        warnings.warn(note, SkippedInputWarning, stacklevel=2)
    return images[:samples]


def open_image(path: str, mode: str, size: tuple[int, int]):
    """The image at `path` converted to `mode` ("L" or "RGB") and resized to `size` (width, height)."""
    from PIL import Image

    try:
        if os.path.getsize(path) > MAX_IMAGE_BYTES:
            raise UserError(f"calibration image {path!r} is larger than {MAX_IMAGE_BYTES >> 20} MiB")
        with Image.open(path) as img:         # reads the header only
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise UserError(f"calibration image {path!r} claims {width} x {height} pixels, more than "
                                f"{MAX_IMAGE_PIXELS / 1e6:g} megapixels")
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                return img.convert(mode).resize(size, Image.BILINEAR)
    except UserError:
        raise
    except Image.DecompressionBombError:
        raise UserError(f"calibration image {path!r} claims more than {MAX_IMAGE_PIXELS / 1e6:g} megapixels; "
                        "is it an image bomb?") from None
    except Exception as exc:   # PIL raises OSError, ValueError, SyntaxError, ... on malformed bytes
        reason = " ".join(str(exc).split())[:160]
        raise UserError(f"cannot read calibration image {path!r}: {type(exc).__name__}: {reason}") from None
