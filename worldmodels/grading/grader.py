"""Grade submissions: one process per student, time limits, results that survive crashes.

`grade_student(folder, ...)` copies the regular files of the student's folder into a temporary folder
of the grader's (submission.py: never through a link), starts `worldmodels.grading.runner` on them
(process.py) and follows its report. If a cell or an exercise's tests hang past their limit the
process is killed; if it dies (`os._exit`, a signal, ...) the grader notes which cell or exercise was
running, restarts it without that cell (or past that exercise) and goes on. Every exercise ends with
points, the maximum from the solutions notebook, a status and a one-line reason. The submission
itself is only read.

The runner runs inside a sandbox when the machine has one (sandbox.py: bubblewrap mounting only the
system, Python, the grading edition of the package and the student's copy; no network; uid nobody),
in a control group capping the student's memory and processes (cgroups.py). The tests' source is read
here, once; the tests of REMOTE chapters run here too, asking the student's process only for the
learner's results on their inputs (remote.py), and the others are sent to the runner in its job.
Before anything runs, each notebook's source is read here for copies of the course's answers and for
introspection (scan.py): a copy scores 0, introspection flags the notebook for review.
"""

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .checker import EXERCISE_TIMEOUT_S, GRADING_ENV
from .markers import Exercise, exercises, marker_of
from .process import SANDBOX_WORK, run_attempt
from .remote import public_helpers, remote_chapters, remote_tests, run_remote
from .registry import (HIDDEN, answers_in, chapter_tests_path, exercise_tests_dir, hidden_tests_path, parse_id, parse_source,
                       read_source, repo_root)
from .edition import removable, student_edition
from .sandbox import SANDBOXES, SUBMISSION, choose_sandbox, sandbox_available
from .scan import answer_prints, copied, introspection
from .submission import copy_submission

__all__ = ["SANDBOXES", "GraderError", "Limits", "Result", "choose_sandbox", "course_exercises", "grade_student",
           "read_tests", "sandbox_available"]

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    cell_s: float = 60.0  # one notebook cell
    notebook_s: float = 300.0  # all cells of one notebook: later cells are skipped
    exercise_s: float = EXERCISE_TIMEOUT_S  # all tests of one exercise (check() uses the same)
    startup_s: float = 120.0  # interpreter start and imports, loading tests
    grace_s: float = 3.0  # after a soft (SIGALRM) limit, before the hard kill
    memory_mb: int = 4096  # address space of each process; in a cgroup, memory of all of a student's processes
    file_mb: int = 256  # largest file the notebook may write
    tmp_mb: int = 512  # the sandbox's private /tmp, where the notebook runs (memory: counts in memory_mb)
    cpu_s: float = 900.0  # CPU seconds of one grading process (threads count): it is ended past that
    processes: int = 256  # processes and threads of one student: a cgroup's pids.max, and in a sandbox
    #                       RLIMIT_NPROC too (the kernel exempts root from that one, not from the cgroup's)
    max_restarts: int = 8  # per student

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not value > 0:
                raise ValueError(f"Limits.{name} must be > 0, got {value!r}")


@dataclass(frozen=True)
class Result:
    student: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    status: str
    reason: str


class GraderError(RuntimeError):
    """The grader itself cannot run (not a student's fault)."""


def points_table(tests: list) -> dict:
    """{exercise: {test name: points}} read from the tests' source without running it (the grader's own
    record: a result line naming another test, or one test twice, is a forgery)."""
    table = {}
    for _, path, source in tests:
        try:
            tree = parse_source(source)
        except SyntaxError:
            continue
        for node in tree.body:
            for deco in getattr(node, "decorator_list", []):
                name = getattr(getattr(deco, "func", None), "id", getattr(getattr(deco, "func", None), "attr", None))
                if not isinstance(node, ast.FunctionDef) or name != "exercise_test" or not deco.args:
                    continue
                try:
                    exercise = ast.literal_eval(deco.args[0])
                    points = ast.literal_eval(deco.args[1]) if len(deco.args) > 1 else next(
                        (ast.literal_eval(k.value) for k in deco.keywords if k.arg == "points"), 1)
                except ValueError:
                    continue
                table.setdefault(exercise, {})[node.name] = float(points)
    return table


def read_tests(expected: dict, tests_directory: Path | None = None) -> list:
    """[(chapter, path, source)] of every chapter with exercises in `expected`, read now, once: the public
    tests (chNN.py), then the hidden ones (hidden/chNN.py) where they exist."""
    chapters = sorted({parse_id(e.id)[0] for exs in expected.values() for e in exs})
    directory = Path(tests_directory or exercise_tests_dir())
    try:
        public = [(c, str(chapter_tests_path(c, directory)), read_source(chapter_tests_path(c, directory)))
                  for c in chapters]
        hidden = [(c, str(hidden_tests_path(c, directory)), read_source(hidden_tests_path(c, directory)))
                  for c in chapters if hidden_tests_path(c, directory).is_file()]
        return public + hidden
    except (OSError, UnicodeDecodeError) as error:
        raise GraderError(str(error)) from error


def course_exercises(solutions_dir: Path | None = None) -> dict[str, list[Exercise]]:
    """{notebook file name: its exercises} from the solutions notebooks: the authority on max points."""
    solutions_dir = Path(solutions_dir or repo_root() / "solutions")
    if not solutions_dir.is_dir():
        raise GraderError(f"no solutions folder at {solutions_dir}")
    found = {p.name: exercises(nbformat.read(p, as_version=4)) for p in sorted(solutions_dir.glob("*.ipynb"))}
    return {name: exs for name, exs in found.items() if exs}


# ------------------------------------------------------------------------------------------ notebooks


def _python_source(source: str) -> str:
    """Cell source as plain Python: IPython magics (%time, !ls) become get_ipython() calls."""
    if not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return source
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def is_check_cell(source: str) -> bool:
    """A cell of only `check(...)` calls (and comments): skipped when grading."""
    try:
        body = parse_source(source).body
    except SyntaxError:
        return False
    return bool(body) and all(
        isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
        and isinstance(s.value.func, ast.Name) and s.value.func.id == "check"
        for s in body
    )


@dataclass
class NotebookState:
    name: str
    exercises: list  # [Exercise] from the solutions
    problem: tuple | None = None  # (status, reason) when the notebook cannot be run at all
    cells: list = field(default_factory=list)  # [(index, python source)]
    marker_cells: dict = field(default_factory=dict)  # exercise id -> cell index in the submission
    cell_errors: dict = field(default_factory=dict)  # cell index -> message
    skip: set = field(default_factory=set)  # cells that killed or hung the process
    outcomes: dict = field(default_factory=dict)  # exercise -> [test outcome dicts]
    ended: dict = field(default_factory=dict)  # exercise -> (status, reason) when its tests crashed
    done_exercises: set = field(default_factory=set)
    done: bool = False
    patched: list = field(default_factory=list)
    answers: dict = field(default_factory=dict)  # exercise -> course functions its code used
    forged: dict = field(default_factory=dict)  # exercise -> why its reported results cannot be trusted
    copied: dict = field(default_factory=dict)  # exercise -> course answers a function of the notebook copies
    flagged: list = field(default_factory=list)  # [(cell, line, construct)] that can reach code (scan.py)


def load_notebook(path: Path, state: NotebookState) -> None:
    """Fill `state` from a submitted notebook, or set state.problem when it is missing or unreadable."""
    if not path.is_file():
        state.problem = ("missing", f"{state.name} is missing from the submission")
        return
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        state.problem = ("invalid", f"{state.name} is {path.stat().st_size / 1e6:.0f} MB, over the "
                                    f"{MAX_NOTEBOOK_BYTES / 1e6:.0f} MB limit")
        return
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    except Exception as error:  # not JSON, not a notebook, not UTF-8, ...
        text = " ".join(f"{type(error).__name__}: {error}".split())[:200]
        state.problem = ("invalid", f"{state.name} is not a valid notebook ({text})")
        return
    for index, source in cells:
        source = source if isinstance(source, str) else "".join(source)
        try:
            marker = marker_of(source)
        except ValueError:
            marker = None
        if marker:
            state.marker_cells.setdefault(marker[0], index)
        python = _python_source(source)
        if not is_check_cell(python):
            state.cells.append((index, python))


# ------------------------------------------------------------------------------------------ the process


KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS", "ATEN_CPU_CAPABILITY", "SYSTEMROOT")


def _runner_env(scratch: Path, sandbox: str) -> dict:
    """The runner's environment: only a few harmless variables of ours (no tokens or secrets), and HOME,
    TMPDIR and matplotlib's config in the sandbox's private /tmp (without one, in the scratch folder).
    The runner creates the folders, so the grader writes nothing where student code can write."""
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    home = Path("/tmp") if sandbox == "bwrap" else scratch
    env.update({
        GRADING_ENV: "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
        "HOME": str(home / "home"), "TMPDIR": str(home / "tmpdir"), "MPLCONFIGDIR": str(home / "mplconfigdir"),
    })
    return env


def build_font_cache(folder: Path) -> None:
    """Build matplotlib's font cache once in `folder` (trusted: before any student code runs). Each
    student's process copies it into its own config folder (saves ~0.5 s each; none can poison another's)."""
    env = dict(os.environ, MPLCONFIGDIR=str(folder), MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"], env=env, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def grade_student(folder: Path, student: str, expected: dict[str, list[Exercise]], limits: Limits = Limits(),
                  tests_directory: Path | None = None, workroot: Path | None = None,
                  shared: Path | None = None, sandbox: str = "auto", tests: list | None = None,
                  edition: Path | None = None) -> list[Result]:
    """Grade one student's folder of notebooks against the exercises `expected` of each notebook name.

    Temporary files go to a fresh folder in `workroot` (default: the system's), removed at the end;
    `shared` is an optional folder for the whole class holding matplotlib's font cache. `sandbox` is
    "auto", "bwrap" or "none" (see choose_sandbox); `tests` the tests' sources from read_tests (read now
    when not given); `edition` the student edition of the package the sandbox mounts (sandbox.student_edition;
    made now when not given).
    """
    sandbox = choose_sandbox(sandbox)[0]
    tests = read_tests(expected, tests_directory) if tests is None else tests
    states = [NotebookState(name, exs) for name, exs in expected.items()]
    scratch = Path(tempfile.mkdtemp(prefix="grade-", dir=workroot))  # 0700: the grader's
    try:
        work = scratch / "work"
        problems = copy_submission(Path(folder), work)  # regular files only, never through a link
        for s in states:
            why = problems.get(s.name) or problems.get("")
            if why:
                s.problem = ("invalid", f"{s.name}: {why}" if s.name in problems else why)
            else:
                load_notebook(work / s.name, s)
        read_source_of(states, tests)
        if sandbox == "bwrap" and edition is None and any(not s.problem for s in states):
            edition = student_edition(scratch / "edition", removable(tests))
        run = {"sandbox": sandbox, "copy": work, "edition": edition,
               "fonts": Path(shared) if shared is not None and Path(shared).is_dir() else None}
        _grade_states(states, scratch, limits, tests, run)
        return [r for s in states for r in _results(student, s)]
    finally:
        _remove(scratch)


def read_source_of(states: list, tests: list) -> None:
    """Before anything runs: copies of the course's answers and introspection in each notebook's source."""
    answers = {}
    for _, _, source in tests:
        for exercise, names in answers_in(source).items():
            answers[exercise] = tuple(dict.fromkeys(answers.get(exercise, ()) + tuple(names)))
    prints = answer_prints(answers)
    for s in states:
        if not s.problem:
            ids = {e.id for e in s.exercises}
            s.copied = {ex: names for ex, names in copied(s.cells, prints).items() if ex in ids}
            s.flagged = introspection(s.cells)


def _remove(path: Path) -> None:
    def unlock(func, p, exc):  # the notebook may have removed write permission from its files
        try:
            for target in (os.path.dirname(p), p):
                if not os.path.islink(target):  # never chmod through a link: it could point anywhere
                    os.chmod(target, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onexc=unlock) if sys.version_info >= (3, 12) else shutil.rmtree(path, onerror=unlock)


def _grade_states(states, scratch, limits, tests, run) -> None:
    env = _runner_env(scratch, run["sandbox"])
    sandbox, work = run["sandbox"], run["copy"]
    table = points_table(tests)
    try:
        remote, remote_answers = remote_tests(tests)  # run here; their sources never reach the student's process
        helper = public_helpers(remote)  # ...but for the public modules' helpers, which the tests may hand over
    except Exception as error:  # a broken REMOTE test module: a course bug, not the student's
        for s in states:
            s.problem = s.problem or ("grader-error", f"the exercise tests cannot be loaded: {error}"[:300])
        return
    for attempt in range(limits.max_restarts + 1):
        pending = [s for s in states if not s.problem and not s.done]
        if not pending:
            return
        job = {
            "tests": [t for t in tests if t[0] not in remote_chapters(tests)],
            "remote": {ex: list(remote_answers.get(ex, ())) for ex in remote},
            "helpers": [t for t in tests if t[0] in remote_chapters(tests) and HIDDEN not in Path(t[1]).parts],
            "copy": str(SUBMISSION) if sandbox == "bwrap" else None,
            "fonts": str(run["fonts"]) if run["fonts"] else None,
            "limits": {"memory_mb": limits.memory_mb, "file_mb": limits.file_mb, "cpu_s": int(limits.cpu_s),
                       "processes": limits.processes if sandbox == "bwrap" and os.geteuid() != 0 else 0},
            "notebooks": [{
                "name": s.name, "workdir": str(SANDBOX_WORK if sandbox == "bwrap" else work),
                "cell_timeout": limits.cell_s,
                "notebook_timeout": limits.notebook_s,
                "exercise_timeout": limits.exercise_s,
                "cells": [(i, src) for i, src in s.cells if i not in s.skip],
                "exercises": [e.id for e in s.exercises if e.id not in s.done_exercises],
            } for s in pending],
        }
        by_name = {s.name: s for s in pending}
        where = {"phase": "startup", "nb": None, "item": None, "until": 0.0}

        def on_event(event, process):
            """Follow the runner; return how long the next event may take."""
            kind, state = event.get("e"), by_name.get(event.get("nb"))
            now = time.monotonic()
            if kind == "cell":
                where.update(phase="cell", nb=state, item=event.get("cell"))
                return limits.cell_s + limits.grace_s
            if kind == "ex" and event["ex"] in remote:  # the verdict is computed here, the process only computes
                ex, until = event["ex"], now + limits.exercise_s
                where.update(phase="tests", nb=state, item=ex, until=until + limits.grace_s)
                state.outcomes[ex] = run_remote(remote[ex], lambda request: process.call(request, until + limits.grace_s),
                                                lambda: until - time.monotonic(), helper)
                process.end_requests()  # Ended (the attempt is over) when the process stopped answering
                return where["until"] - time.monotonic()
            if kind == "ex":
                until = now + limits.exercise_s + limits.grace_s
                where.update(phase="tests", nb=state, item=event.get("ex"), until=until)
                state.outcomes[event["ex"]] = []
            elif kind == "test":
                ex, name = event["ex"], event.get("name")
                known, seen = table.get(ex), [o.get("name") for o in state.outcomes.get(ex, [])]
                if where["phase"] != "tests" or where["item"] != ex or (known is not None and name not in known) \
                        or name in seen or ex in remote:
                    state.forged.setdefault(ex, f"the grading process reported a result for {name!r} out of turn")
                else:
                    if known is not None:  # points are the grader's, never the reported ones
                        event = {**event, "max": known[name],
                                 "points": known[name] if event.get("status") == "passed" else 0}
                    state.outcomes.setdefault(ex, []).append(event)
            if where["phase"] == "tests" and kind in ("ex", "test"):
                return where["until"] - now
            if kind == "cell_end":
                if event.get("error"):
                    state.cell_errors[event["cell"]] = str(event["error"])[:300]
                where.update(phase="between")
            elif kind == "restoring":
                where.update(phase="restoring", nb=state, item=None)
            elif kind == "restored":
                state.patched = [str(p) for p in event.get("patched", [])][:10]
                where.update(phase="between")
            elif kind == "ex_end":
                state.done_exercises.add(event["ex"])
                state.answers[event["ex"]] = [str(a) for a in event.get("answers") or []][:5]
                where.update(phase="between")
            elif kind == "nb_end":
                state.done = True
                where.update(phase="between")
            return limits.startup_s

        kind, message = run_attempt(job, limits, env, run, on_event)
        if kind == "done" and all(s.done for s in pending):
            return
        if kind == "done":  # "done" before every notebook ended: not the runner's word
            kind, message = "exited", "it reported the end before its notebooks ended"
        phase, state, item = where["phase"], where["nb"], where["item"]
        limit = limits.cell_s if phase == "cell" else limits.exercise_s
        what = {"timeout": f"ran past the {limit:g} s limit and was killed",
                "exited": f"ended the grading process ({message}; os._exit, a kill or a crash?)",
                "fatal": "broke the grading process (" + (message.strip().splitlines() or [""])[-1][:150] + ")"}[kind]
        if phase == "startup":
            detail = message.strip().splitlines()[-1] if message.strip() else f"{kind} {message}"
            for s in pending:
                s.problem = ("grader-error", f"the grading process could not start: {detail}"[:300])
            return
        if phase == "cell":
            state.skip.add(item)
            state.cell_errors[item] = what
        elif phase == "tests":
            status = "timeout" if kind == "timeout" else "crashed"
            state.ended[item] = (status, f"its tests {what}")
            state.done_exercises.add(item)
        else:  # between cells or while restoring: give up on this notebook's remaining exercises
            for e in state.exercises:
                if e.id not in state.done_exercises:
                    state.ended[e.id] = ("crashed", f"the notebook {what}")
                    state.done_exercises.add(e.id)
            state.done = True
    for s in states:
        if not s.problem and not s.done:
            for e in s.exercises:
                if e.id not in s.done_exercises:
                    s.ended[e.id] = ("not-graded",
                                     f"gave up after {limits.max_restarts} restarts of the grading process")


def _results(student: str, s: NotebookState) -> list[Result]:
    out = []
    for e in s.exercises:
        if s.problem:
            out.append(Result(student, s.name, e.id, 0, e.points, *s.problem))
            continue
        outcomes = s.outcomes.get(e.id, [])
        earned = min(e.points, sum(float(o.get("points", 0)) for o in outcomes if o.get("status") == "passed"))
        failed = [o for o in outcomes if o.get("status") != "passed"]
        if e.id in s.ended:  # its tests hung or ended the process: no points, whatever passed before
            (status, reason), earned = s.ended[e.id], 0
        elif e.id in s.forged:
            status, earned = "failed", 0
            reason = f"{s.forged[e.id]}: results were forged or tampered with; no points"
        elif s.copied.get(e.id):  # a function of the notebook is the course's answer, pasted or rebuilt
            status, earned = "failed", 0
            reason = (f"copies the course's own answer {', '.join(s.copied[e.id])} (the same code under another name "
                      f"or place), which does not count for {e.id}: write the function yourself")
        elif s.answers.get(e.id):  # it called (or copied) the course's own answer: no points
            status, earned = "failed", 0
            reason = (f"uses the course's own answer {', '.join(s.answers[e.id])}, which does not count for "
                      f"{e.id}: write the function yourself")
        elif not outcomes:
            status, reason = "grader-error", f"no tests found for {e.id}"
        elif not failed and earned == e.points:
            status, reason = "passed", ""
        else:
            timed_out = any(o.get("status") == "timeout" for o in failed)
            status = "partial" if earned > 0 else ("timeout" if timed_out else "failed")
            reason = (f"{failed[0].get('name')}: {failed[0].get('message')}" if failed else
                      f"all tests passed but they are worth {sum(float(o.get('max', 0)) for o in outcomes):g} of the "
                      f"{e.points:g} points marked (a course bug: see `python -m worldmodels.grading verify`)")
        if status != "passed":
            cell = s.marker_cells.get(e.id)
            if cell in s.cell_errors:
                reason = f"its cell ({cell}) failed: {s.cell_errors[cell]}; {reason}"
            elif s.cell_errors and ("does not define" in reason or "NameError" in reason):
                first = min(s.cell_errors)  # a name is missing: an earlier failing cell likely explains it
                reason = f"{reason}; note: cell {first} failed: {s.cell_errors[first]}"
        if s.patched:
            note = "note: undid the notebook's patching of " + ", ".join(s.patched[:3])
            reason = f"{reason}; {note}" if reason else note
        if s.flagged:  # no points until an instructor has read it; what the tests gave is kept in the reason
            cell, line, what = s.flagged[0]
            more = f" and {len(s.flagged) - 1} more" if len(s.flagged) > 1 else ""
            reason = (f"flagged for review: the notebook uses {what} (cell {cell}, line {line}){more}, which can copy "
                      f"the course's code or reach the grader's; without the flag {earned:g}/{e.points:g} ({status}"
                      + (f": {reason}" if reason else "") + ")")
            status, earned = "flagged", 0
        out.append(Result(student, s.name, e.id, round(earned, 3), e.points, status, reason[:700]))
    return out
