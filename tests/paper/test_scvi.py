"""scVI as a live baseline: trains on tiny counts; says so when it cannot run."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.paper import scvi as scvi_baseline

from ..conftest import synthetic_counts


@pytest.mark.skipif(not scvi_baseline.available(), reason="scvi-tools is installed by `make test` (the scvi extra)")
def test_scvi_trains_one_epoch_and_its_latents_are_clustered():
    X, y = synthetic_counts(n_per=40, n_genes=60)
    rows = scvi_baseline.scvi_rows(X, y, max_epochs=1, dataset="tiny")
    assert list(rows["method"]) == ["scvi+kmeans", "scvi+leiden(count)", "scvi32+kmeans", "scvi32+leiden(count)"]
    assert rows["status"].isin(["ok", "warning"]).all(), rows["message"].tolist()
    assert (rows["train_seconds"] > 0).all() and rows["CA"].between(0, 1).all()
    z, _ = scvi_baseline.scvi_latent(X, n_latent=32, max_epochs=1)
    assert z.shape == (120, 32)


def test_rows_say_why_when_scvi_cannot_run(monkeypatch):
    X, y = synthetic_counts(n_per=10, n_genes=20)
    logged = scvi_baseline.scvi_rows(np.log1p(X / 7), y) if scvi_baseline.available() else None
    if logged is not None:
        assert set(logged["status"]) == {"not applicable"} and "raw counts" in logged["message"].iloc[0]
    monkeypatch.setattr(scvi_baseline, "available", lambda: False)
    rows = scvi_baseline.scvi_rows(X, y)
    assert len(rows) == 4 and set(rows["status"]) == {"not installed"}
    assert "pip install -e '.[scvi]'" in rows["message"].iloc[0] and rows["CA"].isna().all()
