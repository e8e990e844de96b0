"""Run an exercise's tests against a notebook namespace and say, in one line per test, how it went.

`check("ex1.2")` is what a learner calls in a notebook cell right after an exercise. The grader runs
the same `run_test` in its isolated process. A test ends in exactly one of four ways: passed, failed
(an assertion says what was expected versus what came back), error (the learner's code raised) or
timeout. Nothing is ever reported as passed that did not run to the end.
"""

import signal
import sys
import threading
import time
from dataclasses import dataclass

from .registry import ExerciseTest, find_tests

EXERCISE_TIMEOUT_S = 20.0  # all tests of one exercise, here and in the grader (Limits.exercise_s)
DEFAULT_TIMEOUT_S = EXERCISE_TIMEOUT_S  # run_test's default for a single test
GRADING_ENV = "WORLDMODELS_GRADING"  # set by the grader: check() cells do nothing while grading
MAX_MESSAGE = 400


class TestTimeout(BaseException):
    """Raised inside a test that runs too long; a BaseException so `except Exception` cannot swallow it."""


class MissingName(AssertionError):
    pass


class Namespace(dict):
    """A copy of the learner's namespace whose missing names fail with a clear message, not a KeyError."""

    def __missing__(self, name):
        raise MissingName(
            f"the notebook does not define `{name}`: run the cell that defines it (did it raise an error, "
            f"or is the name misspelt?)"
        )


@dataclass(frozen=True)
class TestOutcome:
    exercise: str
    name: str
    points: float  # points earned: the test's points if passed, else 0
    max_points: float
    status: str  # "passed", "failed", "error" (the code raised) or "timeout"
    message: str  # empty when passed
    hint: str
    seconds: float


def _short(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(error: BaseException) -> tuple[str, str]:
    """(status, message) for an exception raised by a test or by the learner's code it called."""
    if isinstance(error, TestTimeout):
        return "timeout", _short(str(error))
    if isinstance(error, AssertionError):
        return "failed", _short(str(error) or "an assertion failed without a message")
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return "error", _short(text)


class Alarm:
    """Raise TestTimeout in the main thread after `seconds` (does nothing elsewhere or without SIGALRM)."""

    def __init__(self, seconds: float | None, what: str):
        self.seconds, self.what = seconds, what
        main = threading.current_thread() is threading.main_thread()  # only there can a signal interrupt
        self.active = bool(seconds) and hasattr(signal, "setitimer") and main

    def _fire(self, signum, frame):
        raise TestTimeout(f"{self.what} took longer than {self.seconds:.3g} s (an infinite loop?)")

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def run_test(test: ExerciseTest, ns: dict, timeout: float | None = DEFAULT_TIMEOUT_S,
             namespace: type = Namespace) -> TestOutcome:
    """Run one test on a copy of `ns` (a `namespace`); learner errors become a failed outcome, never a traceback."""
    start = time.perf_counter()
    try:
        with Alarm(timeout, f"test {test.name}"):
            test.func(namespace(ns))
        status, message = "passed", ""
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit from learner code included: it must not end the check
        status, message = describe(error)
    seconds = time.perf_counter() - start
    points = test.points if status == "passed" else 0
    return TestOutcome(test.exercise, test.name, points, test.points, status, message, test.hint, seconds)


def _caller_namespace(depth: int) -> dict:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    return sys._getframe(depth + 1).f_globals


def _fmt(points: float) -> str:
    return f"{points:g}"


def report(exercise: str, outcomes: list[TestOutcome]) -> str:
    """The text check() prints: one line per test, then a verdict that never overstates."""
    lines = []
    for o in outcomes:
        mark = {"passed": "PASS", "failed": "FAIL", "timeout": "TIMEOUT"}.get(o.status, "ERROR")
        line = f"  {mark}  {o.name} ({_fmt(o.points)}/{_fmt(o.max_points)})"
        if o.status != "passed":
            line += f": {o.message}"
            if o.hint:
                line += f"\n        hint: {o.hint}"
        lines.append(line)
    earned, total = sum(o.points for o in outcomes), sum(o.max_points for o in outcomes)
    bad = [o for o in outcomes if o.status != "passed"]
    if not bad:
        verdict = f"{exercise}: all {len(outcomes)} tests passed ({_fmt(earned)}/{_fmt(total)} points)"
    else:
        verdict = f"{exercise}: {len(bad)} of {len(outcomes)} tests did not pass ({_fmt(earned)}/{_fmt(total)} points)"
    return "\n".join([verdict] + lines)


def check(exercise: str, timeout: float | None = EXERCISE_TIMEOUT_S, ns: dict | None = None) -> None:
    """Run the tests of `exercise` (e.g. "ex1.2") on the calling notebook's variables and print a verdict.

    `timeout` is the time for all the exercise's tests together, as when grading (20 s). After the
    verdict come warnings when the kernel's state may differ from a top-to-bottom run (state.py)."""
    import os

    if os.environ.get(GRADING_ENV):
        print(f"{exercise}: check() is skipped while grading")
        return
    try:
        tests = find_tests(exercise)
    except (ValueError, FileNotFoundError) as error:
        print(f"{exercise}: cannot check: {error}")
        return
    if not tests:
        print(f"{exercise}: no tests found for this exercise (is the id right?); nothing was checked")
        return
    namespace = _caller_namespace(1) if ns is None else ns
    outcomes = []
    deadline = None if not timeout else time.perf_counter() + timeout
    for test in tests:
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            outcomes.append(TestOutcome(test.exercise, test.name, 0, test.points, "timeout",
                                        f"the tests of {exercise} ran past {timeout:g} s in all (the grader's limit)",
                                        test.hint, 0.0))
            continue
        try:
            outcomes.append(run_test(test, namespace, left))
        except KeyboardInterrupt:
            print(report(exercise, outcomes))
            print(f"{exercise}: interrupted; {len(tests) - len(outcomes)} tests did not run")
            return
    print(report(exercise, outcomes))
    try:
        from .state import ADVICE, warnings

        found = warnings(exercise, namespace)
    except Exception:  # the warnings are a courtesy: never let them break check()
        found = []
    for text in found:
        print(f"  warning: {text}")
    if found:
        print(f"  {ADVICE}")
