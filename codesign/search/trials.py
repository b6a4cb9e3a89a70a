"""Trials of a study shared by several processes: a point is claimed before it is evaluated, and a
trial whose process died is failed, its point queued again only if all its parameters were chosen.

The claim is an Optuna user attribute written once the trial's parameters are all in the study; each
process reads the others' claims after writing its own, so of two that claim at once the later always
sees the earlier. A point held by another trial is not evaluated, nor is one past the study's budget.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from dataclasses import dataclass

CLAIM = "point"          # user attribute: the point's key, written after its last parameter
WORKER = f"{socket.gethostname()}:{os.getpid()}"
MAX_RETRIES = 3          # a point whose process died 3 times is not queued again (Optuna's RetryFailedTrialCallback
                         # default): a point that kills its process would otherwise do so for ever
NAMING_S = 1.0           # a live process names itself on its trial within milliseconds of creating it


@dataclass(frozen=True)
class Census:
    """What the study holds now: finished points (key -> row) and points claimed by running trials."""
    done: dict
    claimed: dict       # trial number -> point key

    def taken(self) -> set:
        return set(self.done) | set(self.claimed.values())

    def busy(self) -> int:
        """Points evaluated or being evaluated: what counts against the budget."""
        return len(self.done) + len(self.claimed)


def census(study, exclude: int | None = None) -> Census:
    from optuna.trial import TrialState

    done, claimed = {}, {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)):
        if trial.state == TrialState.COMPLETE:
            done.setdefault(trial.user_attrs["row"]["hash"], trial.user_attrs["row"])
        elif CLAIM in trial.user_attrs and trial.number != exclude:
            claimed[trial.number] = trial.user_attrs[CLAIM]
    return Census(done, claimed)


def claim(study, trial, key: str) -> Census:
    """Write `trial`'s claim on point `key`, then read what every other trial holds."""
    trial.set_user_attr(CLAIM, key)
    return census(study, exclude=trial.number)


def requeue(study, trial) -> bool:
    """Queue a failed trial's point again if the trial had claimed it (its parameters were complete);
    a trial that died while choosing them is discarded. Also Optuna's heartbeat callback for trials it
    fails as stale."""
    retries = int(trial.user_attrs.get("retries", 0))
    if CLAIM not in trial.user_attrs or retries >= MAX_RETRIES:
        return False
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, "retries": retries + 1})
    return True


def fail_and_requeue(study, number: int) -> bool:
    """Fail trial `number` unless another process has finished it first; requeue its point if claimed."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    try:
        study.tell(number, state=TrialState.FAIL)
    except (ValueError, UpdateFinishedTrialError):      # finished (or failed) by someone else meanwhile
        return False
    requeue(study, study.get_trials(deepcopy=False)[number])
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_trials(study, unnamed: bool = True) -> int:
    """Fail the RUNNING trials of processes of this machine that no longer exist (another machine's
    are failed by Optuna's heartbeat after its grace period). With `unnamed`, a RUNNING trial that
    names no process after NAMING_S was killed between its creation and its first line: the same."""
    from optuna.trial import TrialState

    def dead(trial) -> bool:
        host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    lost = [t.number for t in running if dead(t)]
    nameless = {t.number for t in running if "worker" not in t.user_attrs} if unnamed else set()
    if nameless:
        time.sleep(NAMING_S)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        lost += [t.number for t in running if t.number in nameless and "worker" not in t.user_attrs]
    return sum(fail_and_requeue(study, number) for number in lost)


class StopAtBoundary:
    """Ctrl-C during a search: while a point is being evaluated it abandons the evaluation at once
    (the trial is failed and its point queued again); anywhere else, inside Optuna's storage calls,
    it only asks the loop to stop before its next trial, so no write to the study is cut in half.
    Outside the main thread (no signal handlers there) Ctrl-C is left as it is."""

    def __init__(self):
        self.requested = False
        self._evaluating = False
        self._previous = None

    def _handle(self, signum, frame):
        self.requested = True
        if self._evaluating:
            raise KeyboardInterrupt

    def __enter__(self):
        with contextlib.suppress(ValueError):           # ValueError: not the main thread
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    @contextlib.contextmanager
    def evaluating(self):
        if self.requested:
            raise KeyboardInterrupt
        self._evaluating = True
        try:
            yield
        finally:
            self._evaluating = False


__all__ = ["CLAIM", "WORKER", "Census", "census", "claim", "requeue", "fail_and_requeue", "recover_dead_trials",
           "StopAtBoundary"]
