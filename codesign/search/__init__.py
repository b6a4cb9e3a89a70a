"""Design-space exploration: YAML spaces, grid/random sweeps, NSGA-II co-search, Pareto fronts.

Importing this package loads neither torch nor Optuna; sweep workers import only the simulator.
"""
from __future__ import annotations

import sys
import types

from codesign.search.pareto import pareto_front
from codesign.search.point import DesignPoint
from codesign.search.space import DesignSpace, load_space

__all__ = ["DesignPoint", "DesignSpace", "load_space", "pareto_front"]


class _SearchPackage(types.ModuleType):
    """`codesign.search` is this package and also the API call `codesign.search(space, trials)`:
    importing a submodule binds the package to that name, so the package itself is callable."""

    def __call__(self, space, trials: int, *, seed: int = 0, storage: str | None = None,
                 study_name: str | None = None, target_fps: float | None = None, device: str | None = None,
                 population: int | None = None, results: str | None = None, quiet: bool = True):
        """NSGA-II search of a design space until the study has `trials` finished trials (see
        `codesign search`). Returns a SearchResult (the front, the study, and with `target_fps` a
        TargetReport)."""
        from codesign.search.study import run_search
        return run_search(space, trials, seed=seed, storage=storage, study_name=study_name,
                          target_fps=target_fps, device=device, population=population, results=results,
                          quiet=quiet)


sys.modules[__name__].__class__ = _SearchPackage
