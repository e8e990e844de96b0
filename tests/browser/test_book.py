"""The built book, as a reader meets it: every page of the table of contents opens in a real headless
browser straight from disk, at a laptop width and at a phone width.

Run after `make book` (as `make test` does). Needs Debian's `chromium` (`make browser` installs it).
The browser is driven through the Chrome DevTools Protocol over a pipe (`cdp.py`, standard library
only). All pages are visited once per session (about 2 s a page); the tests below then read what was
recorded. On every page the test FAILS on:

* a console error: an uncaught exception, a `console.error`/`console.assert` call, or a browser log
  entry of level "error" (for example a script or image that failed to load);
* a request that is not local: every URL the page requests must be `file:`, `data:`, `blob:` or
  `about:` (the book is read offline; a CDN script would fail there and leave an empty box);
* at 1280 px wide: an overflowing output block. Output blocks are, inside the article, every cell
  output (`.cell_output`), every `div.output` and `pre` inside one, and every `table` (outputs and
  markdown). A block overflows when its content is wider than its box (`scrollWidth > clientWidth
  + 1`) or the box itself sticks out of the article's text column (by more than 1 px). This holds
  for scroll containers too: on a laptop a result must be readable without scrolling sideways (a
  wide text table in a scrolling `pre` hid the columns the prose quoted). Only the outermost
  overflowing block is reported. Code listings (cell inputs, markdown code blocks) are not outputs:
  they scroll like in an editor. Printed text wraps (book/_static/course.css), so a long printed
  line does not fail; the summary counts such outputs as a hint to make them DataFrames;
* at 390 px wide (a phone): the page is wider than the screen (`documentElement.scrollWidth > 391`),
  or a display formula (`mjx-container[display="true"]`) or a table does not sit in a box of its own
  that scrolls horizontally. The rule: the nearest ancestor-or-self of the formula/table whose
  `overflow-x` is not `visible` must lie inside the article, have `overflow-x: auto` or `scroll`
  (`hidden`/`clip` would cut the formula off), and lie within the viewport.

At 1280 px every figure a chapter shows is measured from the sizes its PNG records (worldmodels.plotting.
figure_sizes, written when the notebook ran): no plot panel under 150 px, no frame of the world under about 2
screen pixels per world pixel (60 px for 32 pixels), no legend text under 8 px.

Each page is a first visit (local storage is cleared between pages). It also keeps the earlier
checks: a title and a figure on every page, formulas typeset by MathJax from disk, and no broken
internal link or anchor; and checks that collapsed plotting code (`hide-input`) opens on a click,
that no built page (search and index pages included) names a network resource in its HTML, and that
no notebook shows a widget output (which the offline book could only show as its text fallback).
The course map (book/course_map.md) is measured at both widths: its smallest text is at least 12 px,
no card's text runs over the card's border, the grid fits the screen, and every chapter and the appendix
has a card with its headline number (from tools/chapters.py).
`test_the_checks_catch_what_they_should` runs the checker on a page built to fail every check.
A one-line summary (console errors, non-local requests, overflowing outputs, phone-width problems,
wrapped printed outputs) is printed at the end of the session.
"""

from __future__ import annotations

import base64
import os
import re
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
import yaml

from cdp import Browser, BrowserError, find_chromium

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from chapters import chapters  # noqa: E402

# WM_BOOK_HTML: check a book built elsewhere (a scratch build); the default is `make book`'s output.
HTML = Path(os.environ.get("WM_BOOK_HTML") or ROOT / "book" / "_build" / "html")
LAPTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


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


# --------------------------------------------------------------------------- in the browser

# Resolves once MathJax has typeset the page, fonts are in and images decoded (at most 10 s).
_READY_JS = """
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const ready = (async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
    if (document.fonts) await document.fonts.ready;
    await Promise.all([...document.images].map(img => img.complete ? null
      : new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  })();
  await Promise.race([ready, sleep(10000)]);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return true;
})()
"""

# Shared helpers: the article (text column), visibility, and where an element sits (for messages).
_HELPERS_JS = """
const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const style = el => getComputedStyle(el);
const visible = el => el.getClientRects().length > 0 && style(el).visibility !== 'hidden';
const cells = [...article.querySelectorAll('div.cell')];
const where = el => {
  const cell = el.closest('div.cell');
  const section = el.closest('section[id]');
  const text = (el.innerText || el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 70);
  return {code_cell: cell ? cells.indexOf(cell) + 1 : null, section: section ? section.id : null,
          element: el.tagName.toLowerCase() + (el.classList.length ? '.' + [...el.classList].slice(0, 2).join('.') : ''),
          text};
};
"""

_LAPTOP_JS = "(() => {" + _HELPERS_JS + """
  const column = article.getBoundingClientRect();
  const blocks = [...article.querySelectorAll('.cell_output, .cell_output div.output, .cell_output pre, table')]
    .filter(el => !el.closest('.cell_input') && visible(el));
  const over = blocks.filter(el => {
    const r = el.getBoundingClientRect();
    return el.scrollWidth > el.clientWidth + 1 || r.right > column.right + 1 || r.left < column.left - 1;
  });
  const outermost = over.filter(el => !over.some(o => o !== el && o.contains(el)));
  // Not a failure, a hint for authors: printed text whose lines only fit because course.css wraps them.
  const wrapped = [...article.querySelectorAll('.cell_output pre')].filter(visible).filter(el => {
    const before = el.style.whiteSpace;
    el.style.whiteSpace = 'pre';
    const wide = el.scrollWidth > el.clientWidth + 1;
    el.style.whiteSpace = before;
    return wide;
  });
  return {
    wrapped: wrapped.map(el => where(el)),
    blocks: blocks.length,
    overflowing: outermost.map(el => ({...where(el), content_px: el.scrollWidth, box_px: el.clientWidth,
                                       right_px: Math.round(el.getBoundingClientRect().right),
                                       column_right_px: Math.round(column.right)})),
  };
})()"""

_PHONE_JS = "(() => {" + _HELPERS_JS + """
  const vw = document.documentElement.clientWidth;
  const items = [...article.querySelectorAll('mjx-container[display="true"], table')].filter(visible);
  const unboxed = [];
  for (const el of items) {
    let box = el;
    while (box !== article && style(box).overflowX === 'visible') box = box.parentElement;
    const ox = style(box).overflowX, r = box.getBoundingClientRect();
    let problem = null;
    if (box === article) problem = 'no scroll box of its own';
    else if (ox !== 'auto' && ox !== 'scroll') problem = `clipped by ${box.tagName.toLowerCase()} (overflow-x: ${ox})`;
    else if (r.left < -1 || r.right > vw + 1) problem = `its scroll box spans ${Math.round(r.left)}..${Math.round(r.right)} px, outside the ${vw} px screen`;
    if (problem) unboxed.push({...where(el), problem, width_px: Math.round(el.getBoundingClientRect().width)});
  }
  // What makes the page wider than the screen: elements that stick out of it, not clipped by a
  // scroll box, whose parent does not stick out.
  const clipped = el => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement)
      if (style(a).overflowX !== 'visible') return true;
    return false;
  };
  const wide = [...article.querySelectorAll('*')].filter(el => {
    const r = el.getBoundingClientRect(), p = el.parentElement && el.parentElement.getBoundingClientRect();
    return visible(el) && r.right > vw + 1 && p && p.right <= vw + 1 && !clipped(el);
  }).slice(0, 5).map(el => ({...where(el), right_px: Math.round(el.getBoundingClientRect().right)}));
  return {viewport: vw, page_width: document.documentElement.scrollWidth, checked: items.length,
          unboxed, wide};
})()"""

# The course map's cards (only on a page that has them): the smallest font size of any visible text in the
# grid, the cards whose text runs over their border, how far right the grid reaches, and each card's text.
_COURSE_MAP_JS = """
(() => {
  const map = document.querySelector('.course-map');
  if (!map) return null;
  const visible = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const texts = [...map.querySelectorAll('*')].filter(el => visible(el) &&
    [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim()));
  const cards = [...map.querySelectorAll('.course-map-card')];
  const over = cards.filter(card => {
    const box = card.getBoundingClientRect();
    return card.scrollWidth > card.clientWidth + 1 || card.scrollHeight > card.clientHeight + 1 ||
      [...card.querySelectorAll('*')].some(el => { const r = el.getBoundingClientRect();
        return r.right > box.right + 1 || r.bottom > box.bottom + 1 || r.left < box.left - 1; });
  });
  return {smallest_px: Math.min(...texts.map(el => parseFloat(getComputedStyle(el).fontSize))),
          texts: texts.length, cards: cards.map(c => c.innerText.replace(/\\s+/g, ' ')),
          overflowing: over.map(c => c.innerText.replace(/\\s+/g, ' ').slice(0, 60)),
          right_px: Math.round(map.getBoundingClientRect().right), viewport: document.documentElement.clientWidth};
})()
"""

# Every figure in a cell output: where it is, the file it shows, its width on screen and in the file.
_FIGURES_JS = "(() => {" + _HELPERS_JS + """
  return [...article.querySelectorAll('.cell_output img')].filter(visible).map(img => ({...where(img),
    src: img.currentSrc || img.src, shown_px: img.getBoundingClientRect().width, natural_px: img.naturalWidth}));
})()"""

# Collapsed plotting code: closed at first, open after a click on its summary, code then visible.
_TOGGLE_JS = """
(() => {
  const hidden = [...document.querySelectorAll('article details.above-input, article .tag_hide-input details')];
  const problems = [];
  hidden.forEach((d, i) => {
    if (d.open) { problems.push(`hidden input #${i + 1} is open before any click`); return; }
    const summary = d.querySelector('summary');
    if (!summary) { problems.push(`hidden input #${i + 1} has no summary to click`); return; }
    summary.click();
    const code = d.querySelector('pre');
    if (!d.open || !code || code.getBoundingClientRect().height < 5)
      problems.push(`hidden input #${i + 1} does not show its code after a click`);
    summary.click();
  });
  return {count: hidden.length, problems};
})()
"""


def _describe(event):
    """One line for a console message, exception or log entry."""
    method, params = event["method"], event["params"]
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        text = details.get("exception", {}).get("description") or details.get("text", "")
        return f"uncaught: {text.splitlines()[0] if text else text} ({details.get('url', '')}:{details.get('lineNumber')})"
    if method == "Runtime.consoleAPICalled":
        args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
        return f"console.{params['type']}: {args}"
    entry = params["entry"]
    return f"log {entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()


def _is_error(event):
    method, params = event["method"], event["params"]
    if method == "Runtime.exceptionThrown":
        return True
    if method == "Runtime.consoleAPICalled":
        return params["type"] in ("error", "assert")
    if method == "Log.entryAdded":
        return params["entry"]["level"] == "error"
    return False


def _visit(page, path):
    """Open one built page, look at it at both widths, return what was seen."""
    page.log.clear()
    page.send("Emulation.setDeviceMetricsOverride", LAPTOP)
    page.navigate(path.as_uri())
    page.evaluate(_READY_JS)
    result = {"dom": page.evaluate("document.documentElement.outerHTML")}
    result["laptop"] = page.evaluate(_LAPTOP_JS)
    result["laptop"]["course_map"] = page.evaluate(_COURSE_MAP_JS)
    result["laptop"]["figures"] = page.evaluate(_FIGURES_JS)
    result["toggles"] = page.evaluate(_TOGGLE_JS)
    page.send("Emulation.setDeviceMetricsOverride", PHONE)
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    result["phone"] = page.evaluate(_PHONE_JS)
    result["phone"]["course_map"] = page.evaluate(_COURSE_MAP_JS)
    page.send("Emulation.clearDeviceMetricsOverride")
    page.pump(0.3)  # late console messages and requests
    # Every page is a reader's first visit: forget what this one stored (e.g. the theme mode).
    page.evaluate("localStorage.clear(); sessionStorage.clear(); true")
    result["errors"] = [_describe(e) for e in page.log if _is_error(e)]
    requests = [e["params"]["request"]["url"] for e in page.log if e["method"] == "Network.requestWillBeSent"]
    result["requests"] = len(requests)
    result["remote"] = sorted({url[:200] for url in requests if not url.startswith(LOCAL_SCHEMES)})
    return result


@pytest.fixture(scope="session")
def rendered(request):
    """Every TOC page, rendered once in one headless Chromium: {toc_file: what was seen}."""
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built book at {HTML}: run `make book` first")
    chromium = find_chromium()
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: `make browser` installs it (apt-get install chromium)")
    results, started = {}, time.monotonic()
    with Browser(chromium) as browser:
        page = browser.new_page()
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        for toc_file in PAGES:
            path = _html_path(toc_file)
            if not path.exists():
                continue
            try:
                results[toc_file] = _visit(page, path)
            except BrowserError as error:
                results[toc_file] = {"failure": str(error)}
    # Read by conftest.py's pytest_terminal_summary: one line at the end of the session.
    request.config.browser_summary = _summary(results, time.monotonic() - started)
    return results


def _summary(results, seconds):
    ok = {k: v for k, v in results.items() if "failure" not in v}
    errors = {k: len(v["errors"]) for k, v in ok.items()}
    remote = {k: len(v["remote"]) for k, v in ok.items()}
    over = {k: len(v["laptop"]["overflowing"]) for k, v in ok.items()}
    wrapped = {k: len(v["laptop"]["wrapped"]) for k, v in ok.items()}
    phone = {k: len(v["phone"]["unboxed"]) + (v["phone"]["page_width"] > v["phone"]["viewport"] + 1) for k, v in ok.items()}

    def worst(counts):
        bad = [f"{Path(k).name.split('_')[0]}:{n}" for k, n in counts.items() if n]
        return f" ({' '.join(bad)})" if bad else ""

    return (
        f"browser check of {len(results)} pages in {seconds:.0f} s: "
        f"{sum(errors.values())} console errors{worst(errors)}, "
        f"{sum(remote.values())} non-local requests{worst(remote)}, "
        f"{sum(over.values())} overflowing outputs at 1280 px{worst(over)}, "
        f"{sum(phone.values())} phone-width problems at 390 px{worst(phone)}; "
        f"{sum(wrapped.values())} printed outputs wrap at 1280 px{worst(wrapped)}"
        + (f", {len(results) - len(ok)} pages not rendered" if len(ok) < len(results) else "")
    )


def _seen(rendered, toc_file):
    path = _html_path(toc_file)
    assert path.exists(), f"{toc_file} was not built to {path}"
    seen = rendered[toc_file]
    assert "failure" not in seen, f"{toc_file}: the browser could not render the page: {seen['failure']}"
    return seen


def _bullets(items, keys=None):
    lines = []
    for item in items:
        if isinstance(item, dict):
            item = ", ".join(f"{k}={item[k]!r}" for k in (keys or item) if k in item)
        lines.append(f"  - {item}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- tests


def test_book_was_built():
    assert (HTML / "index.html").exists(), f"no built book at {HTML}: run `make book` first"


def test_every_chapter_notebook_is_in_the_book():
    chapters = {f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    missing = chapters - set(PAGES)
    assert not missing, f"chapters missing from book/_toc.yml: {sorted(missing)}"


@pytest.mark.parametrize("toc_file", [f for f in PAGES if f.startswith("notebooks/")])
def test_chapter_page_offers_its_notebook_for_download(toc_file):
    page = _parse(_html_path(toc_file).read_text())
    notebook = f"_sources/{toc_file}.ipynb"
    assert any(link.endswith(notebook) for link in page.links), f"{toc_file}: no download link to its notebook"
    assert (HTML / notebook).is_file(), f"{toc_file}: the downloadable notebook {notebook} is not in the book"


def test_the_course_archive_is_offered_for_download():
    page = _parse(_html_path("book/run_it_yourself").read_text())
    archives = [link for link in page.links if link.endswith("world-models-course.zip")]
    assert archives, "the page 'Run it yourself' does not link the course archive"
    assert (HTML / "book" / archives[0]).resolve().is_file(), f"the linked archive {archives[0]} is not in the book"


@pytest.mark.parametrize("toc_file", PAGES)
def test_page_renders_with_title_and_figure(rendered, toc_file):
    seen = _seen(rendered, toc_file)
    text = seen["dom"]
    dom = _parse(text)
    if 'class="math' in _html_path(toc_file).read_text(encoding="utf-8"):
        # MathJax ships with the book (no CDN): formulas must be typeset even offline.
        assert "<mjx-container" in text, f"{toc_file}: formulas were not typeset (MathJax did not load from disk)"
    titles = [t.strip().rstrip("#").strip() for t in dom.h1 if t.strip()]
    assert titles, f"{toc_file}: the page shows no <h1> title in the browser"
    if toc_file.endswith(("bibliography", "glossary", "course_map")):
        return  # a list of references, of definitions; the course map is a grid of cards (measured below)
    figures = [src for src in dom.images if not re.search(r"logo|badge|_static/", src)]
    assert figures, f"{toc_file}: the page shows no figure (no <img> outside the theme)"


@pytest.mark.parametrize("toc_file", PAGES)
def test_no_console_error(rendered, toc_file):
    errors = _seen(rendered, toc_file)["errors"]
    assert not errors, f"{toc_file}: {len(errors)} console error(s):\n" + _bullets(errors)


@pytest.mark.parametrize("toc_file", PAGES)
def test_no_request_leaves_the_disk(rendered, toc_file):
    remote = _seen(rendered, toc_file)["remote"]
    assert not remote, (
        f"{toc_file}: {len(remote)} non-local request(s) (the book must work offline; ship the file "
        f"or drop what loads it):\n" + _bullets(remote)
    )


@pytest.mark.parametrize("toc_file", PAGES)
def test_no_output_overflows_at_1280px(rendered, toc_file):
    over = _seen(rendered, toc_file)["laptop"]["overflowing"]
    assert not over, (
        f"{toc_file}: {len(over)} output block(s) wider than the text column at 1280 px "
        f"(make the output narrower: a DataFrame with fewer columns, wrapped text, a smaller figure):\n"
        + _bullets(over, ["section", "code_cell", "element", "content_px", "box_px", "right_px", "column_right_px", "text"])
    )


@pytest.mark.parametrize("toc_file", PAGES)
def test_math_and_tables_scroll_in_their_box_at_390px(rendered, toc_file):
    phone = _seen(rendered, toc_file)["phone"]
    problems = []
    if phone["page_width"] > phone["viewport"] + 1:
        problems.append(
            f"the page is {phone['page_width']} px wide on a {phone['viewport']} px screen; sticking out:\n"
            + _bullets(phone["wide"], ["section", "code_cell", "element", "right_px", "text"])
        )
    if phone["unboxed"]:
        problems.append(
            "display math / tables without a horizontally scrolling box:\n"
            + _bullets(phone["unboxed"], ["section", "code_cell", "element", "problem", "width_px", "text"])
        )
    assert not problems, f"{toc_file} at 390 px: " + "\n".join(problems)


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_course_map_is_readable(rendered, width):
    seen = _seen(rendered, "book/course_map")[width]["course_map"]
    assert seen, "book/course_map shows no course map (div.course-map, written by tools/front_matter.py)"
    assert seen["smallest_px"] >= 12, f"the course map's smallest text is {seen['smallest_px']} px ({width})"
    assert not seen["overflowing"], "course map cards whose text runs over the border:\n" + _bullets(seen["overflowing"])
    assert seen["right_px"] <= seen["viewport"], (
        f"the course map reaches {seen['right_px']} px on a {seen['viewport']} px screen")
    for chapter in chapters():
        card = [text for text in seen["cards"] if chapter.title in text]
        assert card and chapter.headline in card[0], f"{chapter.name} has no card with its headline"


# What a reader must be able to read in a figure on a laptop (1280 px): a plot panel at least 150 px wide,
# a frame of the world drawn with about 2 screen pixels per world pixel (at least 60 px for the 32-pixel world),
# legend and colour-bar text at least 8 px high (the theme's smallest text, its footer, is 12 px; figure
# labels are read at the figure's own scale). On a phone the reader zooms a figure; panels are not
# measured there.
MIN_PLOT_PX, MIN_FRAME_PX_PER_PIXEL, MIN_LEGEND_PX = 150, 1.875, 8


def _figure_problems(figures):
    """Problems of the figures a page shows, from the sizes their PNGs record (worldmodels.plotting)."""
    from worldmodels.plotting import read_figure_sizes

    problems, measured = [], 0
    for figure in figures:
        url = urlparse(figure["src"])
        if url.scheme != "file" or not url.path.endswith(".png"):
            continue
        sizes = read_figure_sizes(Path(unquote(url.path)).read_bytes())
        place = f"code cell {figure['code_cell']} (section {figure['section']})"
        if sizes is None:
            problems.append(f"{place}: the figure does not record its sizes: re-execute the notebook "
                            "(worldmodels.plotting.use_course_style makes every inline figure record them)")
            continue
        measured += 1
        scale = figure["shown_px"] / figure["natural_px"]
        if sizes["plot_px"] is not None and sizes["plot_px"] * scale < MIN_PLOT_PX:
            problems.append(f"{place}: a plot panel is {sizes['plot_px'] * scale:.0f} px wide on screen "
                            f"(at least {MIN_PLOT_PX}: fewer panels per row, or a wider figure)")
        if sizes["frame_px"] is not None and sizes["frame_px"] * scale < MIN_FRAME_PX_PER_PIXEL * sizes["frame_res"]:
            problems.append(f"{place}: a frame of {sizes['frame_res']} pixels is drawn {sizes['frame_px'] * scale:.0f} px "
                            f"wide on screen (at least {MIN_FRAME_PX_PER_PIXEL * sizes['frame_res']:.0f}: fewer frames per row)")
        if sizes["legend_px"] is not None and sizes["legend_px"] * scale < MIN_LEGEND_PX:
            problems.append(f"{place}: legend text is {sizes['legend_px'] * scale:.1f} px high on screen "
                            f"(at least {MIN_LEGEND_PX}: a larger font, fewer entries, or the legend outside the axes)")
    return problems, measured


@pytest.mark.parametrize("toc_file", PAGES)
def test_figures_are_readable_at_1280px(rendered, toc_file):
    problems, _ = _figure_problems(_seen(rendered, toc_file)["laptop"]["figures"])
    assert not problems, f"{toc_file}: {len(problems)} figure(s) too small to read at 1280 px:\n" + _bullets(problems)


@pytest.mark.parametrize("toc_file", PAGES)
def test_collapsed_code_opens_on_click(rendered, toc_file):
    toggles = _seen(rendered, toc_file)["toggles"]
    assert not toggles["problems"], f"{toc_file}: " + "; ".join(toggles["problems"])


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


_BROKEN_PAGE = """<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">
<script>const THEBE_JS_URL = 1;</script><script>const THEBE_JS_URL = 2;</script>
<script src="https://cdn.invalid/require.min.js"></script>
<style>body { margin: 0 } article { width: 300px } .math { overflow: hidden }</style></head><body>
<article class="bd-article"><h1>Broken</h1>
<div class="cell"><div class="cell_output"><div class="output stream"><pre>%s</pre></div></div></div>
<div class="cell"><div class="cell_output"><div class="output text_html"><table class="dataframe">
<tr>%s</tr></table></div></div></div>
<div class="math"><mjx-container display="true" style="display: block; width: 500px">x</mjx-container></div>
<table><tr><td>a narrow table without a scroll box</td></tr></table>
<div class="cell"><div class="cell_output"><img src="small.png" style="width: 200px"></div></div>
<script>console.error("an error"); throw new Error("boom")</script>
</article></body></html>"""


def test_the_checks_catch_what_they_should(tmp_path):
    """The checker itself, on a page made to fail every check (so a green run means something)."""
    chromium = find_chromium()
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: `make browser` installs it")
    page_path = tmp_path / "broken.html"
    (tmp_path / "small.png").write_bytes(base64.b64decode(_small_figure()))
    page_path.write_text(_BROKEN_PAGE % ("x" * 400, "<td>wide column</td>" * 40))
    with Browser(chromium) as browser:
        page = browser.new_page()
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        seen = _visit(page, page_path)
    errors = "\n".join(seen["errors"])
    assert "THEBE_JS_URL" in errors and "boom" in errors and "an error" in errors
    assert "cdn.invalid" in errors  # the failed load is logged too
    assert seen["remote"] == ["https://cdn.invalid/require.min.js"]
    overflowing = {item["element"] for item in seen["laptop"]["overflowing"]}
    assert len(seen["laptop"]["overflowing"]) == 2, seen["laptop"]["overflowing"]
    assert overflowing == {"div.cell_output"}
    problems = sorted(item["problem"] for item in seen["phone"]["unboxed"])
    assert len(problems) == 3, problems
    assert sum("clipped" in p for p in problems) == 1  # the formula, cut off by div.math
    assert sum("no scroll box" in p for p in problems) == 2  # the two tables
    assert seen["phone"]["page_width"] > 391  # the wide table and the long line widen the page
    problems, measured = _figure_problems(seen["laptop"]["figures"])
    assert measured == 1 and len(problems) == 3, problems  # a narrow plot, a small frame, small legend text
    assert any("plot panel" in p for p in problems) and any("frame of 32" in p for p in problems)


def _small_figure():
    """A figure too small to read once shown 200 px wide: three plots and a frame of the world."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from worldmodels.plotting import figure_png, use_course_style

    use_course_style()
    fig, axes = plt.subplots(1, 4, figsize=(8, 2))
    for ax in axes[:3]:
        ax.plot([0, 1], [0, 1], label="a line")
    axes[0].legend()
    axes[3].imshow(np.zeros((32, 32)))
    axes[3].axis("off")
    png = figure_png(fig)
    plt.close(fig)
    return png


def _notebook_pages():
    return [f for f in PAGES if (ROOT / f"{f}.ipynb").exists()]


@pytest.mark.parametrize("toc_file", _notebook_pages())
def test_no_widget_output_reaches_the_book(toc_file):
    """The book stores no widget state and renders no widget (book/_config.yml), so a widget output
    would show only its text fallback, e.g. a progress bar frozen at "0%|" or "interactive(children=...".
    Progress bars must come from worldmodels.progress (they leave one static line); an interactive
    cell gets the tag `remove-output` next to a static equivalent."""
    import json

    notebook = json.loads((ROOT / f"{toc_file}.ipynb").read_text(encoding="utf-8"))
    found = []
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    for number, cell in enumerate(code_cells, start=1):
        tags = cell.get("metadata", {}).get("tags", [])
        if {"remove-output", "remove-cell"} & set(tags):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                text = "".join(data.get("text/plain", ""))[:60]
                found.append(f"code cell {number}: a widget output, shown in the book as {text!r}")
    assert not found, f"{toc_file}:\n" + _bullets(found)


class _Resources(HTMLParser):
    """Every URL an HTML page loads by itself (not the links a reader may click)."""

    LOADED = {"script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src",
              "audio": "src", "embed": "src", "object": "data"}

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("href") and attrs.get("rel") not in ("canonical", "next", "prev", "index", "search"):
            self.urls.append(attrs["href"])
        elif tag in self.LOADED and attrs.get(self.LOADED[tag]):
            self.urls.append(attrs[self.LOADED[tag]])


def test_no_built_page_loads_from_the_network():
    """Static complement of the browser check, over every built page (search, index, redirects too)."""
    remote = []
    for page in sorted(HTML.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        remote += [f"{page.relative_to(HTML)}: {url}" for url in parser.urls
                   if urlparse(url).scheme in ("http", "https") or url.startswith("//")]
    assert not remote, "pages that load from the network:\n" + "\n".join(sorted(set(remote))[:40])
