"""The `codesign` command line: a thin layer over the Python API, one module per command.

User errors print one line and exit with status 2; nothing a user types shows a traceback.
"""
from __future__ import annotations

import argparse
import sys

from accel_sim.errors import UserError
from codesign.cli import (devices_cmd, emit_hls_cmd, inspect_cmd, models_cmd, pareto_cmd, presets_cmd, search_cmd,
                          simulate_cmd, sweep_cmd)

# Each command module has `add_parser(subparsers)` and `run(args) -> int`.
COMMANDS = [inspect_cmd, simulate_cmd, models_cmd, presets_cmd, devices_cmd, sweep_cmd, search_cmd, pareto_cmd,
            emit_hls_cmd]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, status 2 (argparse would print the usage too)
        sys.stderr.write(f"codesign: error: {message} (see `{self.prog} --help`)\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="codesign", description="Model/accelerator co-design for CNNs and ViTs.")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    for name, command_parser in sub.choices.items():  # `codesign simulate --quiet` works as well
        if "--quiet" not in command_parser._option_string_actions:
            command_parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                                        help="no progress lines on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from codesign.progress import set_quiet
    set_quiet(getattr(args, "quiet", False))
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        sys.stderr.write(f"codesign: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("codesign: interrupted\n")
        return 130
    except BrokenPipeError:  # `codesign inspect ... | head`
        return 0

