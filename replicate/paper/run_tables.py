"""The tables each section of the paper run writes, and the sections whose tables are a step of their own.

``replicate.sections`` computes the split sections' tables apart from their pages; the study graph
(``replicate.publish.graph``) makes them a step of their own and lets later sections depend on earlier
sections' tables, never on their executed notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SPLIT", "COMPUTE", "TABLES", "DRAWN", "entry", "table_names"]

#: The module that computes each section's tables (its ``tables(params)``): every section but the generalisation
#: page, which draws the committed study's tables.
COMPUTE = {"01_data": "replicate.sections.data", "02_vae": "replicate.sections.vae",
           "03_clustering": "replicate.sections.clustering",
           "04_baselines": "replicate.sections.baselines", "05_table1": "replicate.sections.table1",
           "06_claims": "replicate.sections.claims",
           "07_open_points": "replicate.sections.open_points",
           "08_why": "replicate.sections.why",
           "10_uncertainty": "replicate.sections.uncertainty"}
#: Those sections, in the run's order.
SPLIT = tuple(COMPUTE)
#: The tables each section of the paper run writes, which later sections depend on (``{method}``: the clustering
#: section's parameter).
TABLES = {"01_data": ("label_counts",), "02_vae": ("vae_history",),
          "03_clustering": ("clustering_{method}",), "04_baselines": ("baselines",),
          "05_table1": ("table1",), "06_claims": ("claims", "encoder_variants", "seed_statistics", "variation_sources"),
          "07_open_points": ("preprocessing_sensitivity", "selection_effect"),
          "08_why": ("factor_effects", "decomposition"), "09_generalisation": (),
          "10_uncertainty": ("uncertainty", "uncertainty_effects")}
#: Tables a split section writes for its own page only (whether each VAE collapsed; the first seed's clusters,
#: cell by cell, for the contingency plot; the why page's grids at the paper's settings and training histories): no later section
#: depends on them.
DRAWN = {"02_vae": ("training_flags",), "03_clustering": ("labels_{method}",),
         "08_why": ("paper_settings", "histories")}


def table_names(section: str, params: Mapping[str, Any], *, drawn: bool = True) -> list[str]:
    """The tables ``section`` writes with ``params`` (``clustering_kmeans``, ...); ``drawn``: with those for its
    page only (:data:`DRAWN`)."""
    return [name.format(**params) for name in (*TABLES[section], *(DRAWN.get(section, ()) if drawn else ()))]


def entry(section: str) -> str:
    """What a fresh interpreter imports to make ``section``'s tables: :mod:`replicate.sections` and the section's own
    module (the study graph's entry point for the step)."""
    if section not in COMPUTE:
        raise KeyError(f"section {section!r} has no tables of its own; those that do: {', '.join(COMPUTE)}")
    return f"replicate.sections, {COMPUTE[section]}"
