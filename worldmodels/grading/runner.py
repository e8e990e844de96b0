"""The grading process: run one student's notebooks, then the tests, and stream what happened.

Started by the grader as `python -m worldmodels.grading.runner JOB.json FD`. For each notebook of the
job it executes the code cells in a fresh namespace (in the temporary copy of the student's folder,
skipping `check(...)` cells and cells the grader marked as fatal), undoes any patching of imported
modules, compiles the chapter's tests afresh and runs them on that namespace. The tests' source comes
in the job, read by the grader before any student code ran: a notebook that edits the test files on
disk changes nothing here (and in the sandbox it cannot edit them). While an exercise's tests run, the
package functions that answer it are blocked (answers.py).
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

from .answers import AnswerGate, GuardedNamespace, answer_function, copies
from .checker import GRADING_ENV, _alarm, describe, run_test
from .guard import FrozenImports, ModuleGuard
from .registry import load_chapter, parse_id

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


def grade_notebook(job: dict, sources: tuple, channel: Channel, guard: ModuleGuard, gate: AnswerGate,
                   frozen: FrozenImports, restore=ModuleGuard.restore) -> None:
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
    patched = restore(guard)  # the function bound at import, not an attribute the notebook could replace
    tests, answers, codes = {}, {}, {}
    chapters = {parse_id(ex)[0] for ex in job["exercises"]}
    for chapter, path, source in sources:
        if chapter in chapters:  # fresh module objects, compiled after restore from the source read at start
            loaded = load_chapter(path, source, frozen.namespace())
            for test in loaded.tests:
                tests.setdefault(test.exercise, []).append(test)
            for exercise, names in loaded.answers.items():
                answers[exercise], codes[exercise] = names, loaded.codes
    every = [n for ex in job["exercises"] for n in answers.get(ex, ())]
    copied = copies(every)
    channel.send("restored", nb=name, patched=patched[:20])
    for exercise in job["exercises"]:
        channel.send("ex", nb=name, ex=exercise)
        deadline = time.perf_counter() + job["exercise_timeout"]
        called = [n for n in answers.get(exercise, ()) if n in copied]
        for test in tests.get(exercise, []):
            left = deadline - time.perf_counter()
            if left <= 0:
                outcome = {"name": test.name, "points": 0, "max": test.points, "status": "timeout",
                           "message": f"the tests of {exercise} ran past {job['exercise_timeout']:g} s"}
            else:
                gate.block(exercise, answers.get(exercise, ()), codes.get(exercise, ()))
                try:
                    o = run_test(test, ns, timeout=left, namespace=GuardedNamespace)
                finally:
                    restore(guard)  # the learner's functions may have patched modules (the gate's too) meanwhile
                    blocked_calls = gate.unblock()
                called += [n for n in blocked_calls if n not in called]
                outcome = {"name": o.name, "points": o.points, "max": o.max_points, "status": o.status,
                           "message": o.message, "hint": o.hint}
            channel.send("test", nb=name, ex=exercise, **outcome)
        channel.send("ex_end", nb=name, ex=exercise, answers=called)
    sys.path[:] = guard.path


def limit_resources(memory_mb: int, file_mb: int, cpu_s: int = 0, processes: int = 0) -> None:
    """Cap memory, written file sizes, CPU seconds and (when given) processes and threads: a runaway
    allocation raises MemoryError, a huge write OSError, a process past its CPU time is ended (SIGXCPU)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limits = [("RLIMIT_AS", memory_mb << 20), ("RLIMIT_FSIZE", file_mb << 20), ("RLIMIT_CORE", 0)]
    limits += [("RLIMIT_CPU", int(cpu_s))] if cpu_s else []
    limits += [("RLIMIT_NPROC", int(processes))] if processes else []
    for name, value in limits:
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
        sources = tuple((int(c), str(p), str(src)) for c, p, src in job.pop("tests"))  # read by the grader
        for chapter, path, source in sources:  # their imports, and the answers' modules, precede student code
            for names in load_chapter(path, source).answers.values():
                for dotted in names:
                    try:
                        answer_function(dotted)
                    except (ImportError, AttributeError, KeyError, TypeError):
                        pass  # `verify` reports it; this answer is simply not blocked
        frozen, guard, gate, restore = FrozenImports(), ModuleGuard(), AnswerGate(), ModuleGuard.restore
        channel.send("ready")
        for notebook in job["notebooks"]:
            grade_notebook(notebook, sources, channel, guard, gate, frozen, restore)
            restore(guard)
            channel.send("nb_end", nb=notebook["name"])
        channel.send("done")
    except BaseException as error:  # a bug of the grader itself, or a notebook that broke the process
        channel.send("fatal", error="".join(traceback.format_exception(error))[-2000:])
    sys.stdout.flush()
    os._exit(0)  # skip atexit handlers and thread joins the notebook may have registered


if __name__ == "__main__":
    main()
