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
from .registry import HIDDEN, load_chapter, parse_source
from .wire import Outgoing, Unsendable, decode, encode, load_state, reraise

FLAG = "REMOTE"


def is_remote(source: str) -> bool:
    """Whether a test module's source declares `REMOTE = True` at its top level (read, never run)."""
    try:
        tree = parse_source(source)
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


def public_helpers(found: dict):
    """helper(obj) -> [chapter, name] for the functions and classes defined at the top level of a public
    REMOTE test module (those `found` by remote_tests came from), else None: only these may be named to
    the student's process, which loads the same public modules (hidden ones never leave the grader)."""
    modules = {}
    for tests in found.values():
        for test in tests:
            module = test.func.__globals__
            if HIDDEN not in Path(str(module.get("__file__", ""))).parts:
                chapter = Path(str(module.get("__file__", ""))).stem.removeprefix("ch")
                modules[test.func.__module__] = (chapter, module)

    def helper(obj):
        found = modules.get(getattr(obj, "__module__", None))
        name = getattr(obj, "__name__", None)
        if found is None or not isinstance(name, str) or found[1].get(name) is not obj:
            return None
        return [found[0], name]

    return helper


class RemoteFunction:
    """Stands for the learner's function `name` in a test: calling it asks the student's process.

    Torch modules among the arguments are rebuilt there (wire.py); what the learner's function did to
    them comes back and is put into the test's own modules, as if the call had been made here: their
    weights, and the gradients left on them (the student's process backpropagates a scalar tensor
    result that carries a graph, as a test calling `.backward()` on it would)."""

    def __init__(self, name: str, call, helper=None):
        self.name, self._call, self._helper = name, call, helper

    def __call__(self, *args, **kwargs):
        outgoing = Outgoing(self._helper)
        try:
            request = {"op": "call", "name": self.name, "args": encode(list(args), outgoing=outgoing),
                       "kwargs": encode(kwargs, outgoing=outgoing)}
        except Unsendable as error:  # a course bug: the module is not REMOTE-clean
            raise RuntimeError(f"this test cannot be run in the grader ({error}): remove REMOTE from its module")
        reply = self._call(request)
        if "raise" not in reply and "unsendable" not in reply:
            states = reply.get("modules") or []
            if len(states) != len(outgoing.modules):
                raise ValueError("the student's process sent back the wrong number of models")
            for module, state in zip(outgoing.modules, states):
                load_state(module, state)
        return _answer(reply, f"{self.name}(...)")

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

    def __init__(self, call, helper=None):
        super().__init__()
        self._call, self._helper = call, helper

    def __getitem__(self, name):
        reply = self._call({"op": "get", "name": str(name)})
        if reply.get("missing"):
            return Namespace()[name]  # raises MissingName with check()'s message
        if reply.get("callable"):
            return RemoteFunction(str(name), self._call, self._helper)
        return _answer(reply, f"the notebook's {name}")

    def get(self, name, default=None):
        try:
            return self[name]
        except MissingName:
            return default


def run_remote(tests: list, call, left, helper=None) -> list[dict]:
    """Run an exercise's tests here against the student's process; `left()` is the time left for the
    exercise, `helper` public_helpers(...). Returns the outcome of each test as the runner's "test"
    events would carry it."""
    outcomes = []
    for test in tests:
        if left() <= 0:
            outcomes.append({"name": test.name, "points": 0, "max": test.points, "status": "timeout", "hint": test.hint,
                             "message": f"the tests of {test.exercise} ran out of time"})
            continue
        try:
            test.func(RemoteNamespace(call, helper))
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
