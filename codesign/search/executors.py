"""Where sweep tasks run: in this process, on a local process pool, or on a Dask cluster.

All three are `concurrent.futures` executors, so the sweep has one code path for them.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor

from accel_sim.errors import UserError
from accel_sim.inputs import check_int

DASK_TIMEOUT_S = 5.0


class InlineExecutor(Executor):
    """Runs each task when it is submitted, in this process (`--workers 1`)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:   # delivered through the future, as a pool would
            future.set_exception(exc)
        return future


PR_SET_PDEATHSIG = 1     # prctl option: signal sent to this process when its parent dies (<linux/prctl.h>)
WATCH_PARENT_S = 1.0     # how often a worker without prctl checks that its parent still lives


def _worker_init(parent: int) -> None:
    """Pool workers leave Ctrl-C to the parent, which stops the sweep and keeps what was written, and
    die with the parent: a `kill -9` of the sweep leaves no worker running (nor, once they are gone,
    the resource tracker, which exits when the last process holding its pipe does).
    A worker that measures fidelity runs torch on one thread: the pool is the parallelism, and
    several multi-threaded torch processes on the same cores slow each other down many times over."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """End this process when `parent` dies: on Linux the kernel sends SIGKILL (prctl PR_SET_PDEATHSIG,
    prctl(2)); elsewhere a daemon thread polls the parent's pid. A parent already gone ends it now.
    (The kernel signals when the parent *thread* that started the worker ends: a spawn-context pool
    starts its workers in `submit`, from the sweep's own thread, which outlives the pool.)"""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:      # the parent died before prctl took effect
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_PARENT_S)
        os._exit(1)

    threading.Thread(target=watch, name="codesign-watch-parent", daemon=True).start()


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


@contextlib.contextmanager
def open_executor(workers: int | None = None, dask_address: str | None = None,
                  timeout_s: float = DASK_TIMEOUT_S):
    """Yield (executor, slots): `slots` is how many tasks run at once (to size the submission window).

    Pool workers are spawned, not forked: they start clean (no torch, no parent threads) and import
    only the simulator until a task needs more.
    """
    if dask_address:
        client = connect_dask(dask_address, timeout_s)
        try:
            slots = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
            yield client.get_executor(pure=False), max(1, slots)
        finally:
            client.close()
        return
    workers = default_workers() if workers is None else workers
    check_int(workers, "--workers")
    if workers == 1:
        yield InlineExecutor(), 1
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init,
                               initargs=(os.getpid(),))
    try:
        yield pool, workers
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def connect_dask(address: str, timeout_s: float = DASK_TIMEOUT_S):
    """A `distributed.Client` on `address` with at least one worker, or one clear error line."""
    try:
        from distributed import Client
    except ImportError:
        raise UserError("--dask needs dask.distributed: pip install 'dask[distributed]'") from None
    from codesign.boundary.services import check_dask_address
    check_dask_address(address)
    for name in ("distributed", "distributed.client", "distributed.comm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot reach the Dask scheduler at {address!r} within {timeout_s:g} s ({reason}); "
                        "start one with `dask scheduler` and workers with `dask worker ADDRESS`") from None
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except (TimeoutError, OSError):
        client.close()
        raise UserError(f"the Dask scheduler at {address!r} has no worker after {timeout_s:g} s; "
                        f"start some with `dask worker {address}`") from None
    return client
