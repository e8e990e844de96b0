"""Every committed notebook carries the outputs a fresh run produces.

nbval (run by `make test`) re-executes notebooks and compares the cells marked NBVAL_CHECK_OUTPUT,
but it passes vacuously on a notebook saved without outputs. These tests close that gap and keep the
repository light.
"""

from pathlib import Path

import nbformat
import pytest

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
    checked = [c for c in _code_cells(path) if c.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT")]
    assert checked, f"{path.name} has no cell marked # NBVAL_CHECK_OUTPUT: nothing proves its numbers"


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
