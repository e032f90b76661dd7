"""Running jupyter-book for a book of this package: the executable of this environment, and a build that
says which page it reads and writes as it goes (one line per page, a heartbeat in a silence) and keeps its
last lines for the error message."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from ..io.errors import ReplicateError

__all__ = ["jupyter_book", "run_build"]


def jupyter_book() -> str:
    """The jupyter-book executable of this environment (beside the interpreter, else on PATH)."""
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return str(exe)
    found = shutil.which("jupyter-book")
    if not found:
        raise ReplicateError("jupyter-book is not installed; run `pip install -e .` in this environment.")
    return found


#: Terminal colours, which jupyter-book turns on even in a pipe.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Sphinx's line for each page it reads or writes ("reading sources... [ 40%] 03_clustering").
_PAGE_LINE = re.compile(r"^(reading sources|writing output)\.\.\. \[\s*(\d+)%\] (\S+)")


def run_build(cmd: list[str], *, every_s: float = 14.0) -> tuple[int, deque[str]]:
    """Run the book build, saying which page it reads and writes as it goes and that it is still working after
    ``every_s`` seconds of silence (under 15 s with the half-second check); return its exit code and its last
    lines (for the error message)."""
    t0 = last = time.monotonic()
    tail: deque[str] = deque(maxlen=200)
    done = threading.Event()

    def beat() -> None:
        nonlocal last
        while not done.wait(0.5):
            if time.monotonic() - last >= every_s:
                print(f"  book: still building, {time.monotonic() - t0:.0f} s", flush=True)
                last = time.monotonic()

    # text mode reads Sphinx's carriage-return progress (one page per "\r") as separate lines
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    threading.Thread(target=beat, daemon=True).start()
    try:
        for line in proc.stdout:
            tail.append(line if line.endswith("\n") else line + "\n")
            page = _PAGE_LINE.match(_ANSI.sub("", line).strip())
            if page:
                print(f"  book: {page[1].split()[0]} {page[3]} ({page[2]}%)", flush=True)
                last = time.monotonic()
        return proc.wait(), tail
    finally:
        done.set()
        if proc.poll() is None:
            proc.kill()
