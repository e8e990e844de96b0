"""The grading process: run one student's notebooks, then the tests, and stream what happened.

Started by the grader as `python -m worldmodels.grading.runner JOB.json FD`. For each notebook of the
job it executes the code cells in a fresh namespace (in the temporary copy of the student's folder,
skipping `check(...)` cells and cells the grader marked as fatal), undoes any patching of imported
modules, loads the chapter's tests afresh from their files and runs them on that namespace.
Every step is reported as one JSON line on file descriptor FD, so the grader keeps all results
reported before a crash, an `os._exit` or a hard timeout, and restarts this process to go on.

Student output goes to a bounded buffer (printing a gigabyte costs time, not memory); a cell or an
exercise's tests that run past their limit are interrupted by SIGALRM, and the grader kills the whole
process group if that does not work (a loop that swallows the exception, or a long C call).
"""

import builtins
import json
import os
import sys
import time
import traceback

from .checker import GRADING_ENV, _alarm, describe, run_test
from .guard import ModuleGuard
from .registry import load_tests, parse_id, chapter_tests_path

MAX_OUTPUT_CHARS = 10_000  # student output kept per process (the rest is counted and dropped)


class BoundedOutput:
    """A text stream that keeps the first MAX_OUTPUT_CHARS characters and drops the rest."""

    def __init__(self, fd: int):
        self.kept, self.dropped, self.fd = [], 0, fd
        self.size = 0

    def write(self, text):
        text = str(text)
        room = MAX_OUTPUT_CHARS - self.size
        if room > 0:
            self.kept.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        return self.fd  # /dev/null: C-level writes vanish

    encoding, errors = "utf-8", "replace"


class _NoShell:
    """Stands in for IPython's get_ipython() so transformed magics run: %%time bodies run, the rest is a no-op."""

    def __init__(self, ns):
        self.user_ns = ns

    def run_line_magic(self, name, line, *args, **kwargs):
        return None

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        if name in ("time", "timeit", "capture", "prun"):
            exec(compile(cell, "<cell magic>", "exec"), self.user_ns)

    def system(self, *args, **kwargs):
        return None

    def getoutput(self, *args, **kwargs):
        return []


class Channel:
    """JSON lines to the grader, each with our pid and the job's secret token: the grader ignores lines
    from a process the notebook forked (another pid) and lines the notebook writes itself (no token)."""

    def __init__(self, fd, token):
        self.fd, self.pid, self.token = fd, os.getpid(), token
        self.dumps, self.write, self.exit = json.dumps, os.write, os._exit  # bound before student code runs

    def send(self, event, **fields):
        data = (self.dumps({"e": event, "pid": self.pid, "token": self.token, **fields}) + "\n").encode()
        try:
            while data:
                data = data[self.write(self.fd, data):]
        except OSError:
            self.exit(70)  # the notebook closed our channel: the grader sees EOF and treats it as a crash


def _error_text(error: BaseException, filename: str) -> str:
    status, text = describe(error)
    if isinstance(error, SyntaxError) and error.lineno:
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    return f"{text} (line {lines[-1]})" if lines else text


def run_cell(source: str, ns: dict, filename: str, timeout: float) -> str | None:
    """Execute one cell; return None, or a one-line description of what it raised."""
    try:
        with _alarm(timeout, "this cell"):
            exec(compile(source, filename, "exec"), ns)
    except BaseException as error:  # SystemExit, KeyboardInterrupt and our TestTimeout included
        return _error_text(error, filename)
    return None


def grade_notebook(job: dict, exercise_tests_dir: str, channel: Channel, guard: ModuleGuard) -> None:
    name = job["name"]
    os.makedirs(job["workdir"], exist_ok=True)  # an earlier notebook may have deleted it
    os.chdir(job["workdir"])
    sys.path.insert(0, job["workdir"])
    ns = {"__name__": "__main__", "__builtins__": builtins}
    shell = _NoShell(ns)
    ns["get_ipython"] = lambda: shell
    budget_end = time.perf_counter() + job["notebook_timeout"]
    for index, source in job["cells"]:
        channel.send("cell", nb=name, cell=index)
        start = time.perf_counter()
        if start > budget_end:
            error = f"skipped: the notebook's cells ran past {job['notebook_timeout']:g} s in all"
        else:
            error = run_cell(source, ns, f"<cell {index}>", min(job["cell_timeout"], budget_end - start + 1))
        channel.send("cell_end", nb=name, cell=index, error=error, s=round(time.perf_counter() - start, 3))
    channel.send("restoring", nb=name)
    try:
        os.chdir(job["workdir"])
    except OSError:  # the notebook removed its own folder
        os.chdir(os.path.dirname(job["workdir"]))
    sys.settrace(None)
    sys.setprofile(None)
    patched = guard.restore()
    tests = {}
    for chapter in sorted({parse_id(ex)[0] for ex in job["exercises"]}):
        for test in load_tests(chapter_tests_path(chapter, exercise_tests_dir)):  # fresh module objects, after restore
            tests.setdefault(test.exercise, []).append(test)
    channel.send("restored", nb=name, patched=patched[:20])
    for exercise in job["exercises"]:
        channel.send("ex", nb=name, ex=exercise)
        deadline = time.perf_counter() + job["exercise_timeout"]
        for test in tests.get(exercise, []):
            left = deadline - time.perf_counter()
            if left <= 0:
                outcome = {"name": test.name, "points": 0, "max": test.points, "status": "timeout",
                           "message": f"the tests of {exercise} ran past {job['exercise_timeout']:g} s"}
            else:
                o = run_test(test, ns, timeout=left)
                outcome = {"name": o.name, "points": o.points, "max": o.max_points, "status": o.status,
                           "message": o.message, "hint": o.hint}
            channel.send("test", nb=name, ex=exercise, **outcome)
            guard.restore()  # a test may have triggered more patching through the learner's functions
        channel.send("ex_end", nb=name, ex=exercise)
    sys.path[:] = guard.path


def limit_resources(memory_mb: int, file_mb: int) -> None:
    """Cap memory and written file sizes: a runaway allocation raises MemoryError, a huge write OSError."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for name, value in (("RLIMIT_AS", memory_mb << 20), ("RLIMIT_FSIZE", file_mb << 20), ("RLIMIT_CORE", 0)):
        if hasattr(resource, name):
            soft, hard = resource.getrlimit(getattr(resource, name))
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(getattr(resource, name), (value, hard))


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    job = json.loads(open(argv[0], encoding="utf-8").read())
    os.remove(argv[0])  # the notebook cannot read the job, nor the token that authenticates our events
    channel = Channel(int(argv[1]), job.pop("token"))
    try:
        limit_resources(**job["limits"])
        os.environ[GRADING_ENV] = "1"
        devnull = os.open(os.devnull, os.O_WRONLY)
        sys.stdout, sys.stderr = BoundedOutput(devnull), BoundedOutput(devnull)
        sys.stdin = open(os.devnull)
        sys.argv = ["notebook"]
        for chapter in sorted({parse_id(ex)[0] for nb in job["notebooks"] for ex in nb["exercises"]}):
            load_tests(chapter_tests_path(chapter, job["exercise_tests_dir"]))  # their imports precede student code
        guard = ModuleGuard()
        channel.send("ready")
        for notebook in job["notebooks"]:
            grade_notebook(notebook, job["exercise_tests_dir"], channel, guard)
            guard.restore()
            channel.send("nb_end", nb=notebook["name"])
        channel.send("done")
    except BaseException as error:  # a bug of the grader itself, or a notebook that broke the process
        channel.send("fatal", error="".join(traceback.format_exception(error))[-2000:])
    sys.stdout.flush()
    os._exit(0)  # skip atexit handlers and thread joins the notebook may have registered


if __name__ == "__main__":
    main()
