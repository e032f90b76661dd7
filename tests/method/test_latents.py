"""The latent store: each (data, configuration, seed) trained once, cached with its model."""

from pathlib import Path

import numpy as np
import pytest

from replicate.io import datasets, store
from replicate.io.errors import ParameterError, TrainingError
from replicate.method.latents import latents
from replicate.method.preprocess import zscore
from replicate.method.vae_config import VAEConfig

TINY = dict(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=3, batch_size=16,
            learning_rate=1e-3)


@pytest.fixture(scope="module")
def tiny_adata(tiny_h5_session):
    return zscore(datasets.load(tiny_h5_session), copy=True)



def test_cache_hit_and_invalidation(tiny_adata, capsys):
    cfg = VAEConfig(**{**TINY, "epochs": 2})
    (first,) = latents(tiny_adata.X, cfg, seeds=[3])
    (again,) = latents(tiny_adata.X, cfg, seeds=[3])
    assert not first.cached and again.cached
    np.testing.assert_array_equal(first.mu, again.mu)
    assert again.history["loss"] == pytest.approx(first.history["loss"])
    (changed,) = latents(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 2, "learning_rate": 2e-3}), seeds=[3])
    assert not changed.cached
    entries = list((store.cache_dir() / "vae").glob("*.npz"))
    assert not any(p.name.endswith(".tmp") for p in entries)


def test_every_result_carries_a_model_also_from_the_cache(tiny_adata):
    cfg = VAEConfig(**{**TINY, "epochs": 2})
    (first,) = latents(tiny_adata.X, cfg, seeds=[11], verbose=False)
    (again,) = latents(tiny_adata.X, cfg, seeds=[11], verbose=False)
    assert not first.cached and again.cached and again.model is not None
    np.testing.assert_array_equal(again.model.encode(tiny_adata.X).mu, first.mu)
    # an entry without weights (written before weights were stored, or with keep_weights=False) is
    # trained again when its model first encodes: deterministic, the same latents
    for p in (store.cache_dir() / "vae").glob("*.weights.npz"):
        p.unlink()
    (third,) = latents(tiny_adata.X, cfg, seeds=[11], verbose=False)
    assert not list((store.cache_dir() / "vae").glob("*.weights.npz"))  # nothing trained until it encodes
    np.testing.assert_allclose(third.model.encode(tiny_adata.X).mu, first.mu, atol=1e-6)
    assert list((store.cache_dir() / "vae").glob("*.weights.npz"))


def test_keep_weights_false_stores_only_the_latents(tiny_adata, tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    latents(tiny_adata.X, VAEConfig(**{**TINY, "epochs": 1}), seeds=[0], verbose=False, keep_weights=False)
    names = sorted(p.name for p in (tmp_path / "vae").iterdir())
    assert len(names) == 1 and not names[0].endswith(".weights.npz")


@pytest.mark.slow
def test_seeds_in_parallel_processes_equal_seeds_one_by_one(tiny_adata, tmp_path, monkeypatch):
    """threads=1: each training in a worker with one TensorFlow thread, two at once or one after the other."""
    cfg = VAEConfig(**{**TINY, "epochs": 2, "threads": 1})
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "a"))
    one_by_one = latents(tiny_adata.X, cfg, seeds=[0, 1, 2], verbose=False, n_jobs=1)
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "b"))
    side_by_side = latents(tiny_adata.X, cfg, seeds=[0, 1, 2], verbose=False, n_jobs=2)
    for a, b in zip(one_by_one, side_by_side):
        np.testing.assert_array_equal(a.mu, b.mu)
        assert a.history["loss"] == b.history["loss"]
    with pytest.raises(ParameterError, match="n_jobs > 1 needs config.threads"):
        latents(tiny_adata.X, VAEConfig(**TINY), seeds=[5, 6], verbose=False, n_jobs=2)


def test_a_diverging_seed_can_be_recorded_instead_of_stopping_the_others(tiny_adata):
    X = tiny_adata.X.copy()
    with pytest.raises(TrainingError):
        latents(X * 1e19, VAEConfig(**TINY), seeds=[0], verbose=False, cache=False)
    out = latents(X * 1e19, VAEConfig(**TINY), seeds=[0, 1], verbose=False, cache=False, skip_diverged=True)
    assert out == [None, None]



def test_a_cache_entry_is_keyed_by_the_training_codes_source(monkeypatch):
    import hashlib

    import numpy as np

    from replicate.method import latents as store_module
    from replicate.method.vae_config import VAEConfig

    X = np.zeros((4, 3), dtype=np.float32)
    h = hashlib.sha256()
    for name in store_module.TRAINING_CODE:
        h.update((Path(store_module.__file__).parent / name).read_bytes())
    assert store_module.training_code_hash() == h.hexdigest()
    before = store_module.entry_paths(X, VAEConfig(), 0)
    assert store_module.entry_paths(X, VAEConfig(), 0) == before
    monkeypatch.setattr(store_module, "training_code_hash", lambda: "an edited trainer")
    assert store_module.entry_paths(X, VAEConfig(), 0)[0] != before[0]


def test_a_cache_entry_is_keyed_by_the_cpu_family(monkeypatch):
    from replicate.method import latents as store_module

    X = np.zeros((4, 3), dtype=np.float32)
    monkeypatch.setattr(store_module, "_family", lambda: "GenuineIntel x86_64 avx2 fma")
    avx2 = store_module.entry_paths(X, VAEConfig(), 0)
    assert store_module.entry_paths(X, VAEConfig(), 0) == avx2
    monkeypatch.setattr(store_module, "_family", lambda: "GenuineIntel x86_64 avx2 fma avx512f")
    assert store_module.entry_paths(X, VAEConfig(), 0)[0] != avx2[0]  # another family: its own training


def test_the_ledger_notes_each_vae_a_step_asked_for_and_nothing_outside_a_step(tiny_adata, tmp_path, monkeypatch):
    from replicate.method import latents as store_module

    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    cfg = VAEConfig(**{**TINY, "epochs": 1})
    latents(tiny_adata.X, cfg, seeds=[0], verbose=False)  # not in a step: nothing noted
    assert store_module.ledger() == []
    monkeypatch.setenv(store_module.STEP_VARIABLE, "why-readings")
    latents(tiny_adata.X, cfg, seeds=[0, 1], verbose=False)
    monkeypatch.setenv(store_module.STEP_VARIABLE, "paper-05")
    latents(tiny_adata.X, cfg, seeds=[1], verbose=False)
    rows = store_module.ledger()
    assert [(r["step"], r["outcome"]) for r in rows] == [("why-readings", "cached"), ("why-readings", "trained"),
                                                         ("paper-05", "cached")]
    assert rows[1]["entry"] == rows[2]["entry"] == store_module.entry_paths(tiny_adata.X, cfg, 1)[0].stem
    assert float(rows[1]["seconds"]) > 0
    size = (tmp_path / store_module.LEDGER).stat().st_size
    assert store_module.ledger(since=size) == [] and len(store_module.ledger(step="paper-05")) == 1


def test_a_diverged_training_is_said_cached_as_diverged_and_not_trained_again(monkeypatch, capsys):
    from replicate.io.errors import TrainingError
    from replicate.method import latents as store_module
    from replicate.method.vae_config import VAEConfig

    X = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    cfg = VAEConfig(encoder_hidden=(8,), decoder_hidden=(4,), latent_dim=2, epochs=3, learning_rate=1e-3)
    calls = []

    def diverging(X, cfg, seed, verbose):
        calls.append(seed)
        for s in [seed]:
            if s == 1:
                err = TrainingError("VAE training diverged at epoch 2/3 (seed 1): loss is nan")
                err.epoch, err.history = 2, {"loss": [5.0, float("nan")]}
                yield s, err
            else:
                yield from real(X, cfg, [s], verbose)

    real = store_module._train_here
    monkeypatch.setattr(store_module, "_train_here", lambda X, cfg, seeds, verbose: (
        item for s in seeds for item in diverging(X, cfg, s, verbose)))
    first = store_module.latents(X, cfg, seeds=[0, 1], verbose=False, skip_diverged=True)
    assert first[0] is not None and first[1] is None
    assert "VAE seed 1: DIVERGED at epoch 2/3 (loss nan); its latents are not used" in capsys.readouterr().err
    assert store_module.divergence(X, cfg, 1) == {"epoch": 2, "loss": pytest.approx(float("nan"), nan_ok=True),
                                                  "message": "VAE training diverged at epoch 2/3 (seed 1): loss is nan"}
    assert store_module.divergence(X, cfg, 0) is None
    calls.clear()
    again = store_module.latents(X, cfg, seeds=[0, 1], verbose=False, skip_diverged=True)
    assert calls == [] and again[1] is None  # neither trained again
    assert "as cached from an earlier run" in capsys.readouterr().err
    with pytest.raises(TrainingError, match="diverged at epoch 2/3"):
        store_module.latents(X, cfg, seeds=[1], verbose=False)
