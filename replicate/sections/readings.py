"""The second VAE reading a section compares with the default (Table 1, the claims, the why page)."""

from __future__ import annotations

from ..method.vae_config import VAEConfig
from ..studies.readings import MATCHED, reading_by_name, reading_config
from ..studies.why import matched_reading

__all__ = ["second_reading"]


def second_reading(name: str) -> tuple[str, VAEConfig] | None:
    """The second VAE reading a run compares with the default, as (label, configuration); None for ``""``.

    ``"fingerprint-matched"``: the reading whose latents are closest to what the paper's reports imply (the
    committed readings study, :func:`replicate.studies.why.matched_reading`; chosen without labels). Any other
    name: that reading of ``replicate/data/stability.toml``.
    """
    if not name:
        return None
    if name == MATCHED:
        reading, config = matched_reading()
        return f"{MATCHED} ({reading})", config
    return name, reading_config(reading_by_name(name))
