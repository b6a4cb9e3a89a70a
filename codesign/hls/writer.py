"""Writes the project's files, only inside the output directory: relative paths without `..`,
no symbolic link that leads out, a non-empty directory only with --force, and each file new (renamed in)."""
from __future__ import annotations

import os
import tempfile

from codesign.errors import UserError


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class ProjectWriter:
    def __init__(self, out_dir: str, force: bool = False):
        given = os.fspath(out_dir)
        if not given:
            raise UserError("-o/--output is empty: give the project directory, e.g. -o out/hls")
        if os.path.lexists(given) and not os.path.isdir(given):
            raise UserError(f"output {given!r} exists and is not a directory; choose another -o")
        if os.path.isdir(given) and os.listdir(given) and not force:
            raise UserError(f"output directory {given!r} is not empty; pass --force to write into it "
                            f"(files the emitter writes are replaced, others are left alone)")
        try:
            os.makedirs(given, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create output directory {given!r}: {exc.strerror or exc}") from None
        self.given = given
        self.root = os.path.realpath(given)
        self.written: list[str] = []

    def check(self, rel: str) -> str:
        """The absolute path of `rel` (a '/'-separated relative path); refuses one that would leave
        the output directory: absolute, `..`, or through a symbolic link that points out."""
        parts = rel.split("/")
        if os.path.isabs(rel) or rel.startswith("\\") or any(p in ("", ".", "..") for p in parts):
            raise UserError(f"refusing to write {rel!r}: the path escapes the output directory {self.given!r}")
        current = self.root
        for part in parts:
            current = os.path.join(current, part)
            if os.path.islink(current) and not _inside(os.path.realpath(current), self.root):
                raise UserError(f"refusing to write {rel!r}: {current} is a symbolic link out of the output "
                                f"directory (to {os.path.realpath(current)})")
        return current

    def path(self, rel: str) -> str:
        """`check(rel)`, with the parent directories created."""
        target = self.check(rel)
        current = self.root
        for part in rel.split("/")[:-1]:
            current = os.path.join(current, part)
            if not os.path.isdir(current):
                if os.path.lexists(current):
                    raise UserError(f"refusing to write {rel!r}: {current} exists and is not a directory")
                try:
                    os.mkdir(current)
                except OSError as exc:
                    raise UserError(f"cannot create {current!r}: {exc.strerror or exc}") from None
        if not _inside(os.path.realpath(os.path.dirname(target)), self.root):
            raise UserError(f"refusing to write {rel!r}: it resolves outside the output directory {self.given!r}")
        return target

    def write_all(self, files: dict) -> None:
        """Check every path first, then write: a refused path leaves nothing half-written."""
        for rel in files:
            self.check(rel)
        for rel, data in files.items():
            self.write(rel, data)

    def write(self, rel: str, data: str | bytes) -> str:
        """A new file at `rel`: written under a temporary name beside it, then renamed over the old
        entry, so that no link (symbolic or hard) is written through and no half file is left."""
        target = self.path(rel)
        payload = data.encode("utf-8") if isinstance(data, str) else data
        folder, name = os.path.split(target)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            raise UserError(f"cannot write {rel!r} in {self.given!r}: {exc.strerror or exc}") from None
        self.written.append(rel)
        return target
