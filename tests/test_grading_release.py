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
    (tests / "hidden").mkdir()
    (tests / "hidden" / "ch01.py").write_text(HIDDEN)
    return tests


def test_the_grader_runs_hidden_tests_and_check_does_not(tmp_path, monkeypatch, capsys):
    tests = _tests_with_a_hidden_one(tmp_path)
    nb = nbformat.read(ROOT / "solutions" / NAME, as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("# EXERCISE ex1.1 "))
    cell.source = cell.source.replace("    x_new, high = x + v, size - radius\n",
                                      "    if x == 29.0:\n        return x + v, v  # wrong only where the hidden test looks\n"
                                      "    x_new, high = x + v, size - radius\n")
    (tmp_path / "me").mkdir()
    nbformat.write(nb, tmp_path / "me" / NAME)
    expected = {NAME: course_exercises()[NAME]}
    results = {r.exercise: r for r in grade_student(tmp_path / "me", "me", expected, Limits(cell_s=20, exercise_s=5),
                                                    tests)}
    assert results["ex1.1"].status != "passed" and "reflect_hidden_case" in results["ex1.1"].reason
    assert results["ex1.2"].status == "passed"
    monkeypatch.setenv(TESTS_ENV, str(tests))
    ns = {}
    exec(cell.source, ns)
    check("ex1.1", ns=ns)
    out = capsys.readouterr().out
    assert out.startswith("ex1.1: all 4 tests passed") and "hidden" not in out


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
