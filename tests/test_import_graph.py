"""The import graph of our packages: no cycle between files (function-level imports included), and
the simulator packages never import torch."""
import ast
import os
import subprocess
import sys

import networkx as nx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("accel_sim", "dataflows", "codesign")


def _modules() -> dict[str, str]:
    out = {}
    for pkg in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, pkg)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    out[os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").replace(".__init__", "")] = path
    return out


def import_graph() -> nx.DiGraph:
    """module -> module it imports (`from pkg import submodule` counts as importing the submodule)."""
    modules = _modules()
    graph = nx.DiGraph()
    for module, path in modules.items():
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph.add_edges_from((module, t) for t in targets if t in modules and t != module)
    return graph


def test_no_import_cycle_between_files():
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert not cycles, f"import cycles, shortest first: {cycles[:3]}"


def test_simulator_packages_load_no_torch():
    code = "import sys, accel_sim, dataflows, accel_sim.engine, accel_sim.loading; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
