"""The CPU code paths the study's numbers are computed on: capped at AVX2, so that two CPU families agree.

Three libraries choose their kernels by the CPU's instruction set when they run: XLA (the VAE's compiled
training step), oneDNN (TensorFlow's other kernels, such as the encoding after training) and OpenBLAS
(numpy, scipy, scikit-learn). On an AVX-512 machine they sum in another order than on an AVX2 one, so a
training of the same seed ends elsewhere: seed 0 of the paper's configuration ends at a loss of 891.89 on
the AVX-512 machine that made the first study and 905.95 on AVX2 machines, where capping XLA at AVX gives
896.27 (``benchmarks/cpu_family.py``). :func:`pin` caps all three at AVX2 (OpenBLAS's Haswell kernels),
the widest set every x86-64 server of the last decade has; on an AVX2 machine it changes nothing.

``import replicate`` pins before it imports anything else, so a ``replicate`` command and every process it
starts (notebook kernels, grid and training workers) run capped. In a session that loaded numpy first,
OpenBLAS keeps the kernels it chose (:func:`replicate.publish.pipeline.run_machine` reports the ones in
use); XLA and oneDNN read their settings on first use, so they are capped still. ``REPLICATE_NATIVE_CPU=1``
turns the caps off (faster on AVX-512; the numbers then belong to that machine).
"""

from __future__ import annotations

import os
import platform

__all__ = ["PINS", "effective", "pin"]

#: The settings :func:`pin` adds when a variable does not already choose: (variable, value, what it caps).
PINS = (
    ("XLA_FLAGS", "--xla_cpu_max_isa=AVX2", "XLA's generated CPU code"),
    ("ONEDNN_MAX_CPU_ISA", "AVX2", "TensorFlow's oneDNN kernels"),
    ("OPENBLAS_CORETYPE", "Haswell", "OpenBLAS's kernels (numpy, scipy, scikit-learn)"),
)

_OFF = "REPLICATE_NATIVE_CPU"


def _has_avx2() -> bool:
    """True on an x86-64 Linux machine whose CPU has AVX2 and FMA (Haswell's kernels would not run on less)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.partition(":")[2].split() for line in f if line.startswith("flags")), [])
    except OSError:  # not Linux: leave OpenBLAS as it is
        return False
    return "avx2" in flags and "fma" in flags


def pin(environ: dict | None = None, *, avx2: bool | None = None) -> dict[str, str]:
    """Cap XLA, oneDNN and OpenBLAS at AVX2 in ``environ`` (``os.environ``) where nothing chooses already.

    A variable the user set is kept (an ``XLA_FLAGS`` without ``--xla_cpu_max_isa`` gains it). OpenBLAS is
    pinned only on an x86-64 machine with AVX2 and FMA (``avx2``: whether it is, read from the CPU when
    ``None``). Nothing is set when ``REPLICATE_NATIVE_CPU`` is 1. Returns what was set.
    """
    env = os.environ if environ is None else environ
    if env.get(_OFF, "") not in ("", "0"):
        return {}
    avx2 = _has_avx2() if avx2 is None else avx2
    added: dict[str, str] = {}
    for name, value, _ in PINS:
        if name == "OPENBLAS_CORETYPE" and not avx2:
            continue
        current = env.get(name, "")
        if name == "XLA_FLAGS":
            if "xla_cpu_max_isa" not in current:
                env[name] = added[name] = f"{current} {value}".strip()
        elif not current:
            env[name] = added[name] = value
    return added


def effective(environ: dict | None = None) -> str:
    """The caps in effect, as one line for a record or a cache key ("native" where none applies)."""
    env = os.environ if environ is None else environ
    isa = next((f.partition("=")[2] for f in env.get("XLA_FLAGS", "").split() if "xla_cpu_max_isa" in f), "")
    return (f"xla {isa or 'native'}, onednn {env.get('ONEDNN_MAX_CPU_ISA') or 'native'}, "
            f"openblas {env.get('OPENBLAS_CORETYPE') or 'native'}")
