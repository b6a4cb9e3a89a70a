"""The boundary through which user files and numbers enter the simulator: each check states its limit.

Torch-free (sweep workers import it); `codesign.boundary` adds images, user code, results rows and services.
"""
from accel_sim.inputs.files import read_ini, read_text, read_yaml
from accel_sim.inputs.numbers import LIMITS, check_int, check_number, parse_float, parse_int, shown

__all__ = ["read_text", "read_yaml", "read_ini", "check_int", "check_number", "parse_int", "parse_float",
           "LIMITS", "shown"]
