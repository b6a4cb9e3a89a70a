"""timm imports with a real torchvision when one works and with the in-process stand-in otherwise.

Each case runs in a fresh interpreter, because the choice is made once per process.
"""
import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import sys
    from codesign.frontend.torchvision_compat import ensure_torchvision, import_timm
    timm = import_timm()
    print(ensure_torchvision())
    print(timm.__version__)
""")


def run(code, extra_path=None):
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = str(extra_path) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def _real_torchvision_imports() -> bool:
    r = subprocess.run([sys.executable, "-c", "import torchvision.ops.misc"], capture_output=True)
    return r.returncode == 0


def test_fallback_without_a_working_torchvision():
    if _real_torchvision_imports():
        pytest.skip("a working torchvision is installed here")
    mode, version = run(PROBE)
    assert mode == "fallback" and version.startswith("1.")


def test_fallback_frozen_batch_norm_is_numerically_right():
    code = textwrap.dedent("""
        import torch
        from codesign.frontend.torchvision_compat import _frozen_batch_norm_class
        F = _frozen_batch_norm_class()
        m = F(4); torch.manual_seed(0)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(m, name).copy_(torch.rand(4) + 0.5)
        ref = torch.nn.BatchNorm2d(4).eval()
        ref.load_state_dict({k: getattr(m, k) for k in ("weight", "bias", "running_mean", "running_var")}, strict=False)
        x = torch.randn(2, 4, 3, 3)
        print(torch.allclose(m(x), ref(x), atol=1e-6))
        print(sorted(dict(m.named_parameters())) == [])
    """)
    assert run(code) == ["True", "True"]


def test_fallback_placeholders_raise_a_clear_error():
    code = textwrap.dedent("""
        from codesign.frontend.torchvision_compat import import_timm
        import_timm()
        from torchvision.datasets import CIFAR10
        try:
            CIFAR10("x")
        except RuntimeError as e:
            print("needs-real" if "needs a real torchvision" in str(e) else "other")
        try:
            import torchvision.io
        except ImportError:
            print("no-io")
    """)
    if _real_torchvision_imports():
        pytest.skip("a working torchvision is installed here")
    assert run(code) == ["needs-real", "no-io"]


def test_broken_torchvision_falls_back(tmp_path):
    pkg = tmp_path / "torchvision"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise RuntimeError('operator torchvision::nms does not exist')\n")
    assert run(PROBE, tmp_path)[0] == "fallback"


def test_working_torchvision_is_used_as_is(tmp_path):
    """A torchvision that imports (here a small stand-in package on the path) is left alone."""
    pkg = tmp_path / "torchvision"
    (pkg / "ops").mkdir(parents=True)
    (pkg / "__init__.py").write_text("REAL = True\n")
    (pkg / "ops" / "__init__.py").write_text("")
    (pkg / "ops" / "misc.py").write_text("class FrozenBatchNorm2d:\n    pass\n")
    code = ("from codesign.frontend.torchvision_compat import ensure_torchvision\n"
            "import torchvision\nprint(ensure_torchvision(), torchvision.REAL)\n")
    assert run(code, tmp_path) == ["real", "True"]
