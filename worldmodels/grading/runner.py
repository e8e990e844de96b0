"""The grading process: run one student's notebooks, then the tests, and stream what happened.

Started by the grader as `python -m worldmodels.grading.runner - FD CALLS`, the job (JSON) on stdin.
For each notebook of the job it executes the code cells in a fresh namespace (in the sandbox, in
/tmp/work filled from the read-only copy of the student's files; skipping `check(...)` cells and cells
the grader marked as fatal), undoes any patching of imported modules, then grades each exercise:
for a REMOTE chapter it only answers the grader's requests read from CALLS (the learner's function
called on the inputs sent, the result sent back as data: `serve`; models among the inputs are rebuilt
and test helpers found by name in the public test modules: `Builder`); otherwise it compiles the chapter's
tests afresh from the source the grader sent and runs them on that namespace. While an exercise is
graded, the package functions that answer it are blocked (answers.py).
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

from .answers import AnswerGate, GuardedNamespace, answer_function, copies, refuse_bound
from .checker import GRADING_ENV, Alarm, describe, run_test
from .guard import FrozenImports, ModuleGuard
from .registry import load_chapter, parse_id
from .wire import Unsendable, decode, encode, load_state, module_state, raised

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
        with Alarm(timeout, "this cell"):
            exec(compile(source, filename, "exec"), ns)
    except BaseException as error:  # SystemExit, KeyboardInterrupt and our TestTimeout included
        return _error_text(error, filename)
    return None


def grade_notebook(job: dict, sources: tuple, channel: Channel, guard: ModuleGuard, gate: AnswerGate,
                   frozen: FrozenImports, restore=ModuleGuard.restore, remote: dict | None = None,
                   requests=None, helpers: dict | None = None) -> None:
    """Run one notebook's cells, then its exercises: the tests here, or for `remote` exercises (exercise ->
    answer names) the grader's requests read from `requests` (remote.py)."""
    name, remote = job["name"], remote or {}
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
    answers.update({ex: tuple(names) for ex, names in remote.items()})
    every = [n for ex in job["exercises"] for n in answers.get(ex, ())]
    copied = copies(every)
    channel.send("restored", nb=name, patched=patched[:20])
    for exercise in job["exercises"]:
        channel.send("ex", nb=name, ex=exercise)
        deadline = time.perf_counter() + job["exercise_timeout"]
        called = [n for n in answers.get(exercise, ()) if n in copied]
        if exercise in remote:  # the grader runs the tests and asks us only for the learner's results
            called += [n for n in serve(ns, exercise, answers[exercise], channel, requests, gate, guard, restore,
                                        deadline, helpers) if n not in called]
        for test in tests.get(exercise, []) if exercise not in remote else ():
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


class Builder:
    """Builds, in the student's process, what the grader sends besides plain data (wire.py): a fresh
    module of the course's class (or torch.nn.Linear) with the grader's weights, and helpers of the
    public test modules, found in `helpers` ({chapter: the module's namespace}, loaded before any
    student code ran). `modules` lists the modules built for one call, in order."""

    def __init__(self, helpers: dict):
        self.helpers, self.modules = helpers, []

    @staticmethod
    def _class(dotted: str, allowed: tuple):
        from .registry import resolve

        if not str(dotted).startswith(allowed):
            raise ValueError(f"the grader may not build a {dotted}")
        return resolve(str(dotted))

    def module(self, data: dict):
        import torch

        cls = self._class(data["$module"], ("worldmodels.", "torch.nn.modules.linear.Linear"))
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise ValueError(f"{data['$module']} is not a torch module")
        init = data["init"]
        if "config" in init:
            config = self._class(init["config"], ("worldmodels.",))(**decode(init["fields"]))
            module = cls(config)
        else:
            module = cls(*decode(init["args"]), **decode(init["kwargs"]))
        load_state(module, data)
        self.modules.append(module)
        return module

    def helper(self, data: dict):
        chapter, name = (str(v) for v in data["$helper"])
        obj = self.helpers[chapter][name]
        if "attrs" not in data:
            return obj
        instance = obj.__new__(obj)
        vars(instance).update(decode(data["attrs"], self))
        return instance


def load_helpers(sources) -> dict:
    """{chapter: namespace} of the public test modules of REMOTE chapters, executed before student code."""
    import types

    helpers = {}
    for chapter, path, source in sources:
        module = types.ModuleType(f"_exercise_helpers_{chapter}")  # not in sys.modules
        module.__file__ = str(path)
        exec(compile(source, str(path), "exec"), vars(module))
        helpers[str(chapter)] = vars(module)
    return helpers


def _backpropagate(result, modules) -> None:
    """What a test calling `result.backward()` would do: for a scalar tensor that carries a graph."""
    torch = sys.modules.get("torch")
    if modules and torch is not None and isinstance(result, torch.Tensor) and result.numel() == 1 \
            and result.grad_fn is not None:
        try:
            result.backward()
        except RuntimeError:  # already backpropagated by the learner's code, or no graph left
            pass


class Requests:
    """The grader's requests (JSON lines) on file descriptor `fd`, read before any student code runs."""

    def __init__(self, fd: int):
        self.fd, self.buffer, self.read, self.loads = fd, b"", os.read, json.loads

    def next(self) -> dict | None:
        while b"\n" not in self.buffer:
            chunk = self.read(self.fd, 1 << 20)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return self.loads(line)


def serve(ns: dict, exercise: str, names, channel: Channel, requests: Requests, gate: AnswerGate,
          guard: ModuleGuard, restore, deadline: float, helpers: dict | None = None) -> list[str]:
    """Answer the grader's requests for one exercise ("get" a variable, "call" a function on inputs) until
    it says "end", with the course's answers to the exercise blocked; return those the notebook used."""
    gate.block(exercise, names, ())  # no code of ours may call them: the tests are not here
    try:
        while (request := requests.next()) is not None and request.get("op") != "end":
            reply, what = {"id": request.get("id")}, str(request.get("name"))
            try:
                with Alarm(max(deadline - time.perf_counter(), 0.001), f"{what}(...)"):
                    if what not in ns:
                        reply["missing"] = True
                    else:
                        value = refuse_bound(ns[what])
                        if request.get("op") == "get" and callable(value):
                            reply["callable"] = True
                        elif request.get("op") == "get":
                            reply["value"] = encode(value)
                        else:
                            builder = Builder(helpers or {})
                            args, kwargs = decode(request["args"], builder), decode(request["kwargs"], builder)
                            result = value(*args, **kwargs)
                            guard.restore_builtins()  # what our own code needs to send the result
                            _backpropagate(result, builder.modules)
                            reply["value"] = encode(result)
                            reply["modules"] = [module_state(m) for m in builder.modules]
            except Unsendable as error:
                reply["unsendable"] = str(error)
            except BaseException as error:  # the learner's exception, SystemExit and our timeout included
                guard.restore_builtins()
                reply["raise"] = raised(error)
            channel.send("reply", **reply)
    finally:
        restore(guard)  # patches made by the learner's functions cannot reach the grader's checks; undo them anyway
        called = gate.unblock()
    return called


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


def read_job(source: str) -> str:
    """The job, from stdin ("-": a pipe the grader writes and closes; stdin is then /dev/null) or a file."""
    if source != "-":
        with open(source, encoding="utf-8") as f:
            return f.read()
    chunks = []
    while chunk := os.read(0, 1 << 20):
        chunks.append(chunk)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return b"".join(chunks).decode("utf-8")


def prepare_folders(job: dict) -> None:
    """Before any student code: HOME, TMPDIR and matplotlib's folder, its font cache (job "fonts"), and the
    working folder filled from the student's read-only copy (job "copy", in the sandbox)."""
    import shutil

    for name in ("HOME", "TMPDIR", "MPLCONFIGDIR"):
        if os.environ.get(name):
            os.makedirs(os.environ[name], exist_ok=True)
    if job.get("fonts") and os.environ.get("MPLCONFIGDIR"):
        for name in os.listdir(job["fonts"]):
            if name.endswith(".json"):
                shutil.copy(os.path.join(job["fonts"], name), os.environ["MPLCONFIGDIR"])
    for notebook in job["notebooks"][:1] if job.get("copy") else ():
        shutil.copytree(job["copy"], notebook["workdir"], symlinks=True, dirs_exist_ok=True)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    job = json.loads(read_job(argv[0]))  # the notebook cannot read the job, nor the token in it
    channel = Channel(int(argv[1]), job.pop("token"))
    try:
        prepare_folders(job)
        limit_resources(**job["limits"])
        os.environ[GRADING_ENV] = "1"
        devnull = os.open(os.devnull, os.O_WRONLY)
        sys.stdout, sys.stderr = BoundedOutput(devnull), BoundedOutput(devnull)
        sys.stdin = open(os.devnull)
        sys.argv = ["notebook"]
        sources = tuple((str(c), str(p), str(src)) for c, p, src in job.pop("tests"))  # read by the grader
        remote = {ex: tuple(names) for ex, names in job.get("remote", {}).items()}
        loaded = [load_chapter(path, source).answers for _, path, source in sources]
        for answers in loaded + [remote]:  # their imports, and the answers' modules, precede student code
            for names in answers.values():
                for dotted in names:
                    try:
                        answer_function(dotted)
                    except (ImportError, AttributeError, KeyError, TypeError):
                        pass  # `verify` reports it; this answer is simply not blocked
        requests = Requests(int(argv[2])) if len(argv) > 2 else None
        helpers = load_helpers(tuple((str(c), str(p), str(src)) for c, p, src in job.pop("helpers", ())))
        frozen, guard, gate, restore = FrozenImports(), ModuleGuard(), AnswerGate(), ModuleGuard.restore
        channel.send("ready")
        for notebook in job["notebooks"]:
            grade_notebook(notebook, sources, channel, guard, gate, frozen, restore, remote, requests, helpers)
            restore(guard)
            channel.send("nb_end", nb=notebook["name"])
        channel.send("done")
    except BaseException as error:  # a bug of the grader itself, or a notebook that broke the process
        channel.send("fatal", error="".join(traceback.format_exception(error))[-2000:])
    sys.stdout.flush()
    os._exit(0)  # skip atexit handlers and thread joins the notebook may have registered


if __name__ == "__main__":
    main()
