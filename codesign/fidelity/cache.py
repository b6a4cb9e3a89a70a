"""Fidelity results on disk, one JSON file per content hash of everything that went into them.

The directory is `$CODESIGN_CACHE_DIR/fidelity`, or `~/.cache/vit-codesign/fidelity` by default.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

CACHE_ENV = "CODESIGN_CACHE_DIR"


def cache_dir(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "vit-codesign")
    return os.path.join(root, "fidelity")


def content_key(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load(directory: str, key: str) -> dict | None:
    """The stored result, or None if absent or unreadable (then it is simply computed again)."""
    path = os.path.join(directory, f"{key}.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def store(directory: str, key: str, data: dict) -> None:
    """Write atomically, so that a concurrent reader never sees half a file."""
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(directory, f"{key}.json"))
