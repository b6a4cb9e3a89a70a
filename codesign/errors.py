"""Errors a user can cause: the CLI prints them on one line and exits with status 2.

`UserError` lives in `accel_sim` (which must not import codesign) and is re-exported here.
"""
from accel_sim.errors import UserError


class ExportFailed(UserError):
    """torch.export could not trace the model; the message names the module and the reason."""


class UnsupportedOps(UserError):
    """The model uses ops the IR does not know; they are named rather than silently dropped."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what was kept and how to resume: the CLI prints it on one line (exit status 130)."""


__all__ = ["UserError", "ExportFailed", "UnsupportedOps", "Interrupted"]
