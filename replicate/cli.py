"""Command line: ``replicate run | compute | book | recipe | study | status | verify | rebuild | restamp | datasets | fetch``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import sections as tables
from .io import datasets
from .io.errors import ReplicateError
from .io.facts import registry
from .publish import book, budget, pipeline, rebuild, recipe_book, restamp, status, times, verify
from .publish.params import parse_value
from .studies import generalisation, recipe, stability, why

#: ``replicate study <name>``: each study's own command line (``python -m replicate.studies.<name>``).
STUDIES: dict[str, Callable[[list[str] | None], int]] = {
    "stability": stability.main, "why": why.main, "generalisation": generalisation.main}


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ReplicateError(f"--set expects NAME=VALUE, got {pair!r} (e.g. --set epochs=10).")
        out[name.strip()] = parse_value(value.strip())
    return out


def _sections(text: str | None) -> tuple[str, ...]:
    if not text:
        return pipeline.SECTIONS
    chosen = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in chosen if t not in pipeline.SECTIONS]
    if unknown:
        raise ReplicateError(f"--sections: unknown {', '.join(unknown)}; the sections are {', '.join(pipeline.SECTIONS)}.")
    return tuple(s for s in pipeline.SECTIONS if s in chosen)  # always in dependency order


def _recipe_parser(sub: Any) -> None:
    p = sub.add_parser("recipe", help="the paper's recipe on your own labelled file, with its own verdict book",
                       description=recipe.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="a .h5ad (give --label-key), scDeepCluster/10x .h5, or a registered name")
    p.add_argument("--label-key", default=None, help="the column of .obs with the cell types (.h5ad files)")
    p.add_argument("--genes", type=int, default=recipe.N_GENES,
                   help=f"keep this many most variable genes of a file with more (default {recipe.N_GENES}; "
                        "0 keeps all)")
    p.add_argument("--seeds", type=int, nargs="+", default=list(recipe.SEEDS),
                   help="VAE seeds (default %(default)s)")
    p.add_argument("--matched", action="store_true", help="also the fingerprint-matched VAE reading")
    p.add_argument("--no-scvi", action="store_true", help="leave scVI out (PCA + K-means and Leiden still run)")
    p.add_argument("--epochs", type=int, default=None,
                   help="VAE epochs other than the paper's 30, for a quick look (the book says so)")
    p.add_argument("--out", default=None, help="the run's folder (default recipe-<file name>)")
    p.add_argument("--force", action="store_true", help="re-make every table even when already there")
    p.add_argument("--no-book", action="store_true", help="only the tables")


def _rebuild_parser(sub: Any) -> None:
    p_rebuild = sub.add_parser("rebuild", help="re-make every step of the study graph that is not current, timed",
                               description=rebuild.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p_rebuild.add_argument("steps", nargs="*", help="only these steps of dvc.yaml (default: every one not current)")
    p_rebuild.add_argument("--machine-specific", action="store_true",
                           help="also the benchmarks (they measure this machine)")
    p_rebuild.add_argument("--dry-run", action="store_true", help="list the steps, make nothing")
    p_rebuild.add_argument("--budget", default=None, metavar="DURATION",
                           help="start a step only while its recorded time fits what is left, e.g. 90m or 2h "
                                "(a never-timed step: the longest timed step of its kind; with none of its kind timed, only as "
                                "the first); the same command goes on later")
    p_rebuild.add_argument("--commit", action="store_true",
                           help="commit each finished step (its outputs, dvc.lock, its time) to the current branch")
    p_rebuild.add_argument("--cold", action="store_true",
                           help="every step, current or not (the benchmarks only with --machine-specific), one at a "
                                "time from empty caches (REPLICATE_CACHE_DIR: an empty folder, the same one in each "
                                "sitting): the cost of a rebuild from nothing, recorded step by step; it goes on from "
                                "the steps made")
    p_rebuild.add_argument("--other-family", action="store_true",
                           help="re-make sections of a run made on another CPU family anyway (the whole run, here)")
    p_rebuild.add_argument("--jobs", type=int, default=1, metavar="N",
                           help="make up to N steps at once, each once the steps it reads are made (default 1)")
    p_rebuild.add_argument("--scheduler", default="", metavar="ADDRESS",
                           help="a running Dask scheduler to send the steps to (its workers see this checkout)")


def _restamp_parser(sub: Any) -> None:
    p_restamp = sub.add_parser("restamp", help="make a step stale only through code current again, once its "
                                               "numbers are proven unchanged", description=restamp.__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    p_restamp.add_argument("steps", nargs="*", help="only these steps (default: every stale step)")
    p_restamp.add_argument("--sample", type=int, default=1, help="VAE seeds of a paper section's sample (default 1)")
    p_restamp.add_argument("--max-minutes", type=float, default=10.0,
                           help="re-make whole a step without a sample when its measured time is at most this "
                                "(default 10)")


def _restamp(args: argparse.Namespace) -> int:
    rows = restamp.restamp(args.steps, sample=args.sample, max_minutes=args.max_minutes)
    done = int((rows["outcome"] == "restamped").sum()) if len(rows) else 0
    print(f"{done} of {len(rows)} steps restamped; the evidence: {restamp.EVIDENCE}")
    return 0 if done == len(rows) else 1


def _status(args: argparse.Namespace) -> int:
    table = status.status()
    counts = table["state"].value_counts()
    print(", ".join(f"{counts.get(s, 0)} {s}" for s in status.STATES) + f" ({len(table)} steps of dvc.yaml)")
    print(table.drop(columns=["outputs", "changed_all"]).to_string(index=False))
    if args.fail_on_stale and counts.get("stale", 0):
        print("stale: `make reproduce` (dvc repro) re-makes them in order", file=sys.stderr)
        return 1
    return 0


def _compute(args: argparse.Namespace) -> None:
    planned = pipeline.tables_plan(args.profile, args.dataset, _overrides(args.overrides), _sections(args.sections),
                                   args.methods.split(",") if args.methods else None, results=args.results)
    todo = [p for p in planned if p[1] in tables.SPLIT]
    if not todo:
        raise ReplicateError(f"none of these sections has tables of its own; those that do: {', '.join(tables.SPLIT)} "
                             "(09_generalisation draws the committed study's tables: `replicate run`).")
    for i, (name, section, params, folder) in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {name}: tables", flush=True)
        made = tables.tables(section, params, folder, force=args.force)
        print(f"[{i}/{len(todo)}] {name}: {', '.join(f'{n} ({len(df):,} rows)' for n, df in made.items())} "
              f"in {folder.as_posix()}", flush=True)


def _run_options(p: argparse.ArgumentParser) -> None:
    """The options ``replicate run`` and ``replicate compute`` share: which run, which sections."""
    p.add_argument("--profile", default="quick", help="smoke, quick or paper (replicate/data/profiles.toml)")
    p.add_argument("--dataset", default=None, help="registered name or path (default: the profile's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="override a notebook parameter, e.g. --set epochs=10 (repeatable)")
    p.add_argument("--results", default="results", help="parent folder of runs (default: results)")
    p.add_argument("--force", action="store_true", help="make them again even when unchanged")
    p.add_argument("--sections", default=None, metavar="S1,S2",
                   help=f"only these sections, e.g. 05_table1 (default all: {', '.join(pipeline.SECTIONS)})")
    p.add_argument("--methods", default=None, metavar="M1,M2",
                   help="the clustering sections, e.g. kmeans,birch (default: the profile's)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replicate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="execute the section notebooks into results/<dataset>/<profile>/")
    _run_options(p_run)
    p_run.add_argument("--log-output", action="store_true", help="stream the notebooks' output")
    p_run.add_argument("--jobs", type=int, default=1, metavar="N",
                       help="run N sections at a time, each once the sections whose trainings and grid cells it "
                            "reads are done (default 1; the results are the same)")
    p_compute = sub.add_parser("compute", help="make the tables of sections whose tables are a step of their own "
                                               f"({', '.join(tables.SPLIT)}), without their pages",
                               description="Make a section's tables without drawing its page: the study graph's step "
                                           "for them. `replicate run` then draws the page from these tables (read "
                                           "back while their record, tables.json, still matches the parameters, "
                                           "code, data and reads), and a plotting change re-draws pages only.")
    _run_options(p_compute)
    p_book = sub.add_parser("book", help="build the Jupyter Book from a run folder")
    p_book.add_argument("--run", required=True, help="run folder, e.g. results/pbmc68k-reduced/quick")
    p_book.add_argument("--repository", default=None,
                        help="the repository's URL for the repository link and Binder/Colab launch buttons "
                             "(default: repository.url in book/_config.yml; '' for none)")
    _recipe_parser(sub)
    p_study = sub.add_parser("study", help="run one of the committed studies into results/<study>/",
                             description="The arguments after the study's name are its own; see "
                                         "`replicate study <name> --help`.")
    p_study.add_argument("name", choices=list(STUDIES))
    p_study.add_argument("args", nargs=argparse.REMAINDER)
    p_status = sub.add_parser("status", help="which committed results are current (the study graph, dvc.yaml)",
                              description=status.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p_status.add_argument("--fail-on-stale", action="store_true",
                          help="exit 1 when a step recorded in dvc.lock is stale (CI)")
    p_verify = sub.add_parser("verify", help="re-compute a sample of the committed study and compare every number",
                              description=verify.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p_verify.add_argument("--sample", type=int, default=2, help="VAE seeds of the paper run, readings of the "
                                                               "stability study (default 2)")
    p_verify.add_argument("--steps", nargs="+", default=["paper run", "stability"],
                          choices=["paper run", "stability"], metavar="STEP",
                          help="'paper run' and/or 'stability' (default both)")
    p_verify.add_argument("--only-current", action="store_true",
                          help="only the steps that `replicate status` says are current (CI)")
    p_verify.add_argument("--other-machine-reports", action="store_true",
                          help="on a machine other than the committed run's (CPU family or BLAS), report differing "
                               "numbers without failing (CI: trainings are chaotic across CPU kernels)")
    p_verify.add_argument("--out", default=None, help="folder of the report (default results/verify)")
    p_verify.add_argument("--run", default=verify.PAPER_RUN, help=f"the committed run (default {verify.PAPER_RUN})")
    _rebuild_parser(sub)
    _restamp_parser(sub)
    sub.add_parser("datasets", help="list the registered datasets")
    p_fetch = sub.add_parser("fetch", help="download a registered dataset into the data folder")
    p_fetch.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            pipeline.run(args.profile, args.dataset, overrides=_overrides(args.overrides), results=args.results,
                         log_output=args.log_output, force=args.force, sections=_sections(args.sections), jobs=args.jobs,
                         methods=args.methods.split(",") if args.methods else None)
        elif args.command == "compute":
            _compute(args)
        elif args.command == "book":
            html = book.build(args.run, repository=args.repository)
            print(f"book built: open {html / 'index.html'}")
        elif args.command == "recipe":
            result = recipe.run(args.dataset, label_key=args.label_key, n_genes=args.genes or None, seeds=args.seeds,
                                matched=args.matched, scvi=not args.no_scvi, epochs=args.epochs, out=args.out,
                                force=args.force)
            print(recipe_book.headline_of(result))
            if not args.no_book:
                html = recipe_book.build(result)
                print(f"book built: open {html / 'index.html'}")
        elif args.command == "study":
            return STUDIES[args.name](args.args)
        elif args.command == "rebuild":
            made = rebuild.rebuild(args.steps, machine_specific=args.machine_specific, dry_run=args.dry_run,
                                   budget=budget.parse_budget(args.budget), commit=args.commit,
                                   other_family=args.other_family, jobs=args.jobs, scheduler=args.scheduler,
                                   cold=args.cold)
            print(f"{len(made)} steps {'to make' if args.dry_run else 'made'}; their times: {times.TIMES}")
        elif args.command == "restamp":
            return _restamp(args)
        elif args.command == "status":
            return _status(args)
        elif args.command == "verify":
            steps = tuple(args.steps)
            if args.only_current:
                current = verify.current_steps()  # one `dvc status` for all of them
                steps = tuple(s for s in steps if s in current)
                if not steps:
                    print("verify: no step of the sample is current (replicate status): nothing to compare")
                    return 0
            summary = verify.verify(sample=args.sample, steps=steps, out=args.out, run=args.run)
            print(summary.to_string(index=False))
            if summary["differing"].sum():
                print("verify: some numbers differ from the committed ones (see not-identical.csv)", file=sys.stderr)
                if args.other_machine_reports and not verify.same_machine(args.run):
                    print("verify: this machine is not the committed run's (CPU family or BLAS kernels): reported, "
                          "not failed", file=sys.stderr)
                    return 0
                return 1
        elif args.command == "datasets":
            print(f"data folder: {datasets.data_dir()}")
            for name, info in registry().items():
                print(f"{name:22s} {info['title']}")
        elif args.command == "fetch":
            print(datasets.fetch(args.name))
    except ReplicateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
