"""Hidden tests and the student release: the grader runs public + hidden tests, check() and the release
only the public ones, and the release holds no solution code and no hidden test."""

import shutil
from pathlib import Path

import nbformat

from worldmodels.grading import check
from worldmodels.grading.__main__ import main
from worldmodels.grading.grader import Limits, course_exercises, grade_student
from worldmodels.grading.registry import TESTS_ENV, repo_root
from worldmodels.grading.release import problems

ROOT = repo_root()
NAME = "01_what_is_a_world_model.ipynb"
HIDDEN = '''import numpy as np

from worldmodels.grading import exercise_test


@exercise_test("ex1.1", points=1, hint="A ball that touches the wall exactly bounces too.")
def reflect_hidden_case(ns):
    # 29 + 1 = 30 overshoots the limit 32 - 3 = 29 by 1: the ball ends at 28 moving left
    x, v = ns["reflect"](29.0, 1.0, 3.0, 32.0)
    assert np.isclose(x, 28.0) and np.isclose(v, -1.0), f"expected (28.0, -1.0), got ({x}, {v})"
'''


def _tests_with_a_hidden_one(tmp_path: Path) -> Path:
    tests = tmp_path / "tests"
    shutil.copytree(ROOT / "tests" / "exercises", tests)
    (tests / "hidden").mkdir(exist_ok=True)
    (tests / "hidden" / "ch01.py").write_text(HIDDEN)
    return tests


def _wrong_where_the_hidden_test_looks(condition: str = "x == 29.0"):
    """The solutions notebook of chapter 1 whose reflect is wrong only when `condition` holds (at x = 29)."""
    nb = nbformat.read(ROOT / "solutions" / NAME, as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("# EXERCISE ex1.1 "))
    cell.source = cell.source.replace("    x_new, high = x + v, size - radius\n",
                                      f"    if {condition}:\n        return x + v, v  # wrong only there\n"
                                      "    x_new, high = x + v, size - radius\n")
    return nb, cell


def _grade(tmp_path: Path, nb, tests: Path) -> dict:
    (tmp_path / "me").mkdir()
    nbformat.write(nb, tmp_path / "me" / NAME)
    expected = {NAME: course_exercises()[NAME]}
    return {r.exercise: r for r in grade_student(tmp_path / "me", "me", expected, Limits(cell_s=20, exercise_s=5),
                                                 tests)}


def test_the_grader_runs_hidden_tests_and_check_does_not(tmp_path, monkeypatch, capsys):
    tests = _tests_with_a_hidden_one(tmp_path)
    nb, cell = _wrong_where_the_hidden_test_looks()
    results = _grade(tmp_path, nb, tests)
    assert results["ex1.1"].status != "passed" and "reflect_hidden_case" in results["ex1.1"].reason
    assert results["ex1.2"].status == "passed"
    monkeypatch.setenv(TESTS_ENV, str(tests))
    ns = {}
    exec(cell.source, ns)
    check("ex1.1", ns=ns)
    out = capsys.readouterr().out
    assert out.startswith("ex1.1: all 4 tests passed") and "hidden" not in out


def test_hidden_tests_of_a_remote_chapter_never_enter_the_students_process(tmp_path):
    # chapter 1's tests run in the grader (REMOTE): a notebook that searches its frames and every object of
    # its process for the hidden test's source, and would then fix reflect where that test looks, finds
    # nothing (the same search finds it when the chapter's tests run in the student's process)
    nb, _ = _wrong_where_the_hidden_test_looks("x == 29.0 and not FOUND")
    nb.cells.insert(1, nbformat.v4.new_code_cell(
        "import gc, sys\n"
        "NAME = 'def ' + '_'.join(['reflect', 'hidden', 'case']) + '('  # not spelt out: this cell is here too\n"
        "def _has(o, depth=0):\n"
        "    if isinstance(o, str):\n"
        "        return NAME in o and o is not NAME\n"
        "    if depth > 3 or not isinstance(o, (tuple, list, dict)):\n"
        "        return False\n"
        "    return any(_has(x, depth + 1) for x in (o.values() if isinstance(o, dict) else o))\n"
        "frames, frame = [], sys._getframe()\n"
        "while frame is not None:\n"
        "    frames.append(dict(frame.f_locals))\n"
        "    frame = frame.f_back\n"
        "FOUND = any(_has(o) for o in frames + gc.get_objects() if o is not globals())\n"))
    results = _grade(tmp_path, nb, _tests_with_a_hidden_one(tmp_path))
    assert results["ex1.1"].status != "passed" and "reflect_hidden_case: expected" in results["ex1.1"].reason


def test_release_has_no_solutions_and_no_hidden_tests(tmp_path, capsys):
    tests, out = _tests_with_a_hidden_one(tmp_path), tmp_path / "student"
    assert main(["--tests", str(tests), "release", "--out", str(out)]) == 0, capsys.readouterr().out
    assert sorted(p.name for p in (out / "exercises").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    assert sorted(p.name for p in (out / "tests" / "exercises").iterdir()) == sorted(
        p.name for p in tests.glob("ch*.py"))
    text = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert "reflect_hidden_case" not in text and "### BEGIN SOLUTION" not in "\n".join(
        p.read_text() for p in (out / "exercises").glob("*.ipynb"))
    assert not (out / "solutions").exists() and not list(out.rglob("hidden"))
    assert problems(out, ROOT / "solutions", tests) == []
    # the check itself: a bundle with a solution or a hidden test in it is refused
    shutil.copy(ROOT / "solutions" / NAME, out / "exercises" / NAME)
    (out / "tests" / "exercises" / "extra.py").write_text(HIDDEN)
    found = "\n".join(problems(out, ROOT / "solutions", tests))
    assert f"exercises/{NAME}: holds a solution marker" in found and "names the hidden test reflect_hidden_case" in found
    assert main(["--tests", str(tests), "release", "--out", str(out)]) == 0, "a release replaces an earlier one"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["release", "--out", str(tmp_path / "mine")]) == 2, "never overwrite a folder it did not write"
