"""The `codesign` command line: a thin layer over the Python API, one module per command.

User errors print one line and exit with status 2; any other failure is one line too (status 70);
`--debug` (or CODESIGN_DEBUG=1) adds the full traceback, for bug reports.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings

from accel_sim.errors import UserError
from codesign.errors import Interrupted
from codesign.cli import (devices_cmd, emit_hls_cmd, export_qonnx_cmd, inspect_cmd, models_cmd, pareto_cmd,
                          presets_cmd, search_cmd, simulate_cmd, sweep_cmd)

# Each command module has `add_parser(subparsers)` and `run(args) -> int`.
COMMANDS = [inspect_cmd, simulate_cmd, models_cmd, presets_cmd, devices_cmd, sweep_cmd, search_cmd, pareto_cmd,
            emit_hls_cmd, export_qonnx_cmd]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, status 2 (argparse would print the usage too)
        sys.stderr.write(f"codesign: error: {message} (see `{self.prog} --help`)\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="codesign", description="Model/accelerator co-design for CNNs and ViTs.")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    for name, command_parser in sub.choices.items():  # `codesign simulate --quiet` works as well
        if "--quiet" not in command_parser._option_string_actions:
            command_parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                                        help="no progress lines on stderr")
        if "--debug" not in command_parser._option_string_actions:
            command_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                        help="show the full traceback of any error")
    return parser


INTERNAL_ERROR = 70     # EX_SOFTWARE (BSD sysexits.h): a failure that is ours, not the user's
MESSAGE_CHARS = 600     # a message longer than this is cut: one readable line, whatever the input held


def one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from codesign.progress import set_quiet
    set_quiet(getattr(args, "quiet", False))
    debug = getattr(args, "debug", False) or os.environ.get("CODESIGN_DEBUG", "") not in ("", "0")
    shown_before, held = warnings.showwarning, []
    if not debug:     # a warning is one line, shown when the command ends; a failure shows only its error
        warnings.showwarning = lambda message, *_, **__: held.append(one_line(message))
    try:
        code = int(args.run(args) or 0)
        for message in dict.fromkeys(held):
            sys.stderr.write(f"codesign: warning: {message}\n")
        return code
    except UserError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"codesign: error: {one_line(exc)}\n")
        return 2
    except KeyboardInterrupt as exc:     # codesign.errors.Interrupted says what was kept and how to resume
        detail = one_line(exc) if isinstance(exc, Interrupted) else ""
        sys.stderr.write(f"codesign: interrupted{': ' + detail if detail else ''}\n")
        return 130
    except BrokenPipeError:  # `codesign inspect ... | head`
        return 0
    except Exception as exc:   # a bug of ours: still one line; the traceback with --debug
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"codesign: internal error: {one_line(f'{type(exc).__name__}: {exc}')} (a bug; "
                         f"rerun with --debug for the traceback and report it)\n")
        return INTERNAL_ERROR
    finally:
        warnings.showwarning = shown_before

