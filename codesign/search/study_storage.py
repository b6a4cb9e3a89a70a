"""The study's database: an Optuna RDBStorage with heartbeats, whose row locks hold on SQLite too.

Several processes share one study through it; a trial whose process stops beating is failed by Optuna.
"""
from __future__ import annotations

import time

from accel_sim.errors import UserError

HEARTBEAT_S, GRACE_S = 10, 60      # a trial whose process stops beating for GRACE_S is failed (Optuna heartbeat)
SQLITE_BUSY_S = 60     # how long a transaction waits for another process's to end (each takes milliseconds;
                       # sqlite3's default of 5 s was seen to run out with three searches on two loaded cores)


def masked_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:   # not a URL at all: show it as typed
        return url


def open_storage(url: str):
    """An Optuna RDBStorage with heartbeats, or one error line naming the URL (password hidden)."""
    import optuna

    from codesign.boundary.services import check_storage_url
    from codesign.search.trials import requeue
    check_storage_url(url, masked_url(url))
    sqlite = url.startswith("sqlite")
    engine = {"connect_args": {"timeout": SQLITE_BUSY_S}} if sqlite else {}
    for attempt in range(3):    # processes that create a new database at the same time can collide once
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S,
                                                 grace_period=GRACE_S, heartbeat_stale_trial_callback=requeue)
            if sqlite:
                _lock_rows_on_sqlite(storage.engine)
            return storage
        except Exception as exc:   # sqlalchemy and drivers raise many types; the user needs the reason
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            if any(word in reason for word in ("IntegrityError", "locked", "already exists")):
                time.sleep(0.5 * (attempt + 1))
                continue
            break
    raise UserError(f"cannot open study storage {masked_url(url)!r}: {reason}; give a SQLAlchemy URL "
                    "such as sqlite:///study.db or postgresql://user@host/db")


def _lock_rows_on_sqlite(engine) -> None:
    """A transaction that starts with SELECT ... FOR UPDATE begins with BEGIN IMMEDIATE on SQLite.

    Optuna locks a row with SELECT ... FOR UPDATE where a read and a write must be one step: numbering
    a new trial (the study's row) and changing a trial's state (taking a queued trial, finishing one).
    SQLite has no row locks and drops FOR UPDATE: two processes could both read a queued trial as
    WAITING and both run it. BEGIN IMMEDIATE takes SQLite's write lock before the read instead, which
    makes those steps atomic; other transactions, reads above all, still run side by side."""
    from sqlalchemy import event

    def begin_locked(connection, cursor, statement, parameters, context, executemany) -> None:
        select = getattr(getattr(context, "compiled", None), "statement", None)
        if getattr(select, "_for_update_arg", None) is not None and not cursor.connection.in_transaction:
            cursor.execute("BEGIN IMMEDIATE")

    event.listen(engine, "before_cursor_execute", begin_locked)


__all__ = ["open_storage", "masked_url", "HEARTBEAT_S", "GRACE_S"]
