"""Command line: ``replicate run | book | study | datasets | fetch``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .io import datasets
from .io.errors import ReplicateError
from .io.facts import registry
from .publish import book, pipeline
from .publish.params import parse_value
from .studies import generalisation, stability, why

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replicate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="execute the section notebooks into results/<dataset>/<profile>/")
    p_run.add_argument("--profile", default="quick", help="smoke, quick or paper (replicate/data/profiles.toml)")
    p_run.add_argument("--dataset", default=None, help="registered name or path (default: the profile's)")
    p_run.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                       help="override a notebook parameter, e.g. --set epochs=10 (repeatable)")
    p_run.add_argument("--results", default="results", help="parent folder of runs (default: results)")
    p_run.add_argument("--log-output", action="store_true", help="stream the notebooks' output")
    p_run.add_argument("--force", action="store_true", help="re-execute sections even when unchanged")
    p_book = sub.add_parser("book", help="build the Jupyter Book from a run folder")
    p_book.add_argument("--run", required=True, help="run folder, e.g. results/pbmc68k-reduced/quick")
    p_book.add_argument("--repository", default=None,
                        help="the repository's URL for the repository link and Binder/Colab launch buttons "
                             "(default: repository.url in book/_config.yml; '' for none)")
    p_study = sub.add_parser("study", help="run one of the committed studies into results/<study>/",
                             description="The arguments after the study's name are its own; see "
                                         "`replicate study <name> --help`.")
    p_study.add_argument("name", choices=list(STUDIES))
    p_study.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("datasets", help="list the registered datasets")
    p_fetch = sub.add_parser("fetch", help="download a registered dataset into the data folder")
    p_fetch.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            pipeline.run(args.profile, args.dataset, overrides=_overrides(args.overrides), results=args.results,
                         log_output=args.log_output, force=args.force)
        elif args.command == "book":
            html = book.build(args.run, repository=args.repository)
            print(f"book built: open {html / 'index.html'}")
        elif args.command == "study":
            return STUDIES[args.name](args.args)
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
