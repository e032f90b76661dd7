"""Open a built book in headless Chromium (Debian's package, driven by Playwright).

Playwright is a test dependency (the ``test`` extra), so it is imported inside the functions.

Used by the browser test and by ``tools/screenshot.py``; Playwright's own browser download is
never needed (it fails offline): we point it at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

__all__ = ["chromium_path", "launch", "check_pages", "check_layout", "screenshot"]

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """The system Chromium, or None when it is not installed (`apt-get install chromium`)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch(p: Any) -> Any:
    """Headless Chromium from a running Playwright ``p`` (the system's, never a download)."""
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
        browser = launch(p)
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


_LAYOUT_JS = """(strict) => {
  const art = document.querySelector('article.bd-article') || document.querySelector('main');
  const ar = art.getBoundingClientRect();
  const bad = [];
  for (const el of art.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right <= ar.right + 1 && r.left >= ar.left - 1) continue;
    let p = el.parentElement, boxed = false;
    while (p && p !== art) {
      const s = getComputedStyle(p);
      if ((s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden')
          && p.getBoundingClientRect().right <= ar.right + 1) { boxed = true; break; }
      p = p.parentElement;
    }
    const shown = ['TABLE', 'IMG', 'SVG', 'FIGURE', 'CANVAS'].includes(el.tagName.toUpperCase());
    if (!boxed || (strict && shown)) {
      bad.push(`${el.tagName.toLowerCase()}.${String(el.className).split(' ')[0]} +${Math.round(r.right - ar.right)}px`);
    }
  }
  if (strict) {  // a table or figure cut off inside a scroll box narrower than the column
    for (const box of art.querySelectorAll('*')) {
      const s = getComputedStyle(box);
      if (!['auto', 'scroll', 'hidden'].includes(s.overflowX) || box.scrollWidth <= box.clientWidth + 1) continue;
      const inner = box.querySelector('table, img, svg, canvas');
      if (inner && !box.closest('pre')) {
        bad.push(`${inner.tagName.toLowerCase()} clipped in ${box.tagName.toLowerCase()}.${String(box.className).split(' ')[0]} +${box.scrollWidth - box.clientWidth}px`);
      }
    }
  }
  return {pageScroll: document.documentElement.scrollWidth - window.innerWidth, articleWidth: ar.width,
          offenders: [...new Set(bad)].slice(0, 8)};
}"""


def check_layout(html_dir: str | Path, pages: list[str], widths: tuple[int, ...] = (1280, 390)) -> dict[str, dict[int, Any]]:
    """Per page and window width: horizontal page scroll (px) and elements sticking out of the content column.

    At the first (desktop) width no table or figure may stick out, not even inside a scrolling
    box, nor be cut off by a scroll box narrower than the column (code may scroll in its own box); at the others (phones) a wide table may scroll inside
    its own box, but nothing may make the page itself scroll sideways.
    """
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir).resolve()
    out: dict[str, dict[int, Any]] = {}
    with sync_playwright() as p:
        browser = launch(p)
        for width in widths:
            page = browser.new_page(viewport={"width": width, "height": 900})
            for name in pages:
                page.goto((html_dir / name).as_uri(), wait_until="load")
                page.wait_for_timeout(200)
                out.setdefault(name, {})[width] = page.evaluate(_LAYOUT_JS, width == widths[0])
            page.close()
        browser.close()
    return out


def screenshot(html_file: str | Path, out: str | Path, *, width: int = 1280) -> Path:
    """Full-page PNG screenshot of one built page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(Path(html_file).resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(500)  # MathJax typesets after load
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    return Path(out)
