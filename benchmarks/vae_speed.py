"""VAE training speed and memory at the paper's shapes (issue: the paper's VAE, section 4).

Prints, all measured in this one process so the ratios are fair:
- seconds per epoch of the paper configuration (genes -> 2048 -> 32 -> 128 -> genes, batch 16)
  on synthetic z-scored data of 2,100 x 16,449 and 4,271 x 16,449, for (a) our trainer
  (replicate.method.vae_train.train, XLA step) and (b) a plain Keras ``model.fit`` of the same model with
  default compile settings;
- the memory-traffic bound set by Adam (bytes moved per step x steps / measured bandwidth) and
  the FLOP bound (6 x batch x parameters per step / measured matmul rate), and the ratios;
- the same with Adam's first moment in bfloat16 (VAEConfig(optimizer_state="bfloat16")) against
  its own, smaller bound; and its effect on the loss curves and on VAE + K-means for 3 seeds on
  pbmc2100-top2000 (skipped with a message when that file is not available);
- peak resident memory of our trainer at each shape (a child process per shape, its own
  high-water mark: replicate.io.memory);
- seeds trained two at a time (processes with one thread each) against one by one;
- optionally (--real) the wall time of 10 seeds x 30 epochs on pbmc2100-top2000.

Usage: python benchmarks/vae_speed.py [--epochs 1] [--cells 2100 4271] [--real]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

GENES = 16449
BATCH = 16


def n_params(genes: int) -> int:
    """Trainable parameters of the paper's model (batch-norm scales/offsets are negligible)."""
    enc = genes * 2048 + 2048 + 2 * (2048 * 32 + 32)
    dec = 32 * 128 + 128 + 128 * genes + genes
    return enc + dec


def bytes_per_step(genes: int, batch: int = 16, first_moment_bytes: int = 4) -> dict[str, int]:
    """Every byte one training step must move (float32), counted by what the step does.

    Forward: read every weight once; backward: read every weight again except the first layer's
    (no gradient with respect to the input is needed), write every gradient; Adam: read the
    parameter, its gradient and both moments, write the parameter and both moments (7 passes;
    the first moment's read and write take ``first_moment_bytes`` each: 2 in bfloat16);
    plus the batch's activations (small).
    """
    P, first = n_params(genes), genes * 2048
    weights = 4 * (P + (P - first))
    grads = 4 * P
    adam = (5 * 4 + 2 * first_moment_bytes) * P
    acts = 4 * batch * (2 * genes + 2 * 2048 + 4 * 32 + 2 * 128) * 2
    return {"weights": weights, "gradients": grads, "adam": adam, "activations": acts,
            "total": weights + grads + adam + acts}


def bandwidth_gbs(repeats: int = 7) -> dict[str, float]:
    """Sustained memory bandwidth, robustly: the median of several copies (c = a: 2 x 256 MB moved)
    and triads (a = b + s*c in two passes, as NumPy does it: 5 x 256 MB moved), same process."""
    n = 64 * 1024 * 1024
    a, b, c = np.ones(n, np.float32), np.ones(n, np.float32), np.empty(n, np.float32)
    copies, triads = [], []
    np.copyto(c, a)
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(c, a)
        copies.append(2 * a.nbytes / (time.perf_counter() - t) / 1e9)
        t = time.perf_counter()
        np.multiply(c, np.float32(3.0), out=a)
        np.add(a, b, out=a)
        triads.append(5 * a.nbytes / (time.perf_counter() - t) / 1e9)
    return {"copy_gbs": float(np.median(copies)), "triad_gbs": float(np.median(triads)),
            "gbs": float(np.median(copies + triads))}


def matmul_gflops() -> float:
    """float32 matmul rate of TensorFlow on this machine (the shape of the big layer's gradient)."""
    import tensorflow as tf

    x = tf.random.normal((2048, 4096))
    w = tf.random.normal((4096, 2048))
    f = tf.function(lambda: tf.matmul(x, w))
    f()
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        f().numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * 2048 * 4096 * 2048 / best / 1e9


def synthetic(cells: int, genes: int = GENES, seed: int = 0) -> np.ndarray:  # noqa: D103
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((cells, genes), dtype=np.float32)
    X -= X.mean(0)  # in place: the benchmark's own temporaries must not inflate the peak
    X /= X.std(0)
    return X


def ours_seconds_per_epoch(X: np.ndarray, epochs: int, steps_per_call: int = 1,
                           optimizer_state: str = "float32") -> float:
    from replicate.method.vae_config import VAEConfig
    from replicate.method.vae_train import train as train_vae

    cfg = VAEConfig(epochs=epochs + 1, steps_per_call=steps_per_call, optimizer_state=optimizer_state)
    res = train_vae(X, cfg, seed=0, verbose=False)
    return float(np.mean(res.history["seconds"][1:]))  # epoch 1 includes XLA compilation


def keras_fit_seconds_per_epoch(X: np.ndarray, epochs: int) -> float:
    """Our default model as a plain Keras model: KL through add_loss, compile() defaults, fit()."""
    import keras
    from keras import layers, ops

    from replicate.method.vae_config import VAEConfig

    cfg = VAEConfig()
    clamp = cfg.logvar_clamp

    class Sample(layers.Layer):
        def call(self, inputs):
            mu, logvar = inputs
            if clamp is not None:
                logvar = ops.clip(logvar, -clamp, clamp)
            kl = -0.5 * ops.sum(1.0 + logvar - ops.square(mu) - ops.exp(logvar), axis=1)
            self.add_loss(ops.mean(kl))
            eps = keras.random.normal(ops.shape(mu))
            return mu + ops.exp(0.5 * logvar) * eps

    def hidden(h, width):
        if not cfg.batch_norm:
            return layers.Dense(width, activation=cfg.activation)(h)
        return layers.Activation(cfg.activation)(layers.BatchNormalization()(layers.Dense(width)(h)))

    keras.utils.set_random_seed(0)
    x = keras.Input((X.shape[1],))
    h = x
    for w in cfg.encoder_hidden:
        h = hidden(h, w)
    h = Sample()([layers.Dense(cfg.latent_dim)(h), layers.Dense(cfg.latent_dim)(h)])
    for w in cfg.decoder_hidden:
        h = hidden(h, w)
    model = keras.Model(x, layers.Dense(X.shape[1])(h))
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate, epsilon=cfg.adam_epsilon),
                  loss=lambda y, y_hat: 0.5 * ops.sum(ops.square(y - y_hat), axis=1))
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    model.fit(X, X, batch_size=BATCH, epochs=epochs + 1, verbose=0, shuffle=True, callbacks=[Timer()])
    return float(np.mean(times[1:]))


def peak_rss_child(cells: int, epochs: int) -> float:
    """Peak resident memory (GB) of a fresh process that trains our VAE at ``cells`` x GENES."""
    code = (
        "import sys; sys.path.insert(0, %r); import vae_speed as b; "
        "from replicate.io.memory import peak_rss_bytes; "
        "X = b.synthetic(%d); b.ours_seconds_per_epoch(X, %d); print(peak_rss_bytes())"
    ) % (os.path.dirname(os.path.abspath(__file__)), cells, epochs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 2**30


def parallel_seeds(n: int, cells: int = 2100, genes: int = 2000, epochs: int = 3) -> dict:
    """n seeds with one TensorFlow thread each: one at a time vs two processes at once (same results)."""
    import tempfile

    from replicate.method.vae_config import VAEConfig
    from replicate.method.latents import latents as vae_latents

    X = synthetic(cells, genes)
    cfg = VAEConfig(epochs=epochs, threads=1)
    out = {}
    saved = os.environ.get("REPLICATE_CACHE_DIR")
    for jobs in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["REPLICATE_CACHE_DIR"] = tmp  # an empty cache: both ways really train
            t = time.perf_counter()
            out[jobs] = vae_latents(X, cfg, seeds=list(range(n)), verbose=False, n_jobs=jobs, keep_weights=False)
            out[f"t{jobs}"] = time.perf_counter() - t
    if saved is None:
        os.environ.pop("REPLICATE_CACHE_DIR")
    else:
        os.environ["REPLICATE_CACHE_DIR"] = saved
    identical = all(np.array_equal(a.mu, b.mu) for a, b in zip(out[1], out[2]))
    return {"seeds": n, "shape": f"{cells} x {genes}", "epochs": epochs, "threads": 1, "processes": 2,
            "serial_s": out["t1"], "parallel_s": out["t2"], "speed_up": out["t1"] / out["t2"], "identical": identical}


def bf16_quality(seeds: int = 3) -> dict:
    """The bfloat16 first moment against float32 on the paper's cells (2,100 x 2,000, 30 epochs):
    the loss curves and VAE + K-means at the paper's setting, paired by seed."""
    from replicate.io import datasets
    from replicate.method.clustering import paper_setting
    from replicate.method.cells import run_cell
    from replicate.method.preprocess import zscore
    from replicate.method.vae_config import VAEConfig
    from replicate.method.latents import latents as vae_latents

    adata = zscore(datasets.load("pbmc2100-top2000"), copy=True)
    y = adata.obs["label"].to_numpy()
    k = len(np.unique(y))
    out: dict = {"seeds": seeds, "data": "pbmc2100-top2000 (2,100 x 2,000), 30 epochs"}
    for state in ("float32", "bfloat16"):
        res = vae_latents(adata.X, VAEConfig(optimizer_state=state), seeds=list(range(seeds)), verbose=False,
                          keep_weights=False)
        out[state] = {"final_loss": [r.history["loss"][-1] for r in res], "loss": [r.history["loss"] for r in res],
                      "kmeans_ca": [100 * run_cell(r.mu, y, "kmeans", paper_setting("kmeans"), n_clusters=k)["CA"]
                                    for r in res]}
    out.update(compare_runs(out))
    return out


def compare_runs(out: dict, spike: float = 1.5) -> dict:
    """Paired (by seed) summaries of the float32 and bfloat16 runs in ``out``.

    A seed "spikes" when some epoch's bfloat16 loss exceeds ``spike`` x float32's loss at that
    epoch: one diverging seed would otherwise dominate a mean relative difference.
    """
    f, h = (np.array(out[s]["loss"]) for s in ("float32", "bfloat16"))
    rel = (h - f) / np.abs(f)
    d = np.array(out["bfloat16"]["kmeans_ca"]) - np.array(out["float32"]["kmeans_ca"])
    return {"max_relative_loss_difference": float(np.max(np.abs(rel))),
            "final_loss_relative_difference": float(np.median(rel[:, -1])),
            "final_loss_relative_difference_per_seed": [float(v) for v in rel[:, -1]],
            "seeds_with_loss_spikes": int(np.sum((h > spike * f).any(axis=1))),
            "kmeans_ca_difference_mean": float(d.mean()), "kmeans_ca_difference_sd": float(d.std(ddof=1)),
            "float32_kmeans_ca_seed_sd": float(np.std(out["float32"]["kmeans_ca"], ddof=1))}


def real_ten_seeds() -> float:
    from replicate.io import datasets
    from replicate.method.preprocess import zscore
    from replicate.method.vae_config import VAEConfig
    from replicate.method.vae_train import train as train_vae

    X = zscore(datasets.load("pbmc2100-top2000"), copy=True).X
    t = time.perf_counter()
    for seed in range(10):
        train_vae(X, VAEConfig(), seed=seed, verbose=False)
    return time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=1, help="timed epochs per measurement (after one warm-up)")
    p.add_argument("--cells", type=int, nargs="+", default=[2100, 4271])
    p.add_argument("--no-keras", action="store_true", help="skip the plain model.fit comparison")
    p.add_argument("--no-peak", action="store_true", help="skip the peak-memory child processes")
    p.add_argument("--bf16-quality", type=int, default=3, metavar="SEEDS",
                   help="seeds of the bfloat16-vs-float32 loss and K-means comparison on pbmc2100-top2000 (0: skip)")
    p.add_argument("--real", action="store_true", help="also time 10 seeds x 30 epochs on pbmc2100-top2000")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    p.add_argument("--parallel-seeds", type=int, default=4,
                   help="time this many seeds on 2,100 x 2,000 one by one and two at a time (0: skip)")
    args = p.parse_args()

    import tensorflow as tf

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    before = bandwidth_gbs()
    gflops = matmul_gflops()
    params = n_params(GENES)
    moved = bytes_per_step(GENES)
    moved_bf16 = bytes_per_step(GENES, first_moment_bytes=2)
    print(f"devices: {devices}; cores: {os.cpu_count()}; parameters: {params / 1e6:.1f} M; "
          f"bytes per step {moved['total'] / 1e9:.2f} GB (weights {moved['weights'] / 1e9:.2f}, gradients "
          f"{moved['gradients'] / 1e9:.2f}, Adam {moved['adam'] / 1e9:.2f})")
    print(f"memory bandwidth before: copy {before['copy_gbs']:.1f}, triad {before['triad_gbs']:.1f} GB/s; "
          f"matmul {gflops:.0f} GFLOP/s")
    figures: dict = {"benchmark": "vae_speed", "date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(),
                     "devices": devices, "bandwidth_before": before, "matmul_gflops": gflops, "params": params,
                     "genes": GENES, "bytes_per_step": moved,
                     "bytes_per_step_bf16_first_moment": moved_bf16, "shapes": {}}
    timings = {}
    for cells in args.cells:
        X = synthetic(cells)
        timings[cells] = {"ours": ours_seconds_per_epoch(X, args.epochs),
                          "ours_block": ours_seconds_per_epoch(X, args.epochs, steps_per_call=32),
                          "ours_bf16": ours_seconds_per_epoch(X, args.epochs, optimizer_state="bfloat16")}
        if not args.no_keras:
            timings[cells]["fit"] = keras_fit_seconds_per_epoch(X, args.epochs)
        del X
    after = bandwidth_gbs()
    bw = float(np.median([before["gbs"], after["gbs"]]))
    figures.update(bandwidth_after=after, bandwidth_gbs=bw)
    print(f"memory bandwidth after: copy {after['copy_gbs']:.1f}, triad {after['triad_gbs']:.1f} GB/s; "
          f"used for the bound: {bw:.1f} GB/s (median of both)")
    for cells in args.cells:
        steps = -(-cells // BATCH)
        mem_bound = moved["total"] * steps / (bw * 1e9)
        flop_bound = 6 * BATCH * params * steps / (gflops * 1e9)
        ours = timings[cells]["ours"]
        block = timings[cells]["ours_block"]
        bf16 = timings[cells]["ours_bf16"]
        bf16_bound = moved_bf16["total"] * steps / (bw * 1e9)
        row = {"ours_s_per_epoch": ours, "memory_bound_s": mem_bound, "flop_bound_s": flop_bound,
               "ours_over_memory_bound": ours / mem_bound, "ours_over_flop_bound": ours / flop_bound,
               "ours_32_steps_per_call_s_per_epoch": block, "ours_32_steps_per_call_over_memory_bound": block / mem_bound,
               "ours_bf16_first_moment_s_per_epoch": bf16, "bf16_memory_bound_s": bf16_bound,
               "ours_bf16_over_its_memory_bound": bf16 / bf16_bound, "bf16_speed_up": ours / bf16}
        line = (f"{cells} x {GENES}: ours {ours:.2f} s/epoch (32 steps per call: {block:.2f}); "
                f"memory-traffic bound {mem_bound:.2f} s "
                f"(ours/bound {ours / mem_bound:.2f}); bfloat16 first moment {bf16:.2f} s/epoch (its bound "
                f"{bf16_bound:.2f} s, ratio {bf16 / bf16_bound:.2f}, speed-up {ours / bf16:.2f}); FLOP bound {flop_bound:.2f} s (ours/bound {ours / flop_bound:.2f})")
        if not args.no_keras:
            fit = timings[cells]["fit"]
            row.update(keras_fit_s_per_epoch=fit, keras_fit_over_ours=fit / ours)
            line += f"; plain model.fit {fit:.2f} s/epoch (fit/ours {fit / ours:.2f})"
        print(line, flush=True)
        if not args.no_peak:
            row["peak_rss_gb"] = peak_rss_child(cells, 1)
            print(f"  peak resident memory of our trainer at {cells} x {GENES}: {row['peak_rss_gb']:.2f} GB", flush=True)
        figures["shapes"][str(cells)] = row
    if args.parallel_seeds:
        figures["parallel_seeds"] = parallel_seeds(args.parallel_seeds)
        p = figures["parallel_seeds"]
        print(f"{p['seeds']} seeds on {p['shape']}: one by one {p['serial_s']:.1f} s, {p['processes']} processes x "
              f"{p['threads']} thread {p['parallel_s']:.1f} s (speed-up {p['speed_up']:.2f}); identical: {p['identical']}")
    q = None
    if args.bf16_quality:
        from replicate.io.errors import DatasetError

        try:
            q = figures["bf16_quality"] = bf16_quality(args.bf16_quality)
        except DatasetError as err:
            print(f"bfloat16 quality comparison skipped: {err}")
    if q:
        print(f"bfloat16 first moment, {q['seeds']} seeds on {q['data']}: {q['seeds_with_loss_spikes']} of "
              f"{q['seeds']} seeds' loss curves spiked above 1.5x float32's; final loss "
              f"{', '.join(f'{100 * v:+.1f}%' for v in q['final_loss_relative_difference_per_seed'])} by seed; "
              f"K-means CA {np.mean(q['bfloat16']['kmeans_ca']):.1f} vs {np.mean(q['float32']['kmeans_ca']):.1f} "
              f"(paired difference {q['kmeans_ca_difference_mean']:+.1f} ± {q['kmeans_ca_difference_sd']:.1f}; "
              f"float32 seed s.d. {q['float32_kmeans_ca_seed_sd']:.1f})")
    if args.real:
        figures["real_10_seeds_30_epochs_s"] = real_ten_seeds()
        print(f"10 seeds x 30 epochs on pbmc2100-top2000 (2,100 x 2,000): {figures['real_10_seeds_30_epochs_s']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
