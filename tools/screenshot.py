"""Screenshot a page of a built book so a person can look at it.

    python tools/screenshot.py results/pbmc68k-reduced/quick [05_table1] [-o table1.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from replicate.publish.browser import screenshot


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder holding book/_build/html")
    p.add_argument("page", nargs="?", default="05_table1", help="page name without .html")
    p.add_argument("-o", "--out", default=None, help="PNG path (default <page>.png here)")
    args = p.parse_args()
    html = Path(args.run) / "book" / "_build" / "html" / f"{args.page}.html"
    if not html.is_file():
        print(f"error: {html} does not exist; build the book with `replicate book --run {args.run}`", file=sys.stderr)
        return 2
    print(screenshot(html, args.out or f"{args.page}.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
