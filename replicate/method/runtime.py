"""Runtime guards for a fit: one BLAS/OpenMP thread, a time limit, and its warnings and errors captured.

Every clustering fit and score -- a grid cell, a baseline, the uncertainty comparison -- runs
under these, so its numbers do not depend on the executor and a failing fit is a row, not a crash.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import warnings
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["single_threaded", "CellTimeout", "time_limit", "capture"]


def single_threaded() -> Any:
    """BLAS and OpenMP limited to one thread, for every fit and score of a cell.

    Two reasons: the numbers then do not depend on the executor (local, loky or Dask: measured
    bit-identical under one thread, not always with more), and cells, not threads, are the parallel work; OpenMP threads competing for busy cores
    made one OPTICS fit on 200 points take 9.4 s instead of 0.09 s (measured on 2 loaded cores).
    """
    return threadpool_limits(limits=1)



class CellTimeout(Exception):
    """A grid cell ran past its time limit."""



@contextlib.contextmanager
def time_limit(seconds: float | None) -> Any:
    """Raise :class:`CellTimeout` in this thread after ``seconds`` (None: no limit).

    Uses SIGALRM, so it works in a process's main thread (the local and joblib workers run cells
    there); elsewhere (a Dask worker thread) the cell runs without a limit. Fits are interrupted
    between Python steps: scikit-learn's iterations (ARPACK's reverse communication, affinity
    propagation's updates) return to Python often.
    """
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise CellTimeout(f"time limit of {seconds:g} s reached")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)



def capture(fit: Any, *, limit: float | None = None) -> tuple[np.ndarray | None, list[str], float]:
    """Run ``fit()``: its labels (None if it raised or timed out), the warnings and error as text, and seconds.

    catch_warnings is process-wide: fine in loky/Dask worker processes, not across threads.
    """
    pred: np.ndarray | None = None
    error: list[str] = []
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            with time_limit(limit):
                pred = np.asarray(fit())
        except CellTimeout as exc:
            error.append(f"timeout: {exc}")
        except Exception as exc:  # a failing cell is a row, not a crash of the grid
            error.append(f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - t0
    return pred, [f"{w.category.__name__}: {w.message}" for w in records] + error, seconds

