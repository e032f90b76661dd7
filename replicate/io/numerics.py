"""The CPU code paths the study's numbers are computed on: capped at AVX2, so that two CPU families differ less.

Four libraries choose their kernels by the CPU's instruction set when they run: XLA (the VAE's compiled
training step), oneDNN (TensorFlow's and PyTorch's other kernels), OpenBLAS (numpy, scipy, scikit-learn) and
MKL (PyTorch's BLAS, scVI). On an AVX-512 machine they sum in another order than on an AVX2 one, so a
training of the same seed ends elsewhere (``benchmarks/cpu_family.py``); TensorFlow also turns its oneDNN
graph rewrites on by default only on CPUs with AVX-512 VNNI, BF16 or AMX. :func:`pin` caps the four at AVX2
(OpenBLAS's Haswell kernels) and turns those rewrites off, on x86-64 only (elsewhere the libraries' own
defaults stand): the widest set every x86-64 server of the last decade has. On an AVX2 machine it changes
no bit. Capped, an AVX-512 machine still trains other VAEs than an AVX2 one (the same benchmark), so the
committed study is made on one family and the latent store keys its entries by the family as well.

``import replicate`` pins before it imports anything else, so a ``replicate`` command and every process it
starts (notebook kernels, grid and training workers) run capped. In a session that loaded numpy first,
OpenBLAS keeps the kernels it chose; :func:`effective` then reports those, so caches are keyed by what is in
effect. ``REPLICATE_NATIVE_CPU=1`` (set before ``import replicate``) turns the caps off: faster on AVX-512,
and the numbers then belong to that machine.
"""

from __future__ import annotations

import functools
import os
import platform
import sys

__all__ = ["PINS", "effective", "pin"]

#: The settings :func:`pin` adds on x86-64 when a variable does not already choose: (variable, value, what it caps).
PINS = (
    ("XLA_FLAGS", "--xla_cpu_max_isa=AVX2", "XLA's generated CPU code"),
    ("ONEDNN_MAX_CPU_ISA", "AVX2", "oneDNN's kernels (TensorFlow, PyTorch)"),
    ("TF_ENABLE_ONEDNN_OPTS", "0", "TensorFlow's oneDNN graph rewrites (on by default on AVX-512 VNNI machines)"),
    ("MKL_ENABLE_INSTRUCTIONS", "AVX2", "MKL's kernels (PyTorch's BLAS: scVI)"),
    ("OPENBLAS_CORETYPE", "Haswell", "OpenBLAS's kernels (numpy, scipy, scikit-learn)"),
)

_OFF = "REPLICATE_NATIVE_CPU"


def _x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


def _has_avx2() -> bool:
    """True on an x86-64 Linux machine whose CPU has AVX2 and FMA (Haswell's kernels would not run on less)."""
    if not _x86():
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.partition(":")[2].split() for line in f if line.startswith("flags")), [])
    except OSError:  # not Linux: leave OpenBLAS as it is
        return False
    return "avx2" in flags and "fma" in flags


def pin(environ: dict | None = None, *, avx2: bool | None = None, x86: bool | None = None) -> dict[str, str]:
    """Cap XLA, oneDNN, MKL and OpenBLAS at AVX2 in ``environ`` (``os.environ``) where nothing chooses already.

    A variable the user set is kept (an ``XLA_FLAGS`` without ``--xla_cpu_max_isa`` gains it). Only on x86-64
    (``x86``: read from the machine when ``None``); OpenBLAS only where the CPU has AVX2 and FMA (``avx2``).
    Nothing is set when ``REPLICATE_NATIVE_CPU`` is 1. Returns what was set.
    """
    env = os.environ if environ is None else environ
    if env.get(_OFF, "") not in ("", "0") or not (_x86() if x86 is None else x86):
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


@functools.cache
def _openblas_loaded() -> str:
    """The kernels of the OpenBLAS libraries numpy and scipy loaded (fixed once loaded)."""
    from threadpoolctl import threadpool_info

    found = sorted({str(i.get("architecture")) for i in threadpool_info() if i.get("internal_api") == "openblas"})
    return "/".join(found) or "none"


def effective(environ: dict | None = None) -> str:
    """The caps in effect, as one line for a record or a cache key ("native" where none applies): OpenBLAS's
    kernels as loaded when numpy is, the others as the environment sets them for their first use."""
    env = os.environ if environ is None else environ
    isa = next((f.partition("=")[2] for f in env.get("XLA_FLAGS", "").split() if "xla_cpu_max_isa" in f), "")
    blas = _openblas_loaded() if environ is None and "numpy" in sys.modules else env.get("OPENBLAS_CORETYPE") or "native"
    rewrites = {"0": "off", "1": "on"}.get(env.get("TF_ENABLE_ONEDNN_OPTS", ""), "default")
    return (f"xla {isa or 'native'}, onednn {env.get('ONEDNN_MAX_CPU_ISA') or 'native'} (tf rewrites {rewrites}), "
            f"mkl {env.get('MKL_ENABLE_INSTRUCTIONS') or 'native'}, openblas {blas}")
