"""The verdict in the grader's own process: the student's process only computes.

A chapter whose public test module declares `REMOTE = True` promises that its tests hand the learner's functions only
plain data (numbers, strings, arrays, tensors, lists, tuples, dicts: wire.py) and need nothing else of
the notebook. Its tests, public and hidden, then run here, in the grader, with the grader's own NumPy
and package: `ns["reflect"]` is a `RemoteFunction`, and calling it sends the inputs to the student's
process, which runs the learner's function on them and sends back the result (or the exception it
raised) as data. The comparisons, the hidden tests and the points never enter the student's process,
so code there can only answer the inputs it is given: a forged message is just another answer.

Requests go to the student's process as JSON lines on a pipe of their own; the answers come back as
events ("reply", with the request's id) on its channel. `call` is whatever sends one request and
waits for its answer (the grader's `_Runner.call`), raising `TestTimeout` when the time is up.
"""

import ast
from pathlib import Path

from .checker import MissingName, Namespace, TestOutcome, describe
from .registry import HIDDEN, load_chapter
from .wire import Unsendable, decode, encode, reraise

FLAG = "REMOTE"


def is_remote(source: str) -> bool:
    """Whether a test module's source declares `REMOTE = True` at its top level (read, never run)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == FLAG for t in n.targets)
               and isinstance(n.value, ast.Constant) and n.value.value is True for n in tree.body)


def remote_chapters(tests: list) -> set:
    """The chapters among `tests` [(chapter, path, source)] whose public module declares REMOTE: all their
    tests, hidden ones included, run in the grader."""
    return {chapter for chapter, path, source in tests if HIDDEN not in Path(path).parts and is_remote(source)}


def remote_tests(tests: list) -> tuple[dict, dict]:
    """({exercise: [ExerciseTest]}, {exercise: answer names}) of the REMOTE chapters among `tests`,
    loaded here (fresh module objects) from the source read at the start."""
    found, answers, chapters = {}, {}, remote_chapters(tests)
    for chapter_id, path, source in tests:
        if chapter_id in chapters:
            chapter = load_chapter(path, source)
            for test in chapter.tests:
                found.setdefault(test.exercise, []).append(test)
            for exercise, names in chapter.answers.items():
                answers[exercise] = tuple(dict.fromkeys(answers.get(exercise, ()) + tuple(names)))
    return found, answers


class RemoteFunction:
    """Stands for the learner's function `name` in a test: calling it asks the student's process."""

    def __init__(self, name: str, call):
        self.name, self._call = name, call

    def __call__(self, *args, **kwargs):
        try:
            request = {"op": "call", "name": self.name, "args": encode(list(args)), "kwargs": encode(kwargs)}
        except Unsendable as error:  # a course bug: the module is not REMOTE-clean
            raise RuntimeError(f"this test cannot be run in the grader ({error}): remove REMOTE from its module")
        return _answer(self._call(request), f"{self.name}(...)")

    def __repr__(self):
        return f"<the learner's {self.name}>"


def _answer(reply: dict, what: str):
    if "raise" in reply:
        raise reraise(reply["raise"])
    if "unsendable" in reply:
        raise TypeError(f"{what} returned {str(reply['unsendable'])[:200]}; the grader receives only plain data "
                        f"(numbers, strings, NumPy arrays, tensors, lists, tuples, dicts)")
    return decode(reply.get("value"))


class RemoteNamespace(dict):
    """The notebook's variables as a test in the grader sees them: functions become RemoteFunctions,
    plain values are fetched as data, a missing name fails as in check()."""

    def __init__(self, call):
        super().__init__()
        self._call = call

    def __getitem__(self, name):
        reply = self._call({"op": "get", "name": str(name)})
        if reply.get("missing"):
            return Namespace()[name]  # raises MissingName with check()'s message
        if reply.get("callable"):
            return RemoteFunction(str(name), self._call)
        return _answer(reply, f"the notebook's {name}")

    def get(self, name, default=None):
        try:
            return self[name]
        except MissingName:
            return default


def run_remote(tests: list, call, left) -> list[dict]:
    """Run an exercise's tests here against the student's process; `left()` is the time left for the
    exercise. Returns the outcome of each test as the runner's "test" events would carry it."""
    outcomes = []
    for test in tests:
        if left() <= 0:
            outcomes.append({"name": test.name, "points": 0, "max": test.points, "status": "timeout", "hint": test.hint,
                             "message": f"the tests of {test.exercise} ran out of time"})
            continue
        try:
            test.func(RemoteNamespace(call))
            status, message = "passed", ""
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # the learner's exceptions arrive rebuilt by wire.reraise
            status, message = describe(error)
        o = TestOutcome(test.exercise, test.name, test.points if status == "passed" else 0, test.points, status,
                        message, test.hint, 0.0)
        outcomes.append({"name": o.name, "points": o.points, "max": o.max_points, "status": o.status,
                         "message": o.message, "hint": o.hint})
    return outcomes
