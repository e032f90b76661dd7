"""What the person waiting on a recipe run sees, and what each fit costs.

- :func:`heartbeat`: a line at least every 15 s while a stage runs (a long clustering cell, scVI's
  epochs), naming the stage, the elapsed time and the latest detail (e.g. scVI's epoch);
- :func:`scvi_epochs`: scVI's epochs as that detail (:mod:`replicate.paper.scvi` trains with
  Lightning's progress bar off; this adds a callback to its ``train`` call for the duration), and
  Lightning's and scVI's own lines (accelerators found, tips, warnings) into the run's log instead of the
  terminal;
- :func:`peak_memory`: the peak resident memory of this process during one fit, by resetting the
  kernel's high-water mark first (Linux's ``/proc/self/clear_refs``; NaN where unavailable).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..io import progress
from ..io.memory import peak_rss_bytes, reset_peak, rss_bytes

__all__ = ["EVERY_S", "NOISY_LOGGERS", "detail", "heartbeat", "third_party_to", "scvi_epochs", "peak_memory"]

#: Seconds between heartbeat lines.
EVERY_S = 15.0
#: The latest detail of the running stage (set by the work, read by the heartbeat).
detail: dict[str, str] = {"text": ""}
#: The loggers whose lines are for a log, not for the person waiting ("GPU available: False", "Seed set to 0", tips).
NOISY_LOGGERS = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric", "scvi")


@contextlib.contextmanager
def heartbeat(stage: str, *, every_s: float = EVERY_S) -> Iterator[None]:
    """Report ``stage``, its elapsed time and :data:`detail` every ``every_s`` seconds until the block ends."""
    stop, t0 = threading.Event(), time.monotonic()

    def beat() -> None:
        while not stop.wait(every_s):
            extra = f": {detail['text']}" if detail["text"] else ""
            progress.report(f"{stage}: still running, {time.monotonic() - t0:.0f} s{extra}")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        detail["text"] = ""


def _epoch_callback() -> Any:
    from lightning.pytorch.callbacks import Callback

    class EpochDetail(Callback):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            detail["text"] = f"scVI epoch {trainer.current_epoch + 1} of {trainer.max_epochs}"

    return EpochDetail()


@contextlib.contextmanager
def third_party_to(log: str | Path | None) -> Iterator[None]:
    """While the block runs, the :data:`NOISY_LOGGERS`' lines and every Python warning go to the file ``log``
    (appended), not to the terminal; with ``log`` None, nothing changes. Import the libraries first: Lightning
    gives its loggers their own terminal handler when it is imported."""
    if log is None:
        yield
        return
    handler = logging.FileHandler(log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    saved = [(lg, lg.handlers[:], lg.propagate) for lg in map(logging.getLogger, NOISY_LOGGERS)]
    for lg, _, _ in saved:
        lg.handlers, lg.propagate = [handler], False

    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        # the file's name only: its folder is this machine's
        handler.stream.write(warnings.formatwarning(message, category, Path(filename).name, lineno, line))
        handler.stream.flush()

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers, lg.propagate = handlers, propagate
        handler.close()


@contextlib.contextmanager
def scvi_epochs(*, threads: int | None = None, log: str | Path | None = None) -> Iterator[None]:
    """While the block runs, every ``scvi.model.SCVI.train`` call reports its epochs through :data:`detail`
    (and PyTorch uses ``threads`` threads when given; its own default otherwise); with ``log``, Lightning's
    and scVI's own lines go there (:func:`third_party_to`)."""
    try:
        import scvi
        import torch
    except ImportError:  # nothing to watch
        yield
        return
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    original = scvi.model.SCVI.train

    def train(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), _epoch_callback()]
        return original(self, *args, **kwargs)

    scvi.model.SCVI.train = train
    try:
        with third_party_to(log):
            yield
    finally:
        scvi.model.SCVI.train = original
        torch.set_num_threads(before)


@contextlib.contextmanager
def peak_memory() -> Iterator[dict[str, float]]:
    """Yields a dict filled when the block ends: ``peak_rss_mb`` (this process's peak during the block)
    and ``rss_before_mb``; both NaN where the kernel's high-water mark cannot be reset."""
    out = {"peak_rss_mb": float("nan"), "rss_before_mb": float("nan")}
    resettable = reset_peak()
    before = rss_bytes()
    try:
        yield out
    finally:
        if resettable and before is not None:
            out.update(peak_rss_mb=round(peak_rss_bytes() / 2**20, 1), rss_before_mb=round(before / 2**20, 1))
