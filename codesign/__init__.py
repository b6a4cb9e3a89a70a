"""vit-codesign: how fast, how power-hungry and how big a model is on an accelerator.

The Python API mirrors the command line; heavy imports (torch, timm) happen only when needed.
"""
from __future__ import annotations

__version__ = "0.1.0"


def inspect(model: str, input_size=None, batch: int = 1):
    """The IR `Graph` of a timm model name or `pkg.module:factory` (see `codesign inspect`)."""
    from codesign.frontend import extract

    return extract(model, input_size=input_size, batch=batch)


__all__ = ["inspect", "__version__"]
