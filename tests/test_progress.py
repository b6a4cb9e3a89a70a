"""Progress lines appear on a terminal, never with --quiet, and never in pipes (so --json stays clean)."""
import io

import pytest

from codesign import progress
from codesign.cli import build_parser


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("tty,quiet,shown", [(True, False, True), (True, True, False), (False, False, False)])
def test_step_is_shown_only_on_a_terminal_and_not_quiet(monkeypatch, tty, quiet, shown):
    stream = _Tty() if tty else io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    progress.set_quiet(quiet)
    try:
        with progress.step("extracting x"):
            pass
    finally:
        progress.set_quiet(False)
    text = stream.getvalue()
    assert (text.startswith("extracting x ...") and text.endswith(" s\n")) == shown
    assert (text == "") == (not shown)


def test_failed_step_says_so(monkeypatch):
    stream = _Tty()
    monkeypatch.setattr("sys.stderr", stream)
    with pytest.raises(RuntimeError):
        with progress.step("compiling"):
            raise RuntimeError("boom")
    assert stream.getvalue() == "compiling ... failed\n"


def test_quiet_is_accepted_before_and_after_the_command():
    parser = build_parser()
    assert parser.parse_args(["--quiet", "presets"]).quiet is True
    assert parser.parse_args(["presets", "--quiet"]).quiet is True
    assert getattr(parser.parse_args(["presets"]), "quiet", False) is False
