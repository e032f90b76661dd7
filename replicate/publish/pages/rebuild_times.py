"""The reproducibility page's rebuild times: each step's newest measured time (``replicate rebuild``), their sum,
the steps never timed, the cold rebuild's (from empty caches) as far as it went, and what the critical path
projects for a rebuild side by side on more cores."""

from __future__ import annotations

import os

import pandas as pd
import yaml

from ...io.paths import project_root
from ..order import critical_path
from .. import performance
from ..times import cold_rows, cold_trainings, counts, latest

__all__ = ["markdown", "projection", "side_by_side_sentence", "cold_sentence", "trainings_sentence"]


def projection(table: pd.DataFrame, stages: dict[str, dict], cores: int = 16) -> str:
    """What the measured times say about side-by-side rebuilds: the critical path, and a floor on ``cores``."""
    seconds = dict(zip(table["step"], table["seconds"]))
    length, chain = critical_path(stages, seconds)
    measured_on = int(table["cores"].max()) if len(table) else 2
    floor = max(length, table["seconds"].sum() * measured_on / cores)
    shown = " → ".join(f"`{n}`" for n in chain if seconds.get(n, 0) > 0)
    return (f"Run side by side, the steps still wait for one another: the longest chain of dependent steps, its "
            f"**critical path**, takes **{length / 3600:.2f} h** as measured ({shown}), the least a rebuild takes "
            f"with any number of workers. On {cores} cores a rebuild would take at least **{floor / 3600:.2f} h** "
            f"(the larger of that path and the {table['seconds'].sum() / 3600:.2f} h of {measured_on}-core work "
            f"spread over {cores} cores): a projection from these times, not a measurement.")


def side_by_side_sentence(figures: dict) -> str:
    """What ``replicate rebuild --jobs N`` measured against one at a time (``benchmarks/results/rebuild_jobs.json``)."""
    if not figures:
        return ""
    one, many = figures["one_at_a_time"], figures["side_by_side"]
    same = ("their outputs held the same numbers both ways (timings aside)"
            + (", the committed ones" if one["numbers_as_committed"] and many["numbers_as_committed"] else "")
            if figures["identical"] else "**their numbers differed** between the two runs")
    return (f"Measured side by side on {figures['machine']['cpu']}, {figures['machine']['cores']} cores "
            f"(`benchmarks/rebuild_jobs.py` at commit {figures['commit']}, {figures['date']}): the "
            f"{len(figures['steps'])} steps {', '.join(f'`{s}`' for s in figures['steps'])}, each run from an empty "
            f"cache in a scratch clone, took **{one['wall_s'] / 60:.1f} min** one at a time and "
            f"**{many['wall_s'] / 60:.1f} min** with `replicate rebuild --jobs {many['jobs']}`: "
            f"**{figures['speed_up']:.2f}×**, where the longest of them alone takes "
            f"{figures['longest_step_s'] / 60:.1f} min; {same}.")


def cold_sentence(cold: pd.DataFrame, names: list[str]) -> str:
    """What the newest cold rebuild measured (or how to measure one): its total and which of ``names`` (the steps
    it makes) it has not made yet."""
    if cold.empty:
        return ("No cold rebuild has been measured yet, so these times depend on what the caches held (the VAE "
                "cache column). `REPLICATE_CACHE_DIR=<an empty folder> replicate rebuild --cold --budget 2h --commit` "
                "makes every step from empty caches and records each one; run it again to go on (with the same folder, or an empty one where the "
                "machine did not keep it).")
    missing = [n for n in names if n not in set(cold["step"])]
    made = f"all {len(names)} steps" if not missing else f"{len(names) - len(missing)} of the {len(names)} steps"
    dates = sorted(set(cold["date"].astype(str)))
    text = (f"The cold rebuild `{cold['cold_rebuild'].iloc[0]}` (every step from an empty cache folder, "
            f"{dates[0] if len(dates) == 1 else f'{dates[0]} to {dates[-1]}'}) has made {made}, "
            f"**{cold['seconds'].sum() / 3600:.2f} h** in all, one step at a time (the cold column)")
    return text + (f"; not made by it yet: {', '.join(f'`{n}`' for n in missing)}." if missing else ".")


def trainings_sentence(cold: pd.DataFrame, uses: pd.DataFrame) -> str:
    """What the latent store saved in the cold rebuild (``uses``: :func:`~replicate.publish.times.cold_trainings`),
    and, where it ran in parts that each began with an empty cache, what the later parts trained again."""
    if cold.empty or uses.empty:
        return ""
    trained = uses[uses["outcome"] != "cached"]
    saved = sum(counts(group)[1] for _, group in uses.groupby("step", sort=False))
    text = (f"Its steps trained {trained['entry'].nunique():,} VAEs, and "
            f"**{saved:,} training{'s were' if saved != 1 else ' was'} saved**: a step got that many VAEs from "
            "a training an earlier step had stored (each VAE counted once per step).")
    parts = int(cold["cold_part"].fillna(1).max())
    if parts > 1:
        again = trained[trained.duplicated("entry", keep="first")]
        minutes = pd.to_numeric(again["seconds"], errors="coerce").sum() / 60
        text += (f" It ran in {parts} parts, each on a machine that began with an empty cache folder, so "
                 f"{len(again):,} training{'s' if len(again) != 1 else ''} ({minutes:.0f} min) "
                 f"{'were' if len(again) != 1 else 'was'} made again in a later part: one uninterrupted "
                 f"cold rebuild would take about {(cold['seconds'].sum() / 60 - minutes) / 60:.2f} h.")
    return text


def markdown(times: str | os.PathLike | None = None) -> str:
    """The measured time of each re-made step (the reproducibility page), with their sum."""
    table = latest(times)
    if table.empty:
        return "*No step of the study graph has been timed yet: `replicate rebuild` records each step it makes.*"
    cold = cold_rows(times)
    cold_minutes = dict(zip(cold["step"], cold["seconds"] / 60))
    lines = ["| step | minutes | VAE cache entries at start | VAEs trained (from cache) | load average at start "
             "| cold rebuild, minutes |", "|---|---:|---:|---:|---:|---:|"]
    for row in table.itertuples():
        entries = "–" if pd.isna(row.vae_cache_entries) else f"{int(row.vae_cache_entries)}"
        load = "–" if pd.isna(row.load_average) else f"{row.load_average:.1f}"
        was = f"{cold_minutes[row.step]:.1f}" if row.step in cold_minutes else "–"
        vaes = "–" if pd.isna(row.vae_trained) else f"{int(row.vae_trained)} ({int(row.vae_from_cache)})"
        lines.append(f"| {row.step} | {row.seconds / 60:.1f} | {entries} | {vaes} | {load} | {was} |")
    machines = ", ".join(sorted({f"{r.cpu}, {r.cores} cores" for r in table.itertuples()}))
    dates, commits = sorted(set(table["date"])), list(dict.fromkeys(table["commit"]))
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    made = commits[0] if len(commits) == 1 else f"{commits[0]} to {commits[-1]}"
    graph = project_root() / "dvc.yaml"
    stages = yaml.safe_load(graph.read_text())["stages"] if graph.is_file() else {n: {} for n in table["step"]}
    names = list(stages)
    # a cold rebuild makes the machine-specific benchmarks only when asked (--machine-specific): once it made one,
    # it makes them all
    specific = {n for n in names if stages[n].get("meta", {}).get("machine_specific")}
    cold_names = names if specific & set(cold["step"]) else [n for n in names if n not in specific]
    untimed = [n for n in names if n not in set(table["step"])]
    head = (f"**{len(table)}** of the {len(names)} steps timed, **{table['seconds'].sum() / 3600:.2f} h** in all, on "
            f"{machines}, {when} (checkouts {made}; wall time of `dvc repro --single-item <step>`, kernel start-ups "
            "included).")
    if untimed:
        many = len(untimed) > 1
        head += (f" The sum leaves out the {len(untimed)} step{'s' if many else ''} never timed "
                 f"({', '.join(f'`{n}`' for n in untimed)}), so a whole rebuild takes longer.")
    path_note = ("\n\n" + projection(table, stages)) if graph.is_file() else ""
    measured = side_by_side_sentence(performance.load("rebuild_jobs") or {})
    path_note += (" " + measured) if measured else ""
    saved = trainings_sentence(cold, cold_trainings(times))
    return (head + path_note + "\n\n" + cold_sentence(cold, cold_names) + (" " + saved if saved else "") + "\n\n"
            + "\n".join(lines))
