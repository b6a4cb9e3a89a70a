"""Addresses a user gives: a study's database URL and a Dask scheduler, checked before any work starts.

The scheme is checked, in-memory databases refused, and a network address must answer a TCP connect.
"""
from __future__ import annotations

import os
import re
import socket
from urllib.parse import urlsplit

from codesign.errors import UserError

CONNECT_TIMEOUT_S = 3.0     # a LAN or cloud host answers a TCP connect in milliseconds; 3 s allows a slow VPN
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
DASK_DEFAULT_PORT = 8786    # `dask scheduler`'s default port (Dask distributed documentation)
DB_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433, "oracle": 1521}
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOST = re.compile(rf"^(\[[0-9A-Fa-f:.]+\]|{_LABEL}(\.{_LABEL})*)$")      # [IPv6] or dot-separated labels


def _reachable(host: str, port: int, what: str, label: str, hint: str) -> None:
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=CONNECT_TIMEOUT_S):
            return
    except (OSError, UnicodeError, ValueError) as err:     # UnicodeError: a name IDNA cannot encode
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise UserError(f"{what} {label!r}: nothing answers at {host}:{port} within {CONNECT_TIMEOUT_S:g} s "
                        f"({reason}); {hint}") from None


def check_storage_url(url: str, masked: str | None = None) -> None:
    """Refuse a study storage that is not a SQLAlchemy URL, is in memory, or does not answer."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    label = masked or url
    hint = "give a SQLAlchemy URL such as sqlite:///study.db or postgresql://user@host/db"
    try:
        parsed = make_url(str(url))
        parsed.get_dialect()
    except NoSuchModuleError:
        raise UserError(f"--storage {label!r}: unknown database scheme {str(url).split(':')[0]!r}; {hint}") from None
    except (ArgumentError, ValueError, TypeError):
        raise UserError(f"--storage {label!r} is not a database URL; {hint}") from None
    except ImportError as err:
        raise UserError(f"--storage {label!r} needs a database driver that is not installed ({err})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        db = parsed.database or ""
        if db in ("", ":memory:") or db.startswith("file::memory:") or "mode=memory" in str(url):
            raise UserError(f"--storage {label!r} is an in-memory SQLite database, which ends with the process "
                            "and cannot be resumed or shared; give a file, e.g. sqlite:///study.db")
        folder = os.path.dirname(os.path.abspath(db))
        if not os.path.isdir(folder):
            raise UserError(f"--storage {label!r}: folder {folder!r} does not exist")
        if os.path.exists(db) and not os.path.isfile(db):
            raise UserError(f"--storage {label!r}: {db!r} exists and is not a database file")
        return
    if parsed.host:
        port = parsed.port or DB_DEFAULT_PORTS.get(backend)
        if port:
            _reachable(parsed.host, port, "--storage", label, "is the database server running?")


def check_dask_address(address: str) -> None:
    """Refuse a Dask scheduler address that is malformed or where nothing listens, in seconds."""
    text = str(address).strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    example = "give the scheduler's address, e.g. tcp://10.0.0.5:8786 (`dask scheduler` prints it)"
    if scheme not in DASK_SCHEMES:
        raise UserError(f"--dask {address!r}: unknown scheme {scheme!r} (allowed: {', '.join(DASK_SCHEMES)}); {example}")
    if scheme == "inproc":
        return
    try:
        parts = urlsplit("//" + rest)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    netloc = rest.split("/")[0]
    if not host or not _HOST.match(netloc.rsplit(":", 1)[0] if port else netloc):
        raise UserError(f"--dask {address!r} is not an address; {example}")
    _reachable(host, port or DASK_DEFAULT_PORT, "--dask", address,
               "start one with `dask scheduler` and workers with `dask worker ADDRESS`")
