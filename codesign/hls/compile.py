"""Compile an emitted project's testbench with g++ against the ap_types headers, and run it.
Headers: $XILINX_HLS/include when set, else the copy hls4ml ships (installed with --no-deps)."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from codesign.errors import UserError

_CYCLES = re.compile(r"^CYCLES (\S+) layer=(\d+) counted=(\d+) simulated=(\d+) load=(\d+) compute=(\d+) store=(\d+)")
_CASE = re.compile(r"^CASE (\S+) layer=(\d+) elems=(\d+) max_abs_diff=(\d+) mismatches=(\d+) (PASS|FAIL)")


def ap_include_dir() -> str:
    """The directory holding ap_int.h, ap_fixed.h and hls_stream.h."""
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx:
        path = os.path.join(xilinx, "include")
        if not os.path.isfile(os.path.join(path, "ap_int.h")):
            raise UserError(f"XILINX_HLS={xilinx!r} has no include/ap_int.h; unset it or fix the installation")
        return path
    spec = importlib.util.find_spec("hls4ml")       # located, not imported (its deps are not installed)
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            path = os.path.join(root, "templates", "vivado", "ap_types")
            if os.path.isfile(os.path.join(path, "ap_int.h")):
                return path
    raise UserError("no ap_int.h found: set XILINX_HLS to a Vitis HLS installation, or "
                    "`pip install --no-deps hls4ml` for the open-source ap_types headers")


@dataclass
class CaseResult:
    ident: str
    layer: int
    elems: int
    max_abs_diff: int
    mismatches: int
    passed: bool


@dataclass
class LayerCycles:
    """One layer of a counting build: its counted cycles (tile pipeline overlap included), the
    simulator's, and the tile stages' sums without overlap (0 for vector-unit layers)."""
    ident: str
    layer: int
    counted: int
    simulated: int
    load: int
    compute: int
    store: int


@dataclass
class TbRun:
    returncode: int
    stdout: str
    cases: list = field(default_factory=list)
    cycles: list = field(default_factory=list)     # LayerCycles of a counting build

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and bool(self.cases) and all(c.passed for c in self.cases)


def build(project_dir: str, cxx: str = "g++", opt: str = "-O2", timeout_s: float = 600, counting: bool = False) -> str:
    """Compile src/cs_top.cpp and tb/tb_main.cpp into build/csim (build/csim_count with `counting`:
    the cycle-counting build, -DCS_COUNT_CYCLES_BUILD); returns the executable's path."""
    compiler = shutil.which(cxx)
    if compiler is None:
        raise UserError(f"C++ compiler {cxx!r} not found")
    build_dir = os.path.join(project_dir, "build")
    os.makedirs(os.path.join(build_dir, "tb_out"), exist_ok=True)
    exe = os.path.join(build_dir, "csim_count" if counting else "csim")
    cmd = [compiler, "-std=c++14", opt, "-w"] + (["-DCS_COUNT_CYCLES_BUILD"] if counting else []) + [
           "-I", os.path.join(project_dir, "src"),
           "-I", os.path.join(project_dir, "src", "lib"), "-I", ap_include_dir(),
           os.path.join(project_dir, "src", "cs_top.cpp"), os.path.join(project_dir, "tb", "tb_main.cpp"),
           "-o", exe]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"g++ failed ({' '.join(cmd)}):\n{done.stderr[-4000:]}")
    return exe


def run(project_dir: str, exe: str | None = None, timeout_s: float = 600) -> TbRun:
    """Run the testbench on tb/data, outputs to build/tb_out; parse its CASE lines."""
    exe = exe or os.path.join(project_dir, "build", "csim")
    out_dir = os.path.join(project_dir, "build", "tb_out")
    os.makedirs(out_dir, exist_ok=True)
    done = subprocess.run([exe, os.path.join(project_dir, "tb", "data"), out_dir], capture_output=True,
                          text=True, timeout=timeout_s)
    cases = []
    for line in done.stdout.splitlines():
        match = _CASE.match(line)
        if match:
            ident, layer, elems, diff, bad, verdict = match.groups()
            cases.append(CaseResult(ident, int(layer), int(elems), int(diff), int(bad), verdict == "PASS"))
    cycles = [LayerCycles(m.group(1), *map(int, m.groups()[1:]))
              for m in map(_CYCLES.match, done.stdout.splitlines()) if m]
    return TbRun(done.returncode, done.stdout + done.stderr, cases, cycles)


def build_and_run(project_dir: str, opt: str = "-O2") -> TbRun:
    return run(project_dir, build(project_dir, opt=opt))
