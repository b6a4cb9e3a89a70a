"""The user's own code (a model factory, an `--evaluator`): imported and called inside a frame.

A failure is one line naming the object path and the exception; `--debug` shows its traceback.
"""
from __future__ import annotations

import importlib
import os
import sys

from codesign.errors import UserError


class UserCodeError(UserError):
    """The user's code raised; the original exception is the `__cause__` (shown under --debug)."""


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _importable_here() -> None:
    if os.getcwd() not in sys.path:   # `mymodels:net` finds mymodels.py where you stand
        sys.path.insert(0, os.getcwd())


def source_file(spec: str) -> str | None:
    """The file behind `pkg.module:name` (for cache keys), None if it cannot be found."""
    import importlib.util

    _importable_here()
    try:
        origin = importlib.util.find_spec(str(spec).partition(":")[0]).origin
    except Exception:                  # a parent package failing at import is reported by resolve()
        return None
    return origin if origin and os.path.isfile(origin) else None


def resolve(spec: str, what: str):
    """The object named by `pkg.module:attr.path` (the working directory is importable)."""
    module_name, sep, attr = str(spec).partition(":")
    if not sep or not module_name.strip() or not attr.strip():
        raise UserError(f"{what} {spec!r} is not valid: write pkg.module:name")
    _importable_here()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise UserError(f"cannot import {module_name!r} for {what} {spec!r}: no such module "
                            "(is it in the working directory or installed?)") from None
        raise UserCodeError(f"{what} {spec!r} failed at import: {_why(exc)} (--debug shows its traceback)") from exc
    except (Exception, SystemExit) as exc:   # SyntaxError, or anything their module raises or exits with
        raise UserCodeError(f"{what} {spec!r} failed at import: {_why(exc)} (--debug shows its traceback)") from exc
    target = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except Exception:
            raise UserError(f"{what} {spec!r}: {module_name} has no attribute {attr!r}") from None
    return target


def call(function, spec: str, what: str, *args):
    """`function(*args)`; whatever it raises becomes one line naming `what` and `spec`."""
    try:
        return function(*args)
    except UserError:
        raise
    except (Exception, SystemExit) as exc:    # their sys.exit() must not end our command silently
        raise UserCodeError(f"{what} {spec!r} raised {_why(exc)} (--debug shows its traceback)") from exc
