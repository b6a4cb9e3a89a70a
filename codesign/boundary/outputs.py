"""Where results go (`--plot DIR`, `--out STEM`, `-o`), checked before any work starts, so that a run of
minutes never ends in "cannot write there"."""
from __future__ import annotations

import os
import tempfile

from codesign.errors import UserError


def _nearest_existing(path: str) -> str:
    current = os.path.abspath(path)
    while not os.path.lexists(current):
        current = os.path.dirname(current)
    return current


def check_output_dir(path, flag: str, label: str | None = None) -> None:
    """`path` is a writable directory, or can be created as one (`label`: what the user typed)."""
    path = os.fspath(path)
    label = label or path
    if not path:
        raise UserError(f"{flag} is empty; give a directory")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise UserError(f"{flag} {label!r}: {path!r} exists and is not a directory" if label != path
                        else f"{flag} {path!r} exists and is not a directory")
    existing = _nearest_existing(path)
    if not os.path.isdir(existing):
        raise UserError(f"{flag} {label!r}: {existing!r} is not a directory")
    try:                 # a real write: permission bits say nothing to root, or about /proc
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise UserError(f"{flag} {label!r}: cannot write in {existing!r} ({err.strerror or err})") from None


def check_output_file(path, flag: str) -> None:
    """`path` can be written: a file there or none yet, in a directory that exists or can be made."""
    path = os.fspath(path)
    if not path or path.endswith(os.sep):
        raise UserError(f"{flag} {path!r} is not a file name")
    if os.path.isdir(path):
        raise UserError(f"{flag} {path!r} is a directory; give a file name")
    check_output_dir(os.path.dirname(os.path.abspath(path)), flag, path)
