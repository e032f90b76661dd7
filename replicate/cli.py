"""Command line: ``replicate run | book | datasets | fetch``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import ReplicateError


def _overrides(pairs: list[str]) -> dict:
    from .params import parse_value

    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ReplicateError(f"--set expects NAME=VALUE, got {pair!r} (e.g. --set epochs=10).")
        out[name.strip()] = parse_value(value.strip())
    return out


def main(argv: Sequence[str] | None = None) -> int:
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

    sub.add_parser("datasets", help="list the registered datasets")

    p_fetch = sub.add_parser("fetch", help="download a registered dataset into the data folder")
    p_fetch.add_argument("name")

    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            from .pipeline import run

            run(args.profile, args.dataset, overrides=_overrides(args.overrides), results=args.results,
                log_output=args.log_output, force=args.force)
        elif args.command == "book":
            from .book import build

            html = build(args.run, repository=args.repository)
            print(f"book built: open {html / 'index.html'}")
        elif args.command == "datasets":
            from ._resources import registry
            from .datasets import data_dir

            print(f"data folder: {data_dir()}")
            for name, info in registry().items():
                print(f"{name:18s} {info['title']}")
        elif args.command == "fetch":
            from .datasets import fetch

            print(fetch(args.name))
    except ReplicateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
