"""Content hashes: sha256 over canonical JSON (sorted keys, no whitespace), stable across processes
and runs. Design points, spaces, studies and caches are named by them."""
from __future__ import annotations

import hashlib
import json

KEY_CHARS = 16      # hex digits of a point hash kept in results files (64 bits)


def canonical_json(data) -> str:
    """The one text form that is hashed: sorted keys, no spaces, no NaN or infinity."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def content_hash(data, chars: int = KEY_CHARS) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:chars]
