"""Grade submissions: one process per student, time limits, results that survive crashes.

`grade_student(folder, ...)` copies the student's folder to a temporary directory, starts
`worldmodels.grading.runner` there in a new process group and follows its JSON-lines report. If a cell
or an exercise's tests hang past their limit the process group is killed; if the process dies
(`os._exit`, a signal, ...) the grader notes which cell or exercise was running, restarts the runner
without that cell (or past that exercise) and goes on. Every exercise ends with points, the maximum
from the solutions notebook, a status and a one-line reason. The submission itself is only read.

The runner runs inside a sandbox when the machine has one (bubblewrap, `bwrap`): no network, the file
system read-only except the student's scratch folder, the solutions, tests and submissions hidden, its
own process namespace (whatever it starts dies with it), no capabilities, and CPU, process and memory
limits. The tests' source is read here, once, and sent to the runner in its job.
"""

import ast
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .checker import EXERCISE_TIMEOUT_S, GRADING_ENV
from .markers import Exercise, exercises, marker_of
from .registry import chapter_tests_path, exercise_tests_dir, hidden_tests_path, parse_id, read_source, repo_root

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_EVENT_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    cell_s: float = 60.0  # one notebook cell
    notebook_s: float = 300.0  # all cells of one notebook: later cells are skipped
    exercise_s: float = EXERCISE_TIMEOUT_S  # all tests of one exercise (check() uses the same)
    startup_s: float = 120.0  # interpreter start and imports, loading tests
    grace_s: float = 3.0  # after a soft (SIGALRM) limit, before the hard kill
    memory_mb: int = 4096  # address space of the grading process
    file_mb: int = 256  # largest file the notebook may write
    cpu_s: float = 900.0  # CPU seconds of one grading process (threads count): it is ended past that
    processes: int = 256  # processes and threads in the sandbox (applied only in a sandbox: RLIMIT_NPROC
    #                       counts all of the user's processes outside one; the kernel exempts root)
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


# ------------------------------------------------------------------------------------------ sandbox

SANDBOXES = ("auto", "bwrap", "none")
_probe_cache: dict = {}


def sandbox_available() -> tuple[bool, str]:
    """(True, version) when bubblewrap runs here with every namespace we ask for, else (False, why)."""
    if "bwrap" not in _probe_cache:
        bwrap = shutil.which("bwrap")
        if not bwrap:
            _probe_cache["bwrap"] = (False, "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap`")
        else:
            try:
                run = subprocess.run([bwrap, *_BWRAP_FLAGS, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                                      "--", "true"], capture_output=True, text=True, timeout=30)
                version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=30).stdout
                ok = run.returncode == 0
                _probe_cache["bwrap"] = (ok, version.strip() if ok else
                                         f"bwrap cannot create its namespaces here: {run.stderr.strip()[:200]}")
            except (OSError, subprocess.SubprocessError) as error:
                _probe_cache["bwrap"] = (False, f"bwrap does not run: {error}")
    return _probe_cache["bwrap"]


def choose_sandbox(mode: str) -> tuple[str, str]:
    """("bwrap" or "none", a sentence for the run log) for --sandbox auto|bwrap|none."""
    if mode not in SANDBOXES:
        raise GraderError(f"--sandbox must be one of {', '.join(SANDBOXES)}, got {mode!r}")
    if mode == "none":
        return "none", "NO SANDBOX (--sandbox none): student code ran with the grader's rights"
    ok, detail = sandbox_available()
    if ok:
        root = " (the grader runs as root: the kernel does not apply the process-count limit)" \
            if os.geteuid() == 0 else ""
        return "bwrap", f"sandbox: {detail}, no network, read-only file system, own process namespace{root}"
    if mode == "bwrap":
        raise GraderError(f"--sandbox bwrap: {detail}")
    return "none", f"NO SANDBOX: {detail}; student code ran with the grader's rights (see docs/grading.md)"


_BWRAP_FLAGS = ("--die-with-parent", "--unshare-all", "--new-session", "--cap-drop", "ALL")


def _protected(path: Path) -> bool:
    """Paths the sandbox may not hide: they hold the interpreter, the course package or the scratch folder."""
    keep = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent, repo_root() / "worldmodels"]
    return any(k == path or path in k.parents for k in keep) or path == Path("/")


def _bwrap_command(cmd: list, scratch: Path, hide: list) -> list:
    out = [shutil.which("bwrap") or "bwrap", *_BWRAP_FLAGS, "--ro-bind", "/", "/", "--dev", "/dev",
           "--proc", "/proc", "--tmpfs", "/tmp"]
    # A course checked out under /tmp (a CI clone, say) must stay visible, read-only, above the fresh /tmp:
    # the interpreter, its virtual environment and the package live there.
    tmp = Path("/tmp").resolve()
    needed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, Path(sys.executable).resolve().parent, repo_root())}
    rebound = []
    for path in sorted(p for p in needed if tmp in p.parents):
        if not any(r == path or r in path.parents for r in rebound):
            out += ["--ro-bind", str(path), str(path)]
            rebound.append(path)
    hidden = []
    for path in sorted({Path(h).resolve() for h in hide if h and Path(h).exists()}):
        under_tmp = path == tmp or tmp in path.parents
        visible_again = any(r == path or r in path.parents for r in rebound)
        if (under_tmp and not visible_again) or any(h == path or h in path.parents for h in hidden):
            continue  # already out of sight
        if not _protected(path) and scratch.resolve() != path and path not in scratch.resolve().parents:
            out += ["--tmpfs", str(path), "--remount-ro", str(path)]  # an empty, read-only folder in its place
            hidden.append(path)
    return out + ["--bind", str(scratch), str(scratch), "--chdir", str(scratch), "--", *cmd]


def points_table(tests: list) -> dict:
    """{exercise: {test name: points}} read from the tests' source without running it (the grader's own
    record: a result line naming another test, or one test twice, is a forgery)."""
    table = {}
    for _, path, source in tests:
        try:
            tree = ast.parse(source)
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
        body = ast.parse(source).body
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


def _runner_env(scratch: Path, shared: Path | None) -> dict:
    """The runner's environment: only a few harmless variables of ours (no tokens or secrets), HOME,
    TMPDIR and matplotlib's config inside the scratch folder. `shared` holds a font cache built once per
    run by the grader (building it costs ~0.5 s); each student gets a copy, so none can poison another's."""
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    for name in ("HOME", "TMPDIR", "MPLCONFIGDIR"):
        (scratch / name.lower()).mkdir(exist_ok=True)
    if shared is not None and Path(shared).is_dir():
        for cached in Path(shared).glob("*.json"):
            shutil.copy(cached, scratch / "mplconfigdir" / cached.name)
    env.update({
        GRADING_ENV: "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
        "HOME": str(scratch / "home"), "TMPDIR": str(scratch / "tmpdir"),
        "MPLCONFIGDIR": str(scratch / "mplconfigdir"),
    })
    return env


def build_font_cache(folder: Path) -> None:
    """Build matplotlib's font cache once in `folder` (trusted: before any student code runs)."""
    env = dict(os.environ, MPLCONFIGDIR=str(folder), MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"], env=env, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and anything the notebook started
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _run_attempt(job: dict, job_path: Path, limits: Limits, env: dict, cwd: Path, on_event,
                 sandbox: str = "none", hide: tuple = ()) -> tuple[str, str]:
    """Start the runner on `job` and feed its events to on_event(event) -> deadline (s) for the next one.

    Returns ("done", "") or (kind, message) with kind "timeout", "exited" or "fatal".
    """
    token = secrets.token_hex(16)
    job_path.write_text(json.dumps({**job, "token": token}), encoding="utf-8")
    read_fd, write_fd = os.pipe()
    cmd = [sys.executable, "-I", "-m", "worldmodels.grading.runner", str(job_path), str(write_fd)]
    if sandbox == "bwrap":
        cmd = _bwrap_command(cmd, cwd, list(hide))
    runner_pid = None  # learnt from the first line carrying the token: sent before any student code runs
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(write_fd)
    buffer, deadline = b"", time.monotonic() + limits.startup_s
    try:
        while True:
            wait = deadline - time.monotonic()
            ready = select.select([read_fd], [], [], max(wait, 0))[0] if wait > 0 else []
            if not ready:
                return "timeout", ""
            chunk = os.read(read_fd, 65536)
            if not chunk:
                try:
                    code = proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
                return "exited", f"exit code {code}" if code is not None else "closed its output"
            buffer += chunk
            if len(buffer) > MAX_EVENT_BYTES and b"\n" not in buffer:
                return "exited", "wrote garbage to the grader's channel"
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(event, dict) or event.get("token") != token:
                    continue  # written by the notebook itself
                if runner_pid is None:
                    runner_pid = event.get("pid")  # in the sandbox, the runner's pid in its own namespace
                if event.get("pid") != runner_pid:
                    continue  # written by a process the notebook forked
                if event.get("e") == "done":
                    return "done", ""
                if event.get("e") == "fatal":
                    return "fatal", str(event.get("error", ""))
                try:
                    deadline = time.monotonic() + on_event(event)
                except (KeyError, TypeError, AttributeError, ValueError):
                    continue  # a malformed event (forged by student code?) changes nothing
    finally:
        os.close(read_fd)
        _kill(proc)


def grade_student(folder: Path, student: str, expected: dict[str, list[Exercise]], limits: Limits = Limits(),
                  tests_directory: Path | None = None, workroot: Path | None = None,
                  shared: Path | None = None, sandbox: str = "auto", tests: list | None = None,
                  hide: tuple = ()) -> list[Result]:
    """Grade one student's folder of notebooks against the exercises `expected` of each notebook name.

    Temporary files go to a fresh folder in `workroot` (default: the system's), removed at the end;
    `shared` is an optional cache folder for the whole class (matplotlib's font cache). `sandbox` is
    "auto", "bwrap" or "none" (see choose_sandbox); `tests` the tests' sources from read_tests (read now
    when not given); `hide` more folders the sandbox hides (e.g. the class's submissions).
    """
    folder = Path(folder)
    sandbox = choose_sandbox(sandbox)[0]
    tests = read_tests(expected, tests_directory) if tests is None else tests
    tests_directory = Path(tests_directory or exercise_tests_dir())
    hide = (*hide, folder, tests_directory, repo_root() / "solutions", repo_root() / "tests")
    states = [NotebookState(name, exs) for name, exs in expected.items()]
    scratch = Path(tempfile.mkdtemp(prefix="grade-", dir=workroot))
    try:
        work = scratch / "work"
        if folder.is_dir():
            try:
                shutil.copytree(folder, work, symlinks=True)
            except (OSError, shutil.Error) as error:
                for s in states:
                    s.problem = ("invalid", f"could not copy the submission folder: {error}"[:200])
        else:
            work.mkdir()
        for s in states:
            if not s.problem:
                load_notebook(work / s.name, s)
        _grade_states(states, work, scratch, limits, tests, shared, sandbox, hide)
        return [r for s in states for r in _results(student, s)]
    finally:
        _remove(scratch)


def _remove(path: Path) -> None:
    def unlock(func, p, exc):  # the notebook may have removed write permission from its files
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onexc=unlock) if sys.version_info >= (3, 12) else shutil.rmtree(path, onerror=unlock)


def _grade_states(states, work, scratch, limits, tests, shared, sandbox, hide) -> None:
    env = _runner_env(scratch, shared)
    table = points_table(tests)
    for attempt in range(limits.max_restarts + 1):
        pending = [s for s in states if not s.problem and not s.done]
        if not pending:
            return
        job = {
            "tests": tests,
            "limits": {"memory_mb": limits.memory_mb, "file_mb": limits.file_mb, "cpu_s": int(limits.cpu_s),
                       "processes": limits.processes if sandbox == "bwrap" and os.geteuid() != 0 else 0},
            "notebooks": [{
                "name": s.name, "workdir": str(work), "cell_timeout": limits.cell_s,
                "notebook_timeout": limits.notebook_s,
                "exercise_timeout": limits.exercise_s,
                "cells": [(i, src) for i, src in s.cells if i not in s.skip],
                "exercises": [e.id for e in s.exercises if e.id not in s.done_exercises],
            } for s in pending],
        }
        by_name = {s.name: s for s in pending}
        where = {"phase": "startup", "nb": None, "item": None, "until": 0.0}

        def on_event(event):
            """Follow the runner; return how long the next event may take."""
            kind, state = event.get("e"), by_name.get(event.get("nb"))
            now = time.monotonic()
            if kind == "cell":
                where.update(phase="cell", nb=state, item=event.get("cell"))
                return limits.cell_s + limits.grace_s
            if kind == "ex":
                until = now + limits.exercise_s + limits.grace_s
                where.update(phase="tests", nb=state, item=event.get("ex"), until=until)
                state.outcomes[event["ex"]] = []
            elif kind == "test":
                ex, name = event["ex"], event.get("name")
                known, seen = table.get(ex), [o.get("name") for o in state.outcomes.get(ex, [])]
                if where["phase"] != "tests" or where["item"] != ex or (known is not None and name not in known) \
                        or name in seen:
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

        kind, message = _run_attempt(job, scratch / "job.json", limits, env, scratch, on_event, sandbox, hide)
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
        out.append(Result(student, s.name, e.id, round(earned, 3), e.points, status, reason[:400]))
    return out
