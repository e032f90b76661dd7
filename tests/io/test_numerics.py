"""The caps on the CPU kernels' instruction set (replicate.io.numerics)."""

import os
import subprocess
import sys

from replicate.io import numerics

CAPPED = ("xla AVX2, onednn AVX2 (tf rewrites off), mkl AVX2, openblas Haswell")


def test_pin_caps_every_library_where_nothing_chooses():
    env: dict[str, str] = {}
    added = numerics.pin(env, avx2=True, x86=True)
    assert env == {"XLA_FLAGS": "--xla_cpu_max_isa=AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "0",
                   "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell"}
    assert added == env
    assert numerics.effective(env) == CAPPED


def test_pin_keeps_what_the_user_chose_and_adds_the_cap_to_other_xla_flags():
    env = {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false", "OPENBLAS_CORETYPE": "SkylakeX"}
    numerics.pin(env, avx2=True, x86=True)
    assert env["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false --xla_cpu_max_isa=AVX2"
    assert env["OPENBLAS_CORETYPE"] == "SkylakeX"
    mine = {"XLA_FLAGS": "--xla_cpu_max_isa=AVX512", "TF_ENABLE_ONEDNN_OPTS": "1"}
    numerics.pin(mine, avx2=True, x86=True)
    assert mine["XLA_FLAGS"] == "--xla_cpu_max_isa=AVX512" and mine["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert numerics.effective(mine).startswith("xla AVX512, onednn AVX2 (tf rewrites on),")


def test_no_openblas_pin_without_avx2_none_off_x86_and_none_when_turned_off():
    env: dict[str, str] = {}
    numerics.pin(env, avx2=False, x86=True)  # Haswell's kernels would be illegal instructions there
    assert "OPENBLAS_CORETYPE" not in env and env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    arm: dict[str, str] = {}
    assert numerics.pin(arm, avx2=False, x86=False) == {} and arm == {}  # XLA's own default (NEON) stands there
    off = {"REPLICATE_NATIVE_CPU": "1"}
    assert numerics.pin(off, avx2=True, x86=True) == {} and set(off) == {"REPLICATE_NATIVE_CPU"}
    assert numerics.effective(off) == "xla native, onednn native (tf rewrites default), mkl native, openblas native"


def _child(code: str, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {p for p, _, _ in numerics.PINS} | {"REPLICATE_NATIVE_CPU"}}
    return subprocess.run([sys.executable, "-c", code], env={**env, **extra}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_replicate_pins_before_numpy_loads_openblas():
    # the caps each library would read when numpy is first imported (OpenBLAS reads its own at load)
    code = """
import builtins, os
seen, real = {}, builtins.__import__
def hook(name, *args, **kwargs):
    if name.split(".")[0] == "numpy" and not seen:
        seen.update(xla=os.environ.get("XLA_FLAGS"), blas=os.environ.get("OPENBLAS_CORETYPE"))
    return real(name, *args, **kwargs)
builtins.__import__ = hook
import replicate
replicate.tl  # the face loads numpy, scanpy, scikit-learn
print(seen)
"""
    blas = "'Haswell'" if numerics._has_avx2() else "None"
    assert _child(code) == "{'xla': '--xla_cpu_max_isa=AVX2', 'blas': " + blas + "}"


def test_effective_reports_the_openblas_kernels_numpy_loaded_not_the_request():
    # numpy loaded with other kernels, the variable changed afterwards: the record says what was loaded
    code = ("import os\nos.environ['OPENBLAS_CORETYPE'] = 'Sandybridge'\nimport numpy\n"
            "os.environ['OPENBLAS_CORETYPE'] = 'Haswell'\nimport replicate\nfrom replicate.io import numerics\n"
            "print(numerics.effective())")
    if numerics._has_avx2():
        assert _child(code).endswith("openblas Sandybridge")


def test_the_latent_store_key_holds_the_caps(monkeypatch):
    import numpy as np

    from replicate.method import latents
    from replicate.method.vae_config import VAEConfig

    X = np.zeros((4, 3), dtype=np.float32)
    capped = latents.entry_paths(X, VAEConfig(), 0)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_max_isa=AVX512")
    assert latents.entry_paths(X, VAEConfig(), 0) != capped
