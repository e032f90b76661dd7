"""Open a built book in headless Chromium (Debian's package, driven by Playwright).

Used by the browser test and by ``tools/screenshot.py``; Playwright's own browser download is
never needed (it fails offline): we point it at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

__all__ = ["chromium_path", "check_pages", "screenshot"]

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """The system Chromium, or None when it is not installed (`apt-get install chromium`)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser(p: Any) -> Any:
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("no Chromium found: install it with `apt-get install chromium`.")
    return p.chromium.launch(executable_path=exe, args=ARGS)


def check_pages(html_dir: str | Path, pages: list[str]) -> dict[str, dict[str, Any]]:
    """Load each page; report its title, visible text, broken internal links and missing images.

    A link is broken when it points at a local file that does not exist; an image is missing
    when the browser could not decode it (``naturalWidth == 0``).
    """
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir).resolve()
    report: dict[str, dict[str, Any]] = {}
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        for name in pages:
            path = html_dir / name
            page.goto(path.as_uri(), wait_until="load")
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            broken = []
            for href in hrefs:
                if href.startswith(("http:", "https:", "mailto:", "#", "javascript:")):
                    continue
                target = (path.parent / href.split("#")[0].split("?")[0]).resolve()
                if href.split("#")[0] and not target.exists():
                    broken.append(href)
            missing = page.eval_on_selector_all(
                "img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.src)")
            report[name] = {"title": page.title(), "text": page.inner_text("main"), "broken_links": broken,
                            "missing_images": missing, "images": len(page.query_selector_all("img"))}
        browser.close()
    return report


def screenshot(html_file: str | Path, out: str | Path, *, width: int = 1280) -> Path:
    """Full-page PNG screenshot of one built page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(Path(html_file).resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(500)  # MathJax typesets after load
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    return Path(out)
