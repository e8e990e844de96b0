"""Cheating submissions score 0 on every cheated exercise, with a reason, and change nothing outside
their scratch copy (tests/submissions/cheating.py); the course's own answers earn no points.

The corpus runs in the sandbox (bubblewrap: `make test` installs it) and is skipped without it, since
some of its cheats (rewriting the test files, writing outside the copy) only fail there.
"""

import csv
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from worldmodels.grading.__main__ import main
from worldmodels.grading.grader import Limits, course_exercises, grade_student, sandbox_available
from worldmodels.grading.registry import all_answers, repo_root

ROOT = repo_root()
FAST = Limits(cell_s=20, exercise_s=5, grace_s=2)
_corpus_spec = importlib.util.spec_from_file_location("corpus", ROOT / "tests" / "submissions" / "corpus.py")
corpus = importlib.util.module_from_spec(_corpus_spec)
_corpus_spec.loader.exec_module(corpus)
_spec = importlib.util.spec_from_file_location("cheating", ROOT / "tests" / "submissions" / "cheating.py")
cheating = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cheating)
needs_sandbox = pytest.mark.skipif(not sandbox_available()[0], reason="bubblewrap is not available: `make sandbox`")


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


class _Server(BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        _Server.hits.append(self.path)
        body = cheating.CORRECT_ENERGY.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _sleepers() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if cheating.MARKER in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(proc.name)
        except OSError:
            continue
    return found


@needs_sandbox
def test_the_sandbox_mounts_only_what_the_run_needs(tmp_path):
    from worldmodels.grading.sandbox import bwrap_command

    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "mine.txt").write_text("the student's file")
    server = HTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Server.hits.clear()
    script = (
        "import os, socket, sys, time\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {server.server_address[1]}), timeout=3); print('network: open')\n"
        "except OSError as e:\n"
        "    print('network: refused', e.errno)\n"
        f"for path in [{str(ROOT / 'tests' / 'exercises' / 'ch01.py')!r}, '/outside.txt', 'inside.txt',\n"
        f"             '/submission/mine.txt', {str(ROOT / 'worldmodels' / 'planted.py')!r}]:\n"
        "    try:\n"
        "        open(path, 'a').close(); print('write: ok', os.path.basename(path))\n"
        "    except OSError:\n"
        "        print('write: refused', os.path.basename(path))\n"
        f"for path in [{str(ROOT / 'solutions')!r}, {str(ROOT / 'tests')!r}, {str(ROOT / '.git')!r},\n"
        f"             {str(tmp_path)!r}]:\n"
        "    print('visible:' if os.path.exists(path) else 'absent:', path)\n"
        f"print('repository:', sorted(os.listdir({str(ROOT)!r})))\n"
        "print('uid:', os.getuid(), 'pid:', os.getpid())\n"
        "print('copy:', open('/submission/mine.txt').read())\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execv('/bin/sleep', ['sleep', {cheating.MARKER!r}])\n"
        "time.sleep(0.5)\n"
    )
    before = checksums(ROOT / "tests" / "exercises")
    try:
        run = subprocess.run(bwrap_command([sys.executable, "-I", "-c", script], copy, Path("/tmp/work")),
                             capture_output=True, text=True, timeout=60)
    finally:
        server.shutdown()
    out = run.stdout
    assert "network: refused" in out and _Server.hits == [], out + run.stderr
    assert "write: refused ch01.py" in out and "write: refused outside.txt" in out and "write: ok inside.txt" in out
    assert "write: refused mine.txt" in out and "write: refused planted.py" in out
    assert "visible:" not in out, "no solutions, tests, .git or grader's folders in the sandbox"
    assert "repository: ['.venv', 'worldmodels']" in out, "only the virtual environment and the package"
    assert "uid: 65534" in out and "pid: 1 " not in out, "nobody, in its own PID namespace (bwrap's init is 1)"
    assert "copy: the student's file" in out
    assert not Path("/outside.txt").exists() and not (ROOT / "worldmodels" / "planted.py").exists()
    assert checksums(ROOT / "tests" / "exercises") == before
    assert _sleepers() == [], "a setsid'd child must not outlive the sandboxed process"


@needs_sandbox
def test_cheating_corpus_scores_zero_and_changes_nothing(tmp_path):
    submissions, solutions, tests, outside = (tmp_path / n for n in ("submissions", "solutions", "tests", "outside"))
    solutions.mkdir(), outside.mkdir()
    shutil.copy(ROOT / "solutions" / cheating.NAME, solutions / cheating.NAME)  # grade chapter 1 only
    shutil.copytree(ROOT / "tests" / "exercises", tests)
    server = HTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Server.hits.clear()
    try:
        want = cheating.build(submissions, tests, outside, server.server_address[1])
        # the cheats aim at these copies (the repository's own folders are read-only in the sandbox, see the
        # test above; they are not compared here because other work may change them while this test runs)
        watched = {"submissions": submissions, "tests": tests, "solutions": solutions}
        before = {name: checksums(path) for name, path in watched.items()}
        out = tmp_path / "grades.csv"
        code = main(["--solutions", str(solutions), "--tests", str(tests), "grade-class", str(submissions),
                     "--out", str(out), "--cell-timeout", "15", "--exercise-timeout", "5", "--jobs", "2",
                     "--tmp-mb", "64", "--sandbox", "bwrap"])
    finally:
        server.shutdown()
    assert code == 0, "students' cheating must not make the grader fail"
    for name, path in watched.items():
        assert checksums(path) == before[name], f"{name} must be byte-identical after grading"
    assert list(outside.iterdir()) == [], "nothing may be written outside the scratch copy"
    assert _Server.hits == [], "the sandbox must refuse network connections"
    assert _sleepers() == [], "a process the notebook started must not outlive its grading"
    rows = list(csv.DictReader(out.open()))
    assert [r["status"] for r in rows if r["student"] == "_run"] == ["bwrap"]
    secrets = [v for k, v in os.environ.items() if len(v) > 8 and k in ("PATH", "HOME", "PWD")]
    assert not any(v in r["reason"] for r in rows for v in secrets), "the grader's environment leaked into grades"
    got = {(r["student"], r["exercise"]): r for r in rows if r["student"] != "_run"}
    problems = corpus.expectation_problems(want, got)
    assert not problems, "\n".join(problems)


def _module_of(dotted: str) -> str:
    """The longest importable module prefix of a dotted answer name."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            if importlib.util.find_spec(".".join(parts[:cut])) is not None:
                return ".".join(parts[:cut])
        except ImportError:  # a prefix that is a module, not a package, followed by a name
            continue
    raise ImportError(dotted)


def _answer_submission(folder: Path, answers: dict) -> dict:
    """One notebook per chapter whose exercise functions only call the course's answers (the first one's
    result is returned); returns {exercise: answer names} for the exercises that have answers."""
    folder.mkdir(parents=True)
    cheated = {}
    for name, exs in course_exercises().items():
        solution = nbformat.read(ROOT / "solutions" / name, as_version=4)
        # plain imports of the answers' modules (importlib would get the notebook flagged, scan.py)
        modules = sorted({_module_of(dotted) for e in exs for dotted in answers.get(e.id, ())})
        cells = [new_code_cell("".join(f"import {m}\n" for m in modules) + "import worldmodels\n"
                               "def _answer(dotted):\n"
                               "    obj = worldmodels\n"
                               "    for part in dotted.split('.')[1:]:\n"
                               "        obj = getattr(obj, part)\n"
                               "    return obj\n")]
        for e in exs:
            source = solution.cells[e.cell].source
            function = next(line.split("(")[0][4:] for line in source.splitlines() if line.startswith("def "))
            names = answers.get(e.id, ())
            if names:
                cheated[e.id] = names
            cells.append(new_code_cell(
                f"# EXERCISE {e.id} ({e.points:g} points)\n"
                f"def {function}(*args, **kwargs):\n"
                f"    for dotted in {list(names[1:])!r}:\n"
                "        try:\n"
                "            _answer(dotted)(*args, **kwargs)\n"
                "        except BaseException:\n"
                "            pass\n"
                f"    return _answer({names[0]!r})(*args, **kwargs)\n" if names else
                f"# EXERCISE {e.id} ({e.points:g} points)\n{function} = None\n"))
        nbformat.write(new_notebook(cells=cells), folder / name)
    return cheated


def test_every_answer_of_the_course_is_refused(tmp_path):
    expected = course_exercises()
    answers = all_answers()
    assert set(answers) == {e.id for exs in expected.values() for e in exs}, "every exercise names its answers"
    cheated = _answer_submission(tmp_path / "student", answers)
    results = {r.exercise: r for r in grade_student(tmp_path / "student", "student", expected, FAST)}
    for exercise, names in cheated.items():
        r = results[exercise]
        assert r.points == 0, f"{exercise}: calling the course's answer earned {r.points} ({r.reason})"
        for dotted in names:
            assert dotted in r.reason, f"{exercise}: the reason must name {dotted}: {r.reason}"
    # the same submission without the refusal (test modules without ANSWERS) earns points: the cheat is real
    tests = tmp_path / "tests"
    shutil.copytree(ROOT / "tests" / "exercises", tests)
    for path in tests.glob("ch*.py"):
        path.write_text(path.read_text().replace("ANSWERS = {", "ANSWERS = {} and {"))
    open_results = {r.exercise: r for r in grade_student(tmp_path / "student", "student", expected, FAST, tests)}
    earned = {ex for ex, r in open_results.items() if r.points > 0}
    assert {"ex1.2", "ex2.1", "ex4.1", "ex5.1", "ex5.2"} <= earned, open_results


def test_grading_without_a_sandbox_says_so_loudly(tmp_path, capsys):
    (tmp_path / "class" / "someone").mkdir(parents=True)  # no notebooks: graded without starting Python
    out = tmp_path / "grades.csv"
    assert main(["grade-class", str(tmp_path / "class"), "--out", str(out), "--sandbox", "none"]) == 0
    captured = capsys.readouterr()
    assert "WARNING: NO SANDBOX" in captured.err and "WARNING: NO SANDBOX" in captured.out
    log = [r for r in csv.DictReader(out.open()) if r["student"] == "_run"]
    assert log[0]["status"] == "none" and "NO SANDBOX" in log[0]["reason"]


def test_without_a_sandbox_rewritten_tests_change_no_grade_and_are_reported(tmp_path, capsys):
    submissions, solutions, tests = tmp_path / "submissions", tmp_path / "solutions", tmp_path / "tests"
    solutions.mkdir()
    shutil.copy(ROOT / "solutions" / cheating.NAME, solutions / cheating.NAME)
    shutil.copytree(ROOT / "tests" / "exercises", tests)  # the cheat rewrites this copy, never the repository's
    want = cheating.build(submissions, tests, tmp_path, 9, cases=["rewrites_the_tests"])
    out = tmp_path / "grades.csv"
    assert main(["--solutions", str(solutions), "--tests", str(tests), "grade-class", str(submissions),
                 "--out", str(out), "--cell-timeout", "15", "--exercise-timeout", "5", "--jobs", "1",
                 "--sandbox", "none"]) == 0
    rows = list(csv.DictReader(out.open()))
    grades = [r for r in rows if r["student"] != "_run"]
    assert {r["student"] for r in grades} == set(want) and len(grades) == 3 * len(want)
    for r in grades:  # the tests were read before the cheat ran: the stubs score 0, the solution full marks
        expected = float(r["max"]) if r["student"] == "complete_solution" else 0.0
        assert float(r["points"]) == expected, r
    log = {r["exercise"]: r for r in rows if r["student"] == "_run"}
    assert log["sandbox"]["status"] == "none"
    assert log["instructor-files"]["status"] == "changed" and "ch01.py" in log["instructor-files"]["reason"]
    assert "instructor file(s) changed" in capsys.readouterr().err


_remote_spec = importlib.util.spec_from_file_location("remote_cheating", ROOT / "tests" / "submissions" / "remote_cheating.py")
remote_cheating = importlib.util.module_from_spec(_remote_spec)
_remote_spec.loader.exec_module(remote_cheating)
HIDDEN_MARKER = "hidden_case_marker_4242"
HIDDEN_CH04 = f'''import numpy as np

from worldmodels.centroid import centroids
from worldmodels.data import CANONICAL
from worldmodels.grading import exercise_test
from worldmodels.render import render


@exercise_test("ex4.2", points=1, hint="{HIDDEN_MARKER}")
def {HIDDEN_MARKER}(ns):
    window = render(np.array([[[10.0, 10.0]], [[11.0, 10.0]]]), CANONICAL.radius, CANONICAL.size)[None]
    moved = centroids(np.asarray(ns["constant_velocity_step"](window)))[0, 0]  # "{HIDDEN_MARKER}": at (12, 10)
    assert np.allclose(moved, [12.0, 10.0], atol=0.05), "{HIDDEN_MARKER}"
'''


@needs_sandbox
def test_cheats_on_verdicts_computed_in_the_grader_score_zero(tmp_path):
    """Chapters 4, 5 and 8 (REMOTE): forged results and gradients, objects instead of data, a pasted or a
    removed answer, a hunt for hidden tests, rebound helpers; the honest solutions keep full marks."""
    submissions, solutions, tests = (tmp_path / n for n in ("submissions", "solutions", "tests"))
    solutions.mkdir()
    for name in remote_cheating.NOTEBOOKS.values():
        shutil.copy(ROOT / "solutions" / name, solutions / name)
    shutil.copytree(ROOT / "tests" / "exercises", tests)
    (tests / "hidden").mkdir(exist_ok=True)
    (tests / "hidden" / "ch04.py").write_text(HIDDEN_CH04)
    # the hidden test adds a point to ex4.2: the solutions notebook marks it so
    nb = nbformat.read(solutions / "04_next_frame.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("# EXERCISE ex4.2 "))
    cell.source = cell.source.replace("# EXERCISE ex4.2 (2 points)", "# EXERCISE ex4.2 (3 points)", 1)
    nbformat.write(nb, solutions / "04_next_frame.ipynb")
    want = remote_cheating.build(submissions, HIDDEN_MARKER)
    watched = {"submissions": submissions, "tests": tests, "solutions": solutions}
    before = {name: checksums(path) for name, path in watched.items()}
    out = tmp_path / "grades.csv"
    code = main(["--solutions", str(solutions), "--tests", str(tests), "grade-class", str(submissions),
                 "--out", str(out), "--cell-timeout", "60", "--exercise-timeout", "20", "--jobs", "2",
                 "--sandbox", "bwrap"])
    assert code == 0
    for name, path in watched.items():
        assert checksums(path) == before[name], f"{name} must be byte-identical after grading"
    rows = list(csv.DictReader(out.open()))
    assert not any(HIDDEN_MARKER in r["reason"] for r in rows if r["student"] != "complete_solution" or
                   r["status"] == "passed"), "a hidden test's text reached grades.csv"
    got = {(r["student"], r["exercise"]): r for r in rows if r["student"] != "_run"}
    problems = []
    for student, notebooks in want.items():
        for exercise, (score, fragment) in ((ex, w) for exs in notebooks.values() for ex, w in exs.items()):
            row = got[(student, exercise)]
            target = {"full": float(row["max"]), "zero": 0.0}.get(score, score)
            if float(row["points"]) != target or fragment not in row["reason"]:
                problems.append(f"{student} {exercise}: expected {score} ({fragment!r}), got {row['points']}/"
                                f"{row['max']} ({row['status']}: {row['reason']})")
    assert not problems, "\n".join(problems)
    assert not [r for r in rows if r["status"] == "flagged"], "these cheats hide from the source scan on purpose"
