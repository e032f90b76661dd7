"""Does a VAE training depend on the CPU family, and can an engine setting make it not?

The committed study was made on an AVX-512 machine; a training of the same seed on an AVX2 machine ends at
another loss (seed 0 of the paper's configuration on the paper's cells: 891.89 committed, 905.95 on AVX2),
so the study's training steps can only be re-made on its own family. TensorFlow's oneDNN kernels pick their
code path by the CPU's instruction set at run time; its Eigen kernels are compiled into the wheel. This script
trains seed 0 of the paper's configuration once per setting of ``TF_ENABLE_ONEDNN_OPTS`` (each in a fresh
process, with an empty cache) and prints and writes (``--json``) a hash of the z-scored input, the final loss
and a hash of the latents (encoded after training) with
the machine's family and BLAS kernels, beside the committed run's loss for that seed. Run it on two families:
a setting whose hash is the same on both makes trainings comparable across them.

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
import numpy as np
import replicate as rp
from replicate.publish import steps
adata = steps.prepare("pbmc2100-top2000")
x = np.ascontiguousarray(adata.X, dtype=np.float32)
rp.tl.vae(adata, config=rp.VAEConfig(batch_norm=True, epochs={epochs}), seed=0, key_added="X_vae")
loss = adata.uns["X_vae"]["history"]["loss"]
mu = np.ascontiguousarray(adata.obsm["X_vae"], dtype=np.float32)
print("RESULT " + json.dumps({{"final_loss": float(loss[-1]), "zscores_sha256": hashlib.sha256(x.tobytes()).hexdigest(),
                               "latents_sha256": hashlib.sha256(mu.tobytes()).hexdigest()}}))
"""


def _train(onednn: str, epochs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="replicate-cpu-family-") as cache:
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "REPLICATE_CACHE_DIR": cache}
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD.format(epochs=epochs)], env=env, cwd=ROOT,
                              capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode or line is None:
        raise SystemExit(f"training with TF_ENABLE_ONEDNN_OPTS={onednn} failed:\n{done.stderr[-3000:]}")
    return {"TF_ENABLE_ONEDNN_OPTS": onednn, **json.loads(line[7:]), "seconds": round(time.perf_counter() - t0, 1)}


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
    for onednn in ("1", "0"):
        row = _train(onednn, args.epochs)
        out["trainings"].append(row)
        print(f"TF_ENABLE_ONEDNN_OPTS={onednn}: z-scores {row['zscores_sha256'][:16]}, final loss "
              f"{row['final_loss']!r}, latents {row['latents_sha256'][:16]}, {row['seconds']} s", flush=True)
    print(f"committed (made on the study's machine): final loss {out['committed_final_loss_seed0']!r}; "
          f"this machine: {out['machine']['family']}; BLAS {out['machine']['blas']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
