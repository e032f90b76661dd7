import subprocess
import sys

import numpy as np

CHILD = "from replicate.io.memory import peak_rss_bytes; print(peak_rss_bytes())"


def test_peak_grows_with_what_a_process_touches():
    # in a fresh process: this test session's own high-water mark may already be far above
    code = ("import numpy as np; from replicate.io.memory import peak_rss_bytes, peak_rss_gb; a = peak_rss_bytes(); "
            "b = np.ones(300 * 2**20 // 8); print(a, peak_rss_bytes(), peak_rss_gb())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, gb = out.stdout.split()
    assert int(after) >= int(before) + 250 * 2**20
    assert abs(float(gb) - int(after) / 2**30) < 0.01


def test_a_child_reports_its_own_peak_not_its_parents():
    held = np.ones(600 * 2**20 // 8)  # the parent holds 600 MiB when it starts the child
    held[::4096] += 1
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    child = int(out.stdout.strip())
    # ru_maxrss would report >= 600 MiB here (Linux carries the parent's high-water mark across exec)
    assert child < 300 * 2**20, child
    assert child > 5 * 2**20  # a Python interpreter, not zero
    del held


def test_current_resident_set_and_a_reset_peak_measure_the_block_that_follows():
    # in a fresh process: after the 400 MiB block is freed, the reset mark must fall back near the current set
    code = ("import numpy as np; from replicate.io.memory import peak_rss_bytes, reset_peak, rss_bytes\n"
            "a = np.ones(400 * 2**20 // 8); high = peak_rss_bytes(); del a\n"
            "ok = reset_peak(); now = rss_bytes(); print(ok, high, now, peak_rss_bytes())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ok, high, now, after = out.stdout.split()
    assert ok == "True" and int(high) > int(now) + 350 * 2**20  # the block was freed: resident fell back
    assert int(after) < int(high) - 300 * 2**20  # the reset peak forgets the block that is gone
    assert int(now) > 5 * 2**20
