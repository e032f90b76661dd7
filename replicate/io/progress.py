"""Progress of long work (VAE epochs, grid cells) for the person waiting at the terminal.

Lines go to ``$REPLICATE_PROGRESS_FILE`` when it is set -- ``replicate run`` sets it for each
notebook it executes and prints the lines as they arrive, so the terminal shows progress while
the executed notebook (and the book page made from it) stays free of log lines. Without it,
lines go to standard error, where an interactive user sees them.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

__all__ = ["ENV", "report", "ReportHandler", "Throttle", "Counter", "follow"]

#: Environment variable naming the file progress lines are appended to.
ENV = "REPLICATE_PROGRESS_FILE"


def report(message: str) -> None:
    """Send one progress line to the progress file, or else to standard error."""
    target = os.environ.get(ENV)
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(message.rstrip("\n") + "\n")
    else:
        print(message, file=sys.stderr, flush=True)


class ReportHandler(logging.Handler):
    """A logging handler that sends each record through :func:`report` (the package's log lines then
    reach ``replicate run``'s terminal, not the executed notebook)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            report(self.format(record))
        except Exception:  # a log line must never break the work it describes
            self.handleError(record)


class Throttle:
    """True at most every ``every_s`` seconds (and always for ``force``): keeps the terminal readable."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s, self.last = every_s, -float("inf")

    def __call__(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self.last >= self.every_s:
            self.last = now
            return True
        return False


def _clock(seconds: float) -> str:
    return "?" if seconds != seconds or seconds == float("inf") else time.strftime("%H:%M:%S", time.gmtime(seconds))


class Counter:
    """Work items done / total, elapsed and ETA, for a long loop (grid cells, trainings).

    A tqdm bar on an interactive terminal; otherwise a line through :func:`report` at most every
    ``every_s`` seconds (and at the end), or to ``stream`` when one is given.
    """

    def __init__(self, total: int, done_before: int = 0, *, enabled: bool = True, stream: Any = None,
                 every_s: float = 10.0, label: str = "clustering", unit: str = "cells") -> None:
        self.total, self.done, self.before = total, done_before, done_before
        self.stream, self.label, self.unit, self.enabled = stream, label, unit, enabled
        self.start = time.perf_counter()
        # when the first update came, and the items done then: they also paid for start-up (compiling, loading)
        self.first: tuple[float, int] | None = None
        self.throttle = Throttle(every_s)
        self.bar = None
        interactive = not os.environ.get(ENV) and getattr(sys.stderr, "isatty", lambda: False)()
        if enabled and stream is None and interactive:
            self.bar = tqdm(total=total, initial=done_before, unit=unit.rstrip("s"), desc=label)
        elif enabled and done_before:
            self._say(f"[{label}] {done_before}/{total} {unit} already done in earlier runs")

    def _say(self, text: str) -> None:
        if self.stream is not None:
            print(text, file=self.stream, flush=True)
        else:
            report(text)

    def line(self) -> str:
        """``[label] done/total unit, elapsed hh:mm:ss, ETA hh:mm:ss``."""
        now = time.perf_counter()
        elapsed, new, left = now - self.start, self.done - self.before, self.total - self.done
        # the pace since the first update, once there is one: its start-up is not repeated
        if self.first is not None and self.done > self.first[1]:
            eta = (now - self.first[0]) / (self.done - self.first[1]) * left
        else:
            eta = elapsed / new * left if new else float("nan")
        return f"[{self.label}] {self.done}/{self.total} {self.unit}, elapsed {_clock(elapsed)}, ETA {_clock(eta)}"

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.first is None and n:
            self.first = (time.perf_counter(), self.done)
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
        elif self.throttle(force=self.done == self.total):
            self._say(self.line())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class follow:
    """Context manager: print new lines of ``path`` through ``emit`` as they are written.

    With ``heartbeat_s``, also emits ``heartbeat()`` whenever nothing arrived for that long, so a
    quiet stretch (a long clustering cell, a slow import) never leaves the terminal silent.
    """

    def __init__(self, path: str | os.PathLike, emit: Callable[[str], None], *, heartbeat_s: float | None = 15.0,
                 heartbeat: Callable[[], str] | None = None, poll_s: float = 0.5) -> None:
        # resolved now: papermill changes the working directory while a notebook runs
        self.path, self.emit, self.poll_s = Path(path).resolve(), emit, poll_s
        self.heartbeat_s, self.heartbeat = heartbeat_s, heartbeat
        self._pos = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> follow:
        self.path.write_text("", encoding="utf-8")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._drain()

    def _drain(self) -> bool:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._pos)
                data = f.read()
        except FileNotFoundError:
            return False
        end = data.rfind(b"\n")
        if end < 0:
            return False  # nothing, or half a line still being written
        self._pos += end + 1
        for line in data[:end].decode("utf-8", "replace").splitlines():
            self.emit(line)
        return True

    def _loop(self) -> None:
        quiet_since = time.monotonic()
        while not self._stop.wait(self.poll_s):
            if self._drain():
                quiet_since = time.monotonic()
            elif self.heartbeat_s and self.heartbeat and time.monotonic() - quiet_since >= self.heartbeat_s:
                self.emit(self.heartbeat())
                quiet_since = time.monotonic()
