"""The course as a workshop participant meets it: JupyterLab in a real (headless) browser.

One JupyterLab server (the course's, from .venv, with the course's JupyterLab configuration in
`jupyter/`) is started on 127.0.0.1 with a random token and a free port, serving a temporary copy of
the notebooks (JupyterLab's autosave must never write into the repository); Debian's chromium is
driven through the DevTools protocol (`cdp.py`, `lab.py`). In order, the tests:

* check that JupyterLab does not ask to fetch Jupyter news from the web, and requests neither news
  nor update checks (a workshop room may have no internet);
* open chapter 2, run all cells with JupyterLab's own "run all" command and find no error output
  and the figures rendered;
* drag chapter 2's temperature slider with the mouse and see the sampled names change;
* open an exercise notebook, run the imports, the unsolved stub of ex1.1 and its `check("ex1.1")`
  cell, and see the failing verdict with the test's hint;
* open the explorer, press its "→ push" button twice and see the frame counter, the frames and the
  error move on, each update within the explorer's 200 ms budget;
* stop the server through its API and check it exits cleanly (code 0).

A missing chromium fails with the command that installs it. The time each step took is printed in
the session summary (conftest.py).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from cdp import Browser, find_chromium
from lab import LabNotebook, LabServer, click, drag, element_center, js_string, wait_until

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = "notebooks/02_next_token.ipynb"  # runs in about a minute and has the slider
EXERCISES = "exercises/01_what_is_a_world_model.ipynb"
EXPLORER = "notebooks/explore_world_model.ipynb"
LAPTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
UPDATE_BUDGET_MS = 200


@pytest.fixture(scope="module")
def timings(request):
    seen: dict[str, float] = {}
    yield seen
    if seen:
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in seen.items())
        request.config.lab_summary = f"JupyterLab browser run: {sum(seen.values()):.0f} s in all ({parts})"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, timings):
    """A running JupyterLab on a copy of the notebooks, and a headless chromium page open on it."""
    chromium = find_chromium()
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: `make browser` installs it (apt-get install chromium)")
    started = time.monotonic()
    work = tmp_path_factory.mktemp("lab")
    for path in (CHAPTER, EXERCISES, EXPLORER):
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, work / path)
    server = LabServer(work)
    with server, Browser(chromium, timeout=60) as browser:
        page = browser.new_page()
        for domain in ("Page", "Runtime", "Network"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride", LAPTOP)
        timings["start"] = time.monotonic() - started
        yield server, page
    # The server is stopped by test_server_stops_cleanly (or here, if that test did not run).


@pytest.fixture(scope="module")
def chapter(lab, timings):
    server, page = lab
    started = time.monotonic()
    notebook = LabNotebook(page, server, CHAPTER)
    result = notebook.run_all(timeout=900)
    timings["chapter 2 run all"] = time.monotonic() - started
    return notebook, result


def test_no_news_prompt_and_no_news_request(lab):
    server, page = lab
    page.navigate(f"{server.url}/lab?token={server.token}")
    wait_until(page, "!!(window.jupyterapp && document.querySelector('.jp-LabShell'))", 60, "JupyterLab to start")
    time.sleep(3)  # the news question, when asked, pops up right after start
    config = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent)")
    assert config.get("news", {}).get("disabled") is True, (
        "JupyterLab would fetch Jupyter news from the web: the course's jupyter/jupyter_server_config.json "
        "(LabApp.news_url = null) was not read; is JUPYTER_CONFIG_PATH set to the repository's jupyter/ folder?")
    toasts = page.evaluate("[...document.querySelectorAll('.Toastify__toast')].map(e => e.textContent)")
    assert not [t for t in toasts if "news" in t.lower()], f"JupyterLab asks about news: {toasts}"
    page.pump()
    asked = [e["params"]["request"]["url"] for e in page.log if e["method"] == "Network.requestWillBeSent"]
    remote = [u for u in asked if not u.startswith((server.url, "data:", "blob:", "about:"))]
    news = [u for u in asked if "/lab/api/news" in u or "/lab/api/update" in u]
    assert not remote and not news, f"JupyterLab requested {remote + news}"


def test_chapter_runs_all_cells_without_error(chapter):
    notebook, result = chapter
    assert result["value"] is not False, "JupyterLab's run-all stopped early (a cell raised)"
    errors = notebook.errors()
    assert not errors, f"{CHAPTER}: error outputs after Run All in JupyterLab:\n" + json.dumps(errors, indent=1)
    figures = notebook.page.evaluate(
        "window.jupyterapp.shell.currentWidget.node.querySelectorAll('.jp-RenderedImage img').length")
    assert figures >= 3, f"{CHAPTER}: only {figures} figures rendered in JupyterLab"


def test_temperature_slider_changes_the_samples(chapter, timings):
    notebook, _ = chapter
    page = notebook.page
    started = time.monotonic()
    index = notebook.find_cell("FloatSlider(")
    output = f"window.jupyterapp.shell.currentWidget.content.widgets[{index}].outputArea.node"
    names_js = f"(() => {{ const el = {output}.querySelector('.widget-html-content'); return el ? el.textContent : null; }})()"
    readout_js = f"(() => {{ const el = {output}.querySelector('.widget-hslider .widget-readout'); return el ? el.textContent : null; }})()"
    before = wait_until(page, names_js, 60, "the sampled names under the slider")
    tau_before = page.evaluate(readout_js)
    handle = element_center(page, f"{output}.querySelector('.widget-hslider .noUi-handle')")
    track = element_center(page, f"{output}.querySelector('.widget-hslider .noUi-target')")
    drag(page, handle["x"], handle["y"], handle["x"] + 0.35 * track["width"], handle["y"])
    after = wait_until(page, f"(() => {{ const t = {names_js}; return t && t !== {js_string(before)} ? t : null; }})()",
                       30, "the sampled names to change after moving the temperature slider")
    tau_after = page.evaluate(readout_js)
    timings["slider"] = time.monotonic() - started
    assert tau_after != tau_before, f"the temperature readout did not move ({tau_before} -> {tau_after})"
    assert float(tau_after) > float(tau_before), f"dragging right lowered the temperature: {tau_before} -> {tau_after}"
    assert after != before
    assert not notebook.errors()
    notebook.close()  # frees the CPU for the next notebooks


def _ex11_hints():
    from worldmodels.grading.registry import find_tests

    return [t.hint for t in find_tests("ex1.1")]


def test_exercise_check_shows_the_failing_verdict_with_a_hint(lab, timings):
    server, page = lab
    started = time.monotonic()
    notebook = LabNotebook(page, server, EXERCISES)
    imports, stub, check = (notebook.find_cell("from worldmodels.grading import check"),
                            notebook.find_cell("# EXERCISE ex1.1"), notebook.find_cell('check("ex1.1")'))
    notebook.run_cells([imports, stub, check])
    text = notebook.output_text(check)
    timings["exercise check"] = time.monotonic() - started
    assert "ex1.1:" in text and "did not pass (0/" in text, f"no failing verdict under check(\"ex1.1\"):\n{text}"
    assert "NotImplementedError" in text, f"the verdict does not say the stub is not implemented:\n{text}"
    assert "PASS" not in text, f"a test passed against the unsolved stub:\n{text}"
    hints = _ex11_hints()
    shown = [h for h in hints if h and h in " ".join(text.split())]
    assert shown, f"no hint of ex1.1's tests ({hints}) is shown:\n{text}"
    assert not notebook.errors(), "check() raised instead of printing a verdict"
    notebook.close()


def test_explorer_push_button_updates_frames_and_error(lab, timings):
    server, page = lab
    started = time.monotonic()
    notebook = LabNotebook(page, server, EXPLORER)
    result = notebook.run_all(timeout=300)
    assert result["value"] is not False and not notebook.errors(), notebook.errors()
    index = notebook.find_cell("explorer.widget()")
    output = f"window.jupyterapp.shell.currentWidget.content.widgets[{index}].outputArea.node"
    status_js = f"(() => {{ const el = {output}.querySelector('.wm-explorer-status'); return el ? el.textContent : null; }})()"
    image_js = f"(() => {{ const el = {output}.querySelector('.wm-explorer-frames'); return el ? el.src : null; }})()"
    status = wait_until(page, status_js, 120, "the explorer widget to render")
    assert "Press a push button" in status, status
    seen_ms = []
    for step in (1, 2):
        image = page.evaluate(image_js)
        button = element_center(
            page, f"[...{output}.querySelectorAll('.wm-explorer-push')].find(b => b.textContent.includes('→'))")
        click(page, button["x"], button["y"])
        status = wait_until(page, f"(() => {{ const t = {status_js}; return t && t.includes('k = {step} ') ? t : null; }})()",
                            30, f"the explorer to show imagined frame k = {step} after a push")
        assert "push: (+0.5, +0.0)" in status, status
        assert re.search(r"world model: [\d.]+ px", status), f"no error shown: {status}"
        assert page.evaluate(image_js) != image, "the frames did not change after a push"
        seen_ms.append(int(re.search(r"update took (\d+) ms", status).group(1)))
    timings["explorer"] = time.monotonic() - started
    assert not notebook.errors()
    assert min(seen_ms) <= UPDATE_BUDGET_MS, f"explorer updates took {seen_ms} ms (budget {UPDATE_BUDGET_MS} ms)"
    notebook.close()


def test_server_stops_cleanly(lab):
    server, _ = lab
    code = server.stop()
    assert code == 0, f"JupyterLab did not stop cleanly (exit code {code}):\n{server.final_log()[-3000:]}"
