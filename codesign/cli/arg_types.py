"""argparse `type=` converters that check through the boundary (`accel_sim.inputs`) and keep its message.

A bad value exits 2 at parse time, before any model is built, with the bound stated.
"""
from __future__ import annotations

import argparse

from accel_sim.errors import UserError
from accel_sim.inputs import parse_float, parse_int


def typed(parse):
    """An argparse `type` that keeps our one-line message (argparse would replace a ValueError's)."""
    def convert(text: str):
        try:
            return parse(text)
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def int_option(flag: str, **bounds):
    """`type=` for an integer option; bounds default to accel_sim.inputs.LIMITS for the flag's name."""
    return typed(lambda text: parse_int(text, flag, **bounds))


def float_option(flag: str, **bounds):
    return typed(lambda text: parse_float(text, flag, **bounds))
