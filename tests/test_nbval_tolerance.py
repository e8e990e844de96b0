"""The nbval extension that compares trained numbers within a tolerance (tests/nbval_tolerance.py)."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nbval_tolerance import (
    TAG_EXACT,
    TAG_TOLERANCE,
    check_tolerance,
    compare_text,
    measure,
    needed_rel,
    quantum,
    split_numbers,
    write_tolerances,
)

ROOT = Path(__file__).resolve().parents[1]


def test_split_numbers_keeps_labels_and_signs():
    numbers, pieces = split_numbers("k=20  error 0.29 px, ex2.1 x0 -1.5e-03 (2-3)")
    assert numbers == ["20", "0.29", "-1.5e-03", "2", "3"]
    assert pieces == ["k=", " error ", " px, ex2.1 x0 ", " (", "-", ")"]


def test_quantum_is_one_unit_of_the_last_digit():
    assert quantum("0.29") == pytest.approx(0.01)
    assert quantum("40") == 1
    assert quantum("-1.50e-03") == pytest.approx(1e-5)


def test_rounding_flip_of_one_unit_is_always_allowed():
    assert compare_text("error 0.29 px", "error 0.30 px", {"rel": 0.0}) is None
    assert compare_text("error 0.29 px", "error 0.31 px", {"rel": 0.0}) is not None


def test_relative_tolerance():
    assert compare_text("loss 40", "loss 41", {"rel": 0.0}) is None  # one unit
    assert compare_text("loss 40", "loss 43", {"rel": 0.05}) is None  # 1 + 2
    assert "differs" in compare_text("loss 40", "loss 44", {"rel": 0.05})


def test_text_around_numbers_must_match():
    assert "text differs" in compare_text("model 0.29", "oracle 0.29", {"rel": 0.5})
    assert compare_text("a  0.29\n b", "a 0.28 b", {"rel": 0.5}) is None  # whitespace runs collapse
    assert compare_text("1.0 2.0", "1.0", {"rel": 0.5}) is not None


def test_needed_rel():
    assert needed_rel("0.29 and 40", "0.30 and 40") == 0.0
    assert needed_rel("loss 40", "loss 43") == pytest.approx(2 / 40)
    assert needed_rel("model 1", "oracle 1") is None


@pytest.mark.parametrize("bad", [None, {}, {"rel": -1}, {"rel": 2}, {"relative": 0.1}, {"rel": "0.1"}])
def test_bad_tolerance_metadata_raises(bad):
    with pytest.raises(ValueError, match="tolerance"):
        check_tolerance(bad)


def _notebook(path: Path, source: str, stored: str, tags: list[str], tolerance=None) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
    cell.metadata["tags"] = tags
    if tolerance is not None:
        cell.metadata["tolerance"] = tolerance
    nb.cells = [cell]
    nbformat.write(nb, path)
    return path


def _nbval(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.nbval_tolerance", "--nbval-lax", "-p", "no:cacheprovider",
         str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_plugin_passes_within_and_fails_outside_the_tolerance(tmp_path):
    source = "print('loss 0.510')"
    within = _notebook(tmp_path / "within.ipynb", source, "loss 0.500\n", [TAG_TOLERANCE], {"rel": 0.05})
    outside = _notebook(tmp_path / "outside.ipynb", source, "loss 0.400\n", [TAG_TOLERANCE], {"rel": 0.05})
    exact = _notebook(tmp_path / "exact.ipynb", source, "loss 0.500\n", [TAG_EXACT])
    assert _nbval(within).returncode == 0
    result = _nbval(outside)
    assert result.returncode == 1 and "1 failed" in result.stdout
    assert _nbval(exact).returncode == 1


def test_plugin_refuses_tolerance_without_its_tag(tmp_path):
    path = _notebook(tmp_path / "untagged.ipynb", "print(1)", "1\n", [], {"rel": 0.05})
    result = _nbval(path)
    assert result.returncode != 0 and "no nbval-tolerance tag" in result.stdout + result.stderr


def test_measure_and_write(tmp_path):
    stored = _notebook(tmp_path / "ch.ipynb", "print('loss 40')", "loss 40\n", [TAG_TOLERANCE], {"rel": 0.5})
    run = tmp_path / "run"
    run.mkdir()
    _notebook(run / "ch.ipynb", "print('loss 40')", "loss 43\n", [TAG_TOLERANCE], {"rel": 0.5})
    rows = measure(stored, [run])
    assert rows[0]["needed_rel"] == [pytest.approx(0.05)]
    write_tolerances(stored, rows, margin=2.0, floor=0.02)
    assert json.loads(stored.read_text())["cells"][0]["metadata"]["tolerance"] == {"rel": 0.1}
