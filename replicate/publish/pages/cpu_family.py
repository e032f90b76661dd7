"""The CPU-family facts the re-run page quotes: one seed's training measured on two families
(``benchmarks/results/cpu_family-*.json``), and the family each section of a run was made on (its manifest)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ...io import paths
from ..rebuild import section_families

__all__ = ["measured", "run_family"]


def measured() -> dict[str, str]:
    """The training of one seed on two CPU families (``benchmarks/results/cpu_family-*.json``): its final loss on
    the AVX2 machine, capped and native, on the AVX-512 machine of the first study, and on an AVX-512 machine
    capped (with numpy's loops capped too), and whether its z-scored input was the AVX2 machine's."""
    folder = paths.committed("benchmarks/results")
    record, wide = ({}, {}) if not folder.is_dir() else tuple(
        json.loads(p.read_text()) if p.is_file() else {} for p in (folder / "cpu_family-avx2.json",
                                                                   folder / "cpu_family-avx512.json"))
    rows = {r.get("setting"): r for r in record.get("trainings", [])}
    if "capped" not in rows or record.get("committed_final_loss_seed0") is None:
        return {"cpu_avx2_loss": "(not measured)", "cpu_avx512_loss": "(not recorded)", "cpu_capped_same": "not measured",
                "cpu_avx512_capped": "has not been measured"}
    same = ("native" in rows and rows["capped"]["final_loss"] == rows["native"]["final_loss"]
            and rows["capped"]["latents_sha256"] == rows["native"]["latents_sha256"])
    out = {"cpu_avx2_loss": f"{rows['capped']['final_loss']:.2f}",
           "cpu_avx512_loss": f"{record['committed_final_loss_seed0']:.2f}",
           "cpu_capped_same": "no bit changes" if same else "the capped training differs from the native one",
           "cpu_avx512_capped": "has not been measured"}
    other = {r.get("setting"): r for r in wide.get("trainings", [])}
    if "capped" in other:
        z = lambda r: ("was the AVX2 machine's to the bit" if r["zscores_sha256"] == rows["capped"]["zscores_sha256"]  # noqa: E731
                       else "differed from the AVX2 machine's in its last bits")
        both = other.get("capped, numpy too")
        out["cpu_avx512_capped"] = (
            f"was run: capped, the training ended at {other['capped']['final_loss']:.2f}, and already its z-scored "
            f"input {z(other['capped'])} (numpy picks its own SIMD loops by CPU)"
            + (f"; with numpy's AVX-512 loops off as well, the input {z(both)}, and the training still ended at "
               f"{both['final_loss']:.2f}" if both else "")
            + ". So the families do not agree bit for bit, and a re-make on the other family is compared within "
              "the tolerance above")
    return out


def run_family(manifest: dict[str, Any]) -> str:
    """The CPU family each made section of the run was made on, in words (``AVX-512`` or ``AVX2``), with counts when
    its sections differ."""
    def word(family: str) -> str:
        return "AVX-512" if "avx512f" in family.split() else "AVX2" if "avx2" in family.split() else family or "unrecorded"
    made: Counter = Counter()
    for family, n in section_families(manifest).items():
        made[word(family)] += n
    if len(made) <= 1:
        return next(iter(made), "unrecorded")
    return ", ".join(f"{name} for {n} of its sections" for name, n in made.most_common())
