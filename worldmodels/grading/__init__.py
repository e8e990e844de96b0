"""Exercises and grading: one source (solutions/), generated exercises/, check() and a class grader.

- `exercise_test(id, points, hint)`: decorate a grading test `test(ns)` in tests/exercises/chNN.py.
- `check(id)`: run an exercise's tests in the live notebook and print a verdict per test.
- `python -m worldmodels.grading {generate,verify,grade,grade-class,release}`: see docs/grading.md.
  Grading runs each student in a sandbox (bubblewrap, sandbox.py) that mounts only what the run needs,
  in a control group per student (cgroups.py); the tests of REMOTE chapters run in the grader, which
  sends the student's process only inputs (remote.py); the course's own answers are left out of the
  package the sandbox sees (edition.py) or refused while their exercise is graded (answers.py), and
  the grader reads each notebook's source first for pasted answers and introspection (scan.py).
"""

from .checker import check, run_test
from .expect import expect_array, expect_number
from .registry import exercise_test, find_tests

__all__ = ["check", "exercise_test", "expect_array", "expect_number", "run_test", "find_tests"]
