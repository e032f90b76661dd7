"""The VAE on a GPU: the paper's network trained by this package on the engine the machine has, timed against
the machine's memory-traffic bound and a reference implementation.

    python benchmarks/vae_gpu.py --json benchmarks/results/vae_gpu.json          # JAX if it sees a GPU, else PyTorch
    python benchmarks/vae_gpu.py --backend torch --json out.json

Two shapes, synthetic z-scored values (a network's speed does not depend on them): the paper's full data
(4,271 cells x 16,449 genes) and the committed study's (2,100 x 2,000). The paper's network and loop
(2,048 -> 32 -> 128, batch normalisation, batch 16, 30 epochs, Adam): for each shape one VAE (the first,
compilation included) and then the paper's 10 seeds one after another, through
:func:`replicate.method.vae_train.train` -- the trainer every study uses.

**The memory-traffic bound**: a step reads every weight for the forward and again for the backward pass,
writes its gradient, and Adam reads weight, gradient and both moments and writes three of them back: ten
passes over the parameters (float32), times the steps, over the device's copy bandwidth measured here.
**The reference**: a plain PyTorch implementation of the same network on one H200 (not this package's
code), from the issue that asked for this benchmark: its one VAE eager and with each epoch a replayed
CUDA graph, and 10 VAEs side by side with stacked weights.

Every figure is this machine's (the JSON says ``machine_specific``). On a machine without a GPU the script
says so and exits 2: the CPU figures are ``benchmarks/vae_speed.py``'s. It needs only Keras, NumPy and the
engine (no TensorFlow): on a machine without the package's other dependencies (the lent GPU machine has
no anndata, scanpy or pooch) the modules the trainer never calls are stood in for.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"paper-full": (4271, 16449), "study": (2100, 2000)}
#: One H200, fp32, batch 16, 30 epochs, batch normalisation (seconds): a plain PyTorch implementation.
REFERENCE = {"paper-full": {"one_eager": 27.9, "one_graphed": 12.5, "ten_side_by_side": 98.5, "ten_bound": 26.7},
             "study": {"one_eager": 14.3, "one_graphed": 2.2, "ten_side_by_side": 8.1, "ten_bound": 1.6}}
#: Passes over the float32 parameters per step (see the module's docstring).
PASSES = 10


def _backend(asked: str | None) -> str:
    if asked:
        return asked
    if importlib.util.find_spec("jax"):
        import jax

        if jax.default_backend() == "gpu":
            return "jax"
    return "torch"


def _stand_ins() -> None:
    """Load the package without its face (``replicate/__init__``), standing in for the libraries the trainer
    never calls, where they are missing."""
    for name in ("anndata", "scanpy", "pooch"):
        try:
            importlib.import_module(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.AnnData = type("AnnData", (), {})
            stub.os_cache = lambda project: Path.home() / ".cache" / project
            sys.modules[name] = stub
    if "replicate" not in sys.modules:
        spec = importlib.util.spec_from_file_location("replicate", ROOT / "replicate" / "__init__.py",
                                                      submodule_search_locations=[str(ROOT / "replicate")])
        sys.modules["replicate"] = importlib.util.module_from_spec(spec)


def _bandwidth(backend: str, n: int = 2**28) -> float:
    """Bytes per second of a device-to-device copy of ``n`` floats (1 GiB; read and write counted), mean of 10."""
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        x = jnp.ones(n, jnp.float32)
        copy = jax.jit(lambda a: a + 1.0)
        for _ in range(3):
            copy(x).block_until_ready()
        t0 = time.perf_counter()
        for _ in range(10):
            y = copy(x)
        y.block_until_ready()
    else:
        import torch

        x = torch.ones(n, device="cuda" if torch.cuda.is_available() else "cpu")
        y = torch.empty_like(x)
        for _ in range(3):
            y.copy_(x)
        sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
        sync()
        t0 = time.perf_counter()
        for _ in range(10):
            y.copy_(x)
        sync()
    return 10 * 2 * 4 * n / (time.perf_counter() - t0)


def _parameters(genes: int, cfg) -> int:
    sizes = [genes, *cfg.encoder_hidden]
    enc = sum(a * b + b for a, b in zip(sizes, sizes[1:])) + 2 * (sizes[-1] * cfg.latent_dim + cfg.latent_dim)
    sizes = [cfg.latent_dim, *cfg.decoder_hidden, genes]
    dec = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    bn = 2 * (sum(cfg.encoder_hidden) + sum(cfg.decoder_hidden)) if cfg.batch_norm else 0
    return enc + dec + bn


def _measure(shape: str, seeds: int, bandwidth: float, deadline: float, epochs: int = 30) -> dict:
    import numpy as np

    from replicate.method.vae_config import VAEConfig
    from replicate.method.vae_train import train

    cells, genes = SHAPES[shape]
    X = np.random.default_rng(0).standard_normal((cells, genes), dtype=np.float32)
    cfg = VAEConfig(epochs=epochs)
    steps = -(-cells // cfg.batch_size) * cfg.epochs
    bound = steps * PASSES * 4 * _parameters(genes, cfg) / bandwidth
    t0 = time.perf_counter()
    first = train(X, cfg, seed=0, verbose=False)
    out = {"cells": cells, "genes": genes, "steps": steps, "parameters": _parameters(genes, cfg),
           "first_vae_seconds": time.perf_counter() - t0, "first_epoch_seconds": first.history["seconds"][0],
           "later_epoch_seconds": float(np.median(first.history["seconds"][1:])), "bound_one_vae_seconds": bound,
           "final_loss": first.history["loss"][-1], "reference": REFERENCE[shape]}
    times = []
    for seed in range(seeds):
        if time.perf_counter() > deadline:
            break
        t0 = time.perf_counter()
        res = train(X, cfg, seed=seed, verbose=False)
        times.append(time.perf_counter() - t0)
        assert np.isfinite(res.history["loss"][-1])
    if times:
        one = float(np.median(times))
        out.update(seeds_trained=len(times), seconds_per_vae=one, ten_vaes_seconds=float(np.sum(times)) * 10 / len(times),
                   ratio_to_bound=one / bound, ratio_to_reference_graphed=one / REFERENCE[shape]["one_graphed"],
                   ratio_to_reference_eager=one / REFERENCE[shape]["one_eager"],
                   ten_ratio_to_reference_side_by_side=float(np.sum(times)) * 10 / len(times)
                   / REFERENCE[shape]["ten_side_by_side"])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["jax", "torch"], default=None, help="default: JAX if it sees a GPU")
    p.add_argument("--seeds", type=int, default=10, help="VAEs per shape after the first (default 10)")
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--budget-s", type=float, default=480, help="stop starting trainings after this (default 480)")
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument("--epochs", type=int, default=30, help="epochs per VAE (default the paper's 30)")
    p.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)  # the script's own test
    args = p.parse_args(argv)
    start = time.perf_counter()
    backend = _backend(args.backend)
    os.environ["KERAS_BACKEND"] = backend
    _stand_ins()
    from replicate.method import vae_backends

    where = vae_backends.engine()
    if where["device"] != "gpu" and not args.allow_cpu:
        print(f"no GPU seen by {backend}: nothing to measure here (the CPU figures: benchmarks/vae_speed.py)",
              file=sys.stderr)
        return 2
    result = {"machine_specific": True, "engine": where, "epochs": args.epochs, "python": platform.python_version(),
              "bandwidth_bytes_per_s": _bandwidth(backend, 2**28 if where["device"] == "gpu" else 2**24),
              "shapes": {}}
    result["device_name"] = _device_name(backend)
    for shape in args.shapes:
        deadline = start + args.budget_s
        result["shapes"][shape] = figures = _measure(shape, args.seeds, result["bandwidth_bytes_per_s"], deadline,
                                                     args.epochs)
        _say(shape, figures)
        result["versions"] = {m: sys.modules[m].__version__ for m in ("keras", "numpy", backend) if m in sys.modules}
        if args.json:  # after each shape: a budget cut leaves what was measured
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(result, indent=1))
    print(f"{time.perf_counter() - start:.0f} s in all")
    return 0


def _device_name(backend: str) -> str:
    if backend == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"


def _say(shape: str, f: dict) -> None:
    print(f"{shape} ({f['cells']:,} x {f['genes']:,}): first VAE {f['first_vae_seconds']:.1f} s (compilation "
          f"included; epoch 1 {f['first_epoch_seconds']:.2f} s, later {f['later_epoch_seconds']:.2f} s); bound "
          f"{f['bound_one_vae_seconds']:.2f} s per VAE", flush=True)
    if "seconds_per_vae" in f:
        print(f"    {f['seeds_trained']} seeds: {f['seconds_per_vae']:.1f} s per VAE ({f['ratio_to_bound']:.1f}x the "
              f"bound, {f['ratio_to_reference_graphed']:.2f}x the reference's graphed one, "
              f"{f['ratio_to_reference_eager']:.2f}x its eager one); 10 VAEs {f['ten_vaes_seconds']:.0f} s "
              f"({f['ten_ratio_to_reference_side_by_side']:.2f}x the reference's 10 side by side)", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
