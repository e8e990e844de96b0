"""Every committed notebook carries the outputs a fresh run produces.

nbval (run by `make test`) re-executes notebooks and compares the cells tagged nbval-check-output
(exactly) or nbval-tolerance (within the cell's measured tolerance, tests/nbval_tolerance.py), but it
passes vacuously on a notebook saved without outputs. These tests close that gap and keep the
repository light and its diffs quiet (no widget state, no timings).
"""

import json

from pathlib import Path

import nbformat
import pytest

from nbval_tolerance import TAG_EXACT, TAG_TOLERANCE, check_tolerance

ROOT = Path(__file__).resolve().parents[1]
STORED = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
MAX_NOTEBOOK_BYTES = 3 * 1024 * 1024


def _code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_there_are_notebooks():
    assert STORED, "no notebooks found in notebooks/ or solutions/"


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_every_code_cell_was_executed(path):
    unexecuted = [i for i, c in enumerate(_code_cells(path)) if c.source.strip() and c.execution_count is None]
    assert not unexecuted, f"code cells {unexecuted} have no stored execution: run `make execute`"


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_outputs_are_stored(path):
    assert any(c.outputs for c in _code_cells(path)), f"{path.name} has no stored outputs: run `make execute`"


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_no_error_outputs(path):
    errors = [
        (i, out.get("ename"))
        for i, cell in enumerate(_code_cells(path))
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors, f"{path.name} stores error outputs in cells {errors}"


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_execution_is_in_order(path):
    counts = [c.execution_count for c in _code_cells(path) if c.execution_count is not None]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name} was not run top to bottom in a fresh kernel (execution counts {counts[:12]}...): "
        "run `make execute`"
    )


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_stated_numbers_are_checked(path):
    cells = _code_cells(path)
    checked = [c for c in cells if {TAG_EXACT, TAG_TOLERANCE} & set(c.metadata.get("tags", []))]
    assert checked, f"{path.name} has no cell tagged {TAG_EXACT} or {TAG_TOLERANCE}: nothing proves its numbers"
    markers = [i for i, c in enumerate(cells) if "NBVAL_" in c.source]
    assert not markers, f"{path.name}: code cells {markers} use an NBVAL_ comment; use the cell tags instead"
    for i, cell in enumerate(cells):
        tags = cell.metadata.get("tags", [])
        if TAG_TOLERANCE in tags:
            assert TAG_EXACT not in tags, f"{path.name} code cell {i} is tagged both exact and tolerance"
            check_tolerance(cell.metadata.get("tolerance"))
        else:
            assert "tolerance" not in cell.metadata, f"{path.name} code cell {i} has a tolerance but no {TAG_TOLERANCE} tag"


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_quiet_diffs_no_widget_state_and_no_timings(path):
    nb = json.loads(path.read_text())
    assert "widgets" not in nb["metadata"], f"{path.name} stores widget state: run `make execute`"
    timed = [i for i, c in enumerate(nb["cells"]) if "execution" in c.get("metadata", {})]
    assert not timed, f"{path.name} stores execution timings in cells {timed[:5]}: run `make execute`"
    widget_outputs = [
        i for i, c in enumerate(nb["cells"]) for out in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    assert not widget_outputs, (
        f"{path.name}: cells {widget_outputs} store a live widget that the static book cannot show; use "
        "worldmodels.progress.progress_bar; an interactive cell is tagged remove-output, shows a static equivalent "
        "next to it, and `make execute` drops its live view (tests/tidy_notebooks.py)"
    )


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_notebook_is_light(path):
    size = path.stat().st_size
    assert size <= MAX_NOTEBOOK_BYTES, f"{path.name} is {size / 1e6:.1f} MB; keep notebooks under 3 MB"


CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_has_goal_exercises_and_summary(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    for heading in ("Goal", "Exercises", "Summary"):
        assert heading in text, f"{path.name} lacks a '{heading}' section"


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_every_figure_has_alt_text(path):
    """The book's <img> alt text comes from the cell metadata mystnb.image.alt (myst-nb)."""
    missing = [
        i for i, cell in enumerate(_code_cells(path))
        if any("image/png" in out.get("data", {}) for out in cell.outputs)
        and not cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "").strip()
    ]
    assert not missing, f"{path.name}: code cells {missing} draw a figure without alt text (metadata mystnb.image.alt)"


LARGE_TOLERANCE = 0.1  # above this relative tolerance a checked cell must say why its numbers move so much


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_large_tolerances_state_their_reason(path):
    """A tolerance above 10 % is wide enough to hide a real change, so the cell's metadata says where the
    spread comes from and how large it was measured (`tolerance_reason`)."""
    missing = [f"cell {i}" for i, cell in enumerate(_code_cells(path))
               if TAG_TOLERANCE in cell.metadata.get("tags", [])
               and check_tolerance(cell.metadata.get("tolerance")).get("rel", 0.0) > LARGE_TOLERANCE
               and len(str(cell.metadata.get("tolerance_reason", "")).split()) < 10]
    assert not missing, f"{path.name}: tolerances above {LARGE_TOLERANCE:.0%} without a tolerance_reason: {missing}"
