"""Does a VAE training depend on the CPU family, and do the package's caps make it not?

The first study was made on an AVX-512 machine; a training of the same seed on an AVX2 machine ends at
another loss (seed 0 of the paper's configuration on the paper's cells: 891.89 there, 905.95 on AVX2). The
cause is the kernels' instruction set: XLA (the compiled training step), oneDNN and OpenBLAS pick their code
by the CPU at run time (on AVX2, capping XLA at AVX moves the loss to 896.27; turning oneDNN off moves only
the encoding after training). ``import replicate`` now caps all three at AVX2 (:mod:`replicate.io.numerics`).
This script trains seed 0 of the paper's configuration with the caps and without them
(``REPLICATE_NATIVE_CPU=1``), each in a fresh process with an empty cache, and prints and writes (``--json``)
a hash of the z-scored input, the final loss and a hash of the latents (encoded after training), with the
machine's family, BLAS kernels and caps. On an AVX2 machine both rows agree; on an AVX-512 machine the
capped row must equal the AVX2 machine's capped row (``benchmarks/results/cpu_family-avx2.json``) for the
study to be re-made there bit for bit. It does not (``cpu_family-avx512.json``, 2026-12-06): the z-scores
already differ in their last bits there, because numpy picks its own SIMD loops by CPU; a third row caps
those too (``NPY_DISABLE_CPU_FEATURES``), which makes the z-scores the AVX2 machine's to the bit, and shows
whether the training then is.

Usage: python benchmarks/cpu_family.py [--json benchmarks/results/cpu_family-<family>.json] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "results" / "pbmc2100-top2000" / "paper" / "02_vae" / "vae_history.csv"
CHILD = """
import hashlib, json, sys
import replicate as rp  # first: it caps OpenBLAS before numpy loads it
import numpy as np
from replicate.publish import steps
adata = steps.prepare("pbmc2100-top2000")
x = np.ascontiguousarray(adata.X, dtype=np.float32)
rp.tl.vae(adata, config=rp.VAEConfig(batch_norm=True, epochs={epochs}), seed=0, key_added="X_vae")
loss = adata.uns["X_vae"]["history"]["loss"]
mu = np.ascontiguousarray(adata.obsm["X_vae"], dtype=np.float32)
from replicate.io import numerics
print("RESULT " + json.dumps({{"caps": numerics.effective(), "final_loss": float(loss[-1]), "zscores_sha256": hashlib.sha256(x.tobytes()).hexdigest(),
                               "latents_sha256": hashlib.sha256(mu.tobytes()).hexdigest()}}))
"""


#: numpy's own SIMD loops (the z-scoring's sums) are picked by CPU too, past any BLAS cap; numpy 2.4's AVX-512 groups
NUMPY_AVX512 = "X86_V4 AVX512_ICL AVX512_SPR"
#: The settings compared: the package's caps (its default), the machine's native kernels, and the caps with numpy's
#: AVX-512 loops off as well (``NPY_DISABLE_CPU_FEATURES``; an experiment, not a package default).
SETTINGS = {"capped": {}, "native": {"REPLICATE_NATIVE_CPU": "1"},
            "capped, numpy too": {"NPY_DISABLE_CPU_FEATURES": NUMPY_AVX512}}
CAPS = ("XLA_FLAGS", "ONEDNN_MAX_CPU_ISA", "OPENBLAS_CORETYPE", "REPLICATE_NATIVE_CPU", "TF_ENABLE_ONEDNN_OPTS",
        "NPY_DISABLE_CPU_FEATURES")


def _train(setting: str, epochs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="replicate-cpu-family-") as cache:
        env = {**{k: v for k, v in os.environ.items() if k not in CAPS}, **SETTINGS[setting],
               "REPLICATE_CACHE_DIR": cache}
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD.format(epochs=epochs)], env=env, cwd=ROOT,
                              capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode or line is None:
        raise SystemExit(f"the {setting} training failed:\n{done.stderr[-3000:]}")
    return {"setting": setting, **json.loads(line[7:]), "seconds": round(time.perf_counter() - t0, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--epochs", type=int, default=30, help="epochs (30: the committed run's)")
    args = parser.parse_args()
    from replicate.publish.pipeline import run_machine

    committed = pd.read_csv(HISTORY)
    last = committed[(committed["seed"] == 0) & (committed["epoch"] == args.epochs)]["loss"]
    out = {"machine": run_machine(), "epochs": args.epochs,
           "committed_final_loss_seed0": float(last.iloc[0]) if len(last) else None,
           "trainings": [], "machine_specific": True}
    for setting in SETTINGS:
        row = _train(setting, args.epochs)
        out["trainings"].append(row)
        print(f"{setting}: caps {row['caps']}, z-scores {row['zscores_sha256'][:16]}, final loss "
              f"{row['final_loss']!r}, latents {row['latents_sha256'][:16]}, {row['seconds']} s", flush=True)
    print(f"committed (made on the study's machine): final loss {out['committed_final_loss_seed0']!r}; "
          f"this machine: {out['machine']['family']}; BLAS {out['machine']['blas']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
