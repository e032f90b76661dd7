"""Whether this machine trains the VAEs of the committed paper run: measured, not read off the CPU's name.

A section of the paper run reads the latents its VAE section trained; made on a machine that trains other VAEs
from the same seeds, it would train its own and the run would contradict itself. The CPU family
(:func:`replicate.io.provenance.machine`) does not settle it: two AMD EPYC machines with the same family and the
same caps trained seed 0 of the default reading to final losses of 894.886 and 893.608 per cell (2026-12-07;
the z-scores were identical, and so was the first epoch). So before a rebuild re-makes a section that reads the
run's VAEs without re-making the VAE section itself, it trains that seed here (or takes it from the latent store)
and compares its final loss with the one the run records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ..io.errors import ReplicateError
from ..io.facts import PAPER_DATASET
from ..io.paths import project_root
from ..method.latents import latents
from ..method.preprocess import prepare
from ..method.vae_config import VAEConfig

__all__ = ["committed_loss", "machine_loss", "readers", "check"]

#: The committed paper run, its VAE section's step and the steps that neither train nor read its VAEs.
RUN, VAE_STEP, NO_VAE = "results/pbmc2100-top2000/paper", "paper-02_vae", ("paper-01_data",)


def committed_loss(run: str | Path = RUN) -> float | None:
    """Seed 0's final loss as the run's VAE section recorded it (None where the run records none)."""
    path = project_root() / run / "02_vae" / "vae_history.csv"
    if not path.is_file():
        return None
    history = pd.read_csv(path)
    seed0 = history[history["seed"] == 0]
    return float(seed0.sort_values("epoch")["loss"].iloc[-1]) if len(seed0) else None


def machine_loss() -> float:
    """Seed 0 of the default reading on the paper's data, trained here (from the latent store when it holds it)."""
    (res,) = latents(prepare(PAPER_DATASET).X, VAEConfig(), seeds=[0], verbose=False)
    return float(res.history["loss"][-1])


def readers(todo: Sequence[str]) -> list[str]:
    """The steps of ``todo`` that read the paper run's VAEs without re-making them (none when the VAE step is
    among them: the run is then re-made from its VAEs on)."""
    if VAE_STEP in todo:
        return []
    return [s for s in todo if s.startswith("paper-") and s not in NO_VAE]


def check(todo: Sequence[str], *, trained: Callable[[], float] = machine_loss, run: str | Path = RUN) -> None:
    """Refuse to re-make a section of the paper run here when this machine trains another seed 0 than the run's."""
    steps = readers(todo)
    recorded = committed_loss(run) if steps else None
    if recorded is None:
        return
    print(f"trains alike: seed 0 of the default reading, trained here, against the paper run's ({len(steps)} of its "
          "sections to re-make)", flush=True)
    here = trained()
    if here != recorded:
        raise ReplicateError(
            f"{', '.join(steps)} read the VAEs of {run}, whose seed 0 ended at a loss of {recorded!r}; on this machine "
            f"it ends at {here!r}, so the sections would train other VAEs than the run's. Re-make them on a machine "
            f"that trains alike, or the whole run here (with {VAE_STEP}, or --other-family).")
