"""The grader: full marks for the solutions, zero for the stubs, and a corpus of broken submissions.

The corpus (tests/submissions/corpus.py) covers syntax errors, exceptions, infinite loops, missing
functions, wrong types/shapes/dtypes, NaN, invalid or missing notebooks, enormous outputs, file
writes and deletes, sys.exit/os._exit/kill, and patching of check() and the test helpers. Short time
limits keep this module around a minute on 2 cores.
"""

import csv
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from worldmodels.grading.__main__ import main
from worldmodels.grading.grader import Limits, course_exercises, grade_student, is_check_cell
from worldmodels.grading.markers import generate
from worldmodels.grading.registry import repo_root

ROOT = repo_root()
# Where no exercise should run out of time, the grader's own per-exercise limit: a correct solution timed out by a loaded
# machine (make test runs six jobs on two cores) would fail the test without a bug, and a limit costs nothing
# when nothing reaches it
ROOMY = Limits(cell_s=60, grace_s=2)
_spec = importlib.util.spec_from_file_location("corpus", ROOT / "tests" / "submissions" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def expected():
    return course_exercises()


def test_chapter_one_has_at_least_three_exercises(expected):
    assert len(expected["01_what_is_a_world_model.ipynb"]) >= 3


def test_solutions_score_full_marks(expected, tmp_path):
    before = checksums(ROOT / "solutions")
    results = grade_student(ROOT / "solutions", "solutions", expected, ROOMY, workroot=tmp_path)
    bad = [(r.exercise, r.status, r.reason) for r in results if r.points != r.max_points]
    assert not bad, f"solutions must score full marks: {bad}"
    assert checksums(ROOT / "solutions") == before
    assert list(tmp_path.iterdir()) == [], "the grader must remove its temporary folder"


def test_untouched_exercises_score_zero_everywhere(expected, tmp_path):
    generate(ROOT / "solutions", tmp_path / "exercises")  # fresh: staleness is tested in test_grading_markers
    results = grade_student(tmp_path / "exercises", "exercises", expected, ROOMY)
    assert {r.exercise for r in results} == {e.id for exs in expected.values() for e in exs}
    passing = [(r.exercise, r.points) for r in results if r.points != 0]
    assert not passing, f"a test passes against a generated stub: {passing}"
    assert all("NotImplementedError" in r.reason or "does not define" in r.reason for r in results)


def test_exercise_notebooks_run_up_to_their_first_stub():
    script = (  # one process for all notebooks (one torch import), a fresh namespace for each
        "import os, sys, nbformat\n"
        "for path in sys.argv[1:]:\n"
        "    os.chdir(os.path.dirname(path))\n"
        "    ns = {'__name__': '__main__'}\n"
        "    for cell in nbformat.read(path, as_version=4).cells:\n"
        "        if cell.cell_type == 'code':\n"
        "            try:\n"
        "                exec(compile(cell.source, 'cell', 'exec'), ns)\n"
        "            except NotImplementedError:\n"
        "                print('first stub reached in', os.path.basename(path)); break\n"
        "            except Exception as error:\n"
        "                sys.exit(f'{os.path.basename(path)}: {type(error).__name__}: {error} before the first stub')\n"
    )
    paths = sorted(str(p) for p in (ROOT / "exercises").glob("*.ipynb"))
    run = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True,
                         env=dict(os.environ, MPLBACKEND="Agg"), timeout=300)
    assert run.returncode == 0, run.stderr[-1000:]
    assert run.stdout.count("first stub reached") == len(paths), run.stdout


def test_check_cells_are_recognised():
    assert is_check_cell('# run the tests\ncheck("ex1.1")')
    assert not is_check_cell('check("ex1.1")\nx = 1')
    assert not is_check_cell("def check(x):\n    pass")


def test_corpus_of_broken_submissions(tmp_path, monkeypatch):
    submissions, scratch, solutions = tmp_path / "submissions", tmp_path / "scratch", tmp_path / "solutions"
    scratch.mkdir(), solutions.mkdir()
    shutil.copy(ROOT / "solutions" / corpus.NAME, solutions / corpus.NAME)  # grade chapter 1 only
    want = corpus.build(submissions)
    before = checksums(submissions)
    out = tmp_path / "grades.csv"
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # everything the grader writes must go there
    code = main(["--solutions", str(solutions), "grade-class", str(submissions), "--out", str(out),
                 "--cell-timeout", "15", "--exercise-timeout", str(corpus.EXERCISE_S), "--jobs", "2"])
    assert code == 0, "students' failures must not make the grader fail"
    assert checksums(submissions) == before, "the submissions must be byte-identical after grading"
    assert list(scratch.iterdir()) == [], "the grader must leave no temporary files behind"
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["student", "exercise", "points", "max", "status", "reason"]
    log = [r for r in rows if r["student"] == "_run"]
    assert [r["exercise"] for r in log] == ["sandbox"] and log[0]["reason"], "grades.csv logs the sandbox used"
    rows = [r for r in rows if r["student"] != "_run"]
    got = {(r["student"], r["exercise"]): r for r in rows}
    assert len(got) == len(rows) == 3 * len(want)
    problems = corpus.expectation_problems(want, got)
    assert not problems, "\n".join(problems)


def test_grade_class_without_students_is_a_grader_error(tmp_path, capsys):
    assert main(["grade-class", str(tmp_path / "nowhere")]) == 2
    assert "no submissions folder" in capsys.readouterr().err
    assert main(["grade-class", str(tmp_path)]) == 2


def test_grade_prints_a_table(tmp_path, capsys):
    (tmp_path / "me").mkdir()
    nb = nbformat.read(ROOT / "solutions" / corpus.NAME, as_version=4)
    nbformat.write(nb, tmp_path / "me" / corpus.NAME)
    assert main(["grade", str(tmp_path / "me"), "--cell-timeout", "5", "--exercise-timeout", "5"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["exercise", "points", "max", "status", "reason"]
    assert "ex1.1     4       4    passed" in out
    total = sum(e.points for exs in course_exercises().values() for e in exs)
    ch1 = sum(e.points for e in course_exercises()[corpus.NAME])
    assert out.strip().splitlines()[-2] == f"total {ch1:g} / {total:g} points"
    assert "sandbox" in out.strip().splitlines()[-1].lower(), "the run says which sandbox it used"


def test_a_notebook_that_keeps_crashing_is_given_up_on(expected, tmp_path):
    nb = nbformat.read(ROOT / "solutions" / corpus.NAME, as_version=4)
    for k in range(3):  # three cells that each end the process
        nb.cells.insert(2, nbformat.v4.new_code_cell(f"import os\nos._exit({k})"))
    (tmp_path / "me").mkdir()
    nbformat.write(nb, tmp_path / "me" / corpus.NAME)
    limits = Limits(cell_s=20, exercise_s=3, grace_s=2, max_restarts=1)
    results = [r for r in grade_student(tmp_path / "me", "me", expected, limits) if r.notebook == corpus.NAME]
    assert {r.status for r in results} == {"not-graded"}
    assert all(r.points == 0 and "gave up after 1 restarts" in r.reason for r in results)


def test_broken_grading_tests_are_a_grader_error(tmp_path, capsys):
    tests, solutions = tmp_path / "tests", tmp_path / "solutions"
    tests.mkdir(), solutions.mkdir()
    shutil.copy(ROOT / "solutions" / corpus.NAME, solutions / corpus.NAME)
    (tests / "ch01.py").write_text("this is not python\n")
    assert main(["--tests", str(tests), "--solutions", str(solutions), "grade", str(ROOT / "solutions"),
                 "--cell-timeout", "5"]) == 2
    captured = capsys.readouterr()
    assert "the exercise tests cannot be loaded" in captured.err
    assert "grader-error" in captured.out and "could not start" in captured.out
    (tests / "ch01.py").unlink()  # no test module at all: the grader says so before grading anyone
    assert main(["--tests", str(tests), "--solutions", str(solutions), "grade", str(ROOT / "solutions")]) == 2
    assert "cannot find the exercise tests" in capsys.readouterr().err


def test_parse_source_retries_python_311s_spurious_recursion_depth_error(monkeypatch):
    import ast

    from worldmodels.grading import registry

    real, calls = ast.parse, []

    def flaky(source, *args, **kwargs):
        calls.append(source)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=42, after=67)")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", flaky)
    assert isinstance(registry.parse_source("x = 1").body[0], ast.Assign) and len(calls) == 2

    def always(source, *args, **kwargs):
        raise SystemError("AST constructor recursion depth mismatch (before=1, after=2)")

    monkeypatch.setattr(ast, "parse", always)
    with pytest.raises(SystemError, match="mismatch"):
        registry.parse_source("x = 1")

    def other(source, *args, **kwargs):
        calls.append(source)
        raise SystemError("something else")

    calls.clear()
    monkeypatch.setattr(ast, "parse", other)
    with pytest.raises(SystemError, match="something else"):
        registry.parse_source("x = 1")
    assert len(calls) == 1, "only the known spurious error is retried"
