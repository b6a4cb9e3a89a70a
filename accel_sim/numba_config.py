"""Numba options for every kernel of the engine, kept in one place.
Kernels are compiled once and cached on disk (`cache=True`) so warm start-up is fast.
"""
from __future__ import annotations

import numba

# fastmath stays off: results must be bit-for-bit reproducible and match the naive reference.
NJIT_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


def njit(func):
    """`numba.njit` with the project's options."""
    return numba.njit(**NJIT_OPTIONS)(func)
