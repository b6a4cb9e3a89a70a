"""Safe YAML reading with one-line errors (file, line, column), shared by every YAML input:
accelerator descriptions, design spaces and precision policies."""
from __future__ import annotations

import yaml

from accel_sim.errors import UserError


def read_yaml(path: str, what: str, label: str | None = None):
    """The parsed content of `path` (yaml.safe_load); `what` names the kind of file in errors."""
    label = label or path
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except OSError as err:
        raise UserError(f"cannot read {what} {label!r}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise UserError(f"{label}: malformed YAML{at}: {problem}") from None
