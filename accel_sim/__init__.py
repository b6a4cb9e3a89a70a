"""Accelerator description and numba simulation engine; imports numpy and numba only, never torch."""
