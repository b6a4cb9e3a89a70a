"""Design-space exploration: YAML spaces, grid/random sweeps, NSGA-II co-search, Pareto fronts.

Importing this package loads neither torch nor Optuna; sweep workers import only the simulator.
"""
from __future__ import annotations

from codesign.search.pareto import pareto_front
from codesign.search.point import SpacePoint
from codesign.search.space import DesignSpace, load_space

__all__ = ["SpacePoint", "DesignSpace", "load_space", "pareto_front"]

