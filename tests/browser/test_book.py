"""The built book, as a reader meets it: every page opens in a real (headless) browser from disk,
shows its title and at least one figure, and no internal link is broken.

Run after `make book` (as `make test` does). Needs Debian's `chromium`; `make test` installs it.
"""

import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "book" / "_build" / "html"


def _toc_files():
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


PAGES = _toc_files()


def _html_path(toc_file):
    return HTML / f"{toc_file}.html"


class _Page(HTMLParser):
    """Collects what the tests need from one HTML document."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.images, self.h1 = set(), [], [], []
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        if tag == "h1":
            self._in_h1 = True
            self.h1.append("")

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        if self._in_h1:
            self.h1[-1] += data


def _parse(text):
    page = _Page()
    page.feed(text)
    return page


def _chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")


def _render_in_browser(path):
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", path.as_uri(),
            ],
            capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 0, f"chromium failed on {path.name}: {result.stderr[-2000:]}"
    return result.stdout


def test_book_was_built():
    assert (HTML / "index.html").exists(), f"no built book at {HTML}: run `make book` first"


def test_every_chapter_notebook_is_in_the_book():
    chapters = {f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    missing = chapters - set(PAGES)
    assert not missing, f"chapters missing from book/_toc.yml: {sorted(missing)}"


@pytest.mark.parametrize("toc_file", PAGES)
def test_page_renders_with_title_and_figure(toc_file):
    path = _html_path(toc_file)
    assert path.exists(), f"{toc_file} was not built to {path}"
    text = _render_in_browser(path)
    dom = _parse(text)
    if 'class="math' in path.read_text(encoding="utf-8"):
        # MathJax ships with the book (no CDN): formulas must be typeset even offline.
        assert "<mjx-container" in text, f"{toc_file}: formulas were not typeset (MathJax did not load from disk)"
    titles = [t.strip().rstrip("#").strip() for t in dom.h1 if t.strip()]
    assert titles, f"{toc_file}: the page shows no <h1> title in the browser"
    if toc_file.endswith("bibliography"):
        return  # a list of references has no figure to show
    figures = [src for src in dom.images if not re.search(r"logo|badge|_static/", src)]
    assert figures, f"{toc_file}: the page shows no figure (no <img> outside the theme)"


def _internal_links():
    for page in sorted(HTML.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        for href in _parse(page.read_text(encoding="utf-8")).links:
            parsed = urlparse(href)
            if parsed.scheme or parsed.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            yield page, href


def test_no_internal_link_is_broken():
    broken = []
    id_cache = {}
    for page, href in _internal_links():
        target, fragment = urldefrag(href)
        target_path = (page.parent / unquote(target)).resolve() if target else page
        if target_path.is_dir():
            target_path = target_path / "index.html"
        if not target_path.exists():
            broken.append(f"{page.relative_to(HTML)} -> {href} (no such file)")
            continue
        if fragment and target_path.suffix == ".html":
            if target_path not in id_cache:
                id_cache[target_path] = _parse(target_path.read_text(encoding="utf-8")).ids
            if unquote(fragment) not in id_cache[target_path]:
                broken.append(f"{page.relative_to(HTML)} -> {href} (no anchor #{fragment})")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:40])
