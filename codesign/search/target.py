"""Frame-rate target mode: the best-fidelity point that reaches the fps, or how close the space comes.

Fps, resources and energy need no fidelity, so a space small enough is first scanned on hardware alone:
that tells at once when no point reaches the target, and which compression choices can (the candidates).
"""
from __future__ import annotations

from dataclasses import dataclass

from codesign.search.evaluate import make_row

EXHAUSTIVE_LIMIT = 50_000      # points whose hardware metrics are scanned (~0.3 ms each)


@dataclass(frozen=True)
class Scan:
    """Hardware-only pass over the whole space."""
    checked: int
    candidates: tuple[dict, ...]   # per compression choice that can meet every non-fidelity constraint:
                                   # its fastest such point (knob values), fastest first
    fastest_fitting: dict | None   # the point with the highest fps that fits (metrics and knobs)


@dataclass(frozen=True)
class TargetReport:
    target_fps: float
    met: bool
    exact: bool                    # every candidate compression choice was measured: no better point exists
    best: dict | None              # the feasible point with the best fidelity (ties: lower latency, energy)
    closest: dict | None           # not met: the fastest point that fits, or the best-fidelity one
                                   # that reaches the fps when fidelity is what fails
    space_checked: int | None      # points of the space scanned on hardware, if it was
    message: str

    def to_dict(self) -> dict:
        return {"target_fps": self.target_fps, "met": self.met, "exact": self.exact, "best": self.best,
                "closest": self.closest, "space_checked": self.space_checked, "message": self.message}


def describe(space, values: dict) -> str:
    return " ".join(f"{k.name}={values[k.name]}" for k in space.knobs if k.name in values)


def _fits(values: dict) -> bool:
    return values.get("fits", True) is not False and not values.get("error")


def _target(space) -> tuple[float, str]:
    target = next(b.minimum for b in space.constraints.bounds if b.metric == "fps")
    devices = next((k.choices for k in space.hardware if k.name == "device"), ())
    return target, f" on {'/'.join(devices)}" if devices else ""


def scan_space(space, evaluator) -> Scan | None:
    """Every point's hardware metrics (no fidelity); None when the space is too large to scan."""
    if space.size > EXHAUSTIVE_LIMIT:
        return None
    best_per_choice: dict[str, tuple] = {}
    fastest = None
    for index in range(space.size):
        point = space.point_at(index)
        choice, hw = evaluator.hardware(point)
        if not _fits(hw):
            continue
        if fastest is None or hw["fps"] > fastest["fps"]:
            fastest = {**point.as_dict(), **hw, "hash": point.key}
        if space.constraints.hardware_violated(make_row(space, point, choice, hw, None)):
            continue
        rank = (hw["latency_ms"], hw["energy_mj"], point.key)
        if choice.key not in best_per_choice or rank < best_per_choice[choice.key][0]:
            best_per_choice[choice.key] = (rank, point.as_dict())
    candidates = tuple(values for _, values in sorted(best_per_choice.values(), key=lambda item: item[0]))
    return Scan(space.size, candidates, fastest)


def unreachable_report(space, scan: Scan) -> TargetReport:
    """No point of the space meets the target (and the other non-fidelity constraints)."""
    target, on = _target(space)
    best = scan.fastest_fitting
    where = (f"the fastest that fits reaches {best['fps']:.1f} fps ({100 * best['fps'] / target:.0f}% "
             f"of the target): {describe(space, best)} (point {best['hash']})"
             if best else "no point of the space fits the device")
    others = [b.describe() for b in space.constraints.bounds if b.metric not in ("fps", "fidelity")]
    also = f" together with {', '.join(others)}" if others and best and best["fps"] >= target else ""
    msg = (f"target {target:g} fps{on}: no point of the space reaches it{also} (all {scan.checked:,} checked); "
           f"{where}")
    return TargetReport(target, False, True, None, best, scan.checked, msg)


def target_report(space, rows: list[dict], trials: int, scan: Scan | None) -> TargetReport:
    """After the search: the best-fidelity feasible point, or why none was found."""
    target, on = _target(space)
    measured = {r["hash"] for r in rows if r.get("fidelity") is not None}
    exact = scan is not None and all(space.point(v).key in measured for v in scan.candidates)
    feasible = [r for r in rows if r["feasible"]]
    if feasible:
        best = min(feasible, key=lambda r: (-r["fidelity"], r["latency_ms"], r["energy_mj"], r["hash"]))
        how = (f"every one of the {len(scan.candidates)} compression choices that can reach it was measured"
               if exact else f"a search of {len(rows)} points, not exhaustive")
        msg = (f"target {target:g} fps{on}: met by {len(feasible)} of {len(rows)} points tried ({how}); best "
               f"fidelity {best['fidelity']:.4f} at {best['fps']:.1f} fps: {describe(space, best)} "
               f"(point {best['hash']})")
        return TargetReport(target, True, exact, best, None, scan.checked if scan else None, msg)
    fitting = [r for r in rows if _fits(r) and r.get("fps") is not None]
    closest = max(fitting, key=lambda r: (r["fps"], r["hash"])) if fitting else None
    if exact:
        others = ", ".join(b.describe() for b in space.constraints.bounds if b.metric == "fidelity")
        top = max((r for r in rows if r.get("fidelity") is not None), key=lambda r: (r["fidelity"], r["hash"]))
        msg = (f"target {target:g} fps{on}: {len(scan.candidates)} compression choices reach it, but none "
               f"meets {others}; the best fidelity among them is {top['fidelity']:.4f} at {top['fps']:.1f} fps: "
               f"{describe(space, top)} (point {top['hash']})")
        return TargetReport(target, False, True, None, top, scan.checked, msg)
    reached = (f"the closest reached {closest['fps']:.1f} fps ({100 * closest['fps'] / target:.0f}% of the "
               f"target): {describe(space, closest)} (point {closest['hash']})" if closest
               else "no point tried fits the device")
    tried = f"target {target:g} fps{on}: none of the {len(rows)} points tried in {trials} trials meets every constraint"
    if scan is not None:
        msg = (f"{tried}; {len(scan.candidates)} compression choices can reach it on hardware, not all measured: "
               f"run at least {len(scan.candidates)} trials")
        return TargetReport(target, False, False, None, closest, scan.checked, msg)
    msg = f"{tried}; {reached}; the space ({space.size:,} points) is too large to scan: run more trials"
    return TargetReport(target, False, False, None, closest, None, msg)
