"""The runtime guards of every fit: one thread, a time limit, warnings and errors captured as text."""

from __future__ import annotations

import time
import warnings

import numpy as np
from threadpoolctl import threadpool_info

from replicate.method.runtime import capture, single_threaded, time_limit


def test_capture_returns_the_labels_the_warnings_and_the_seconds():
    def fit():
        warnings.warn("did not converge", RuntimeWarning)
        return [0, 1, 1]

    pred, caught, seconds = capture(fit)
    assert pred.tolist() == [0, 1, 1] and caught == ["RuntimeWarning: did not converge"] and seconds >= 0


def test_a_failing_fit_is_text_not_a_crash():
    def fit():
        raise ValueError("singular matrix")

    pred, caught, _ = capture(fit)
    assert pred is None and caught == ["ValueError: singular matrix"]


def test_a_fit_past_its_time_limit_is_stopped_and_said_so():
    def slow():
        while True:
            time.sleep(0.01)

    t0 = time.perf_counter()
    pred, caught, _ = capture(slow, limit=0.1)
    assert pred is None and caught == ["timeout: time limit of 0.1 s reached"]
    assert time.perf_counter() - t0 < 5
    with time_limit(None):  # no limit: nothing is armed
        assert np.sum([1, 2]) == 3


def test_single_threaded_limits_blas_and_openmp_to_one_thread():
    with single_threaded():
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
