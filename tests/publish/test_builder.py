"""Running jupyter-book: one line per page it reads or writes, a heartbeat in a silence, its last lines kept."""

from __future__ import annotations

import sys

from replicate.publish import builder


def test_the_book_build_says_each_page_and_that_it_is_still_working(capsys):
    """jupyter-book's coloured, carriage-return progress becomes one line per page; a silence gets a heartbeat."""
    script = ("import sys, time\n"
              "sys.stdout.write('\\x1b[01mreading sources... \\x1b[39;49;00m[ 50%] \\x1b[35m01_data\\x1b[39;49;00m\\r')\n"
              "sys.stdout.write('\\x1b[01mreading sources... \\x1b[39;49;00m[100%] \\x1b[35mintro\\x1b[39;49;00m\\n')\n"
              "sys.stdout.flush(); time.sleep(1.5)\n"
              "print('writing output... [100%] intro'); print('some error'); sys.exit(3)\n")
    code, tail = builder.run_build([sys.executable, "-c", script], every_s=0.5)
    out = capsys.readouterr().out
    assert code == 3 and "some error\n" in "".join(tail)
    lines = [line.strip() for line in out.splitlines()]
    assert lines[:2] == ["book: reading 01_data (50%)", "book: reading intro (100%)"]
    assert any(line.startswith("book: still building") for line in lines) and lines[-1] == "book: writing intro (100%)"
