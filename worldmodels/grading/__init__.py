"""Exercises and grading: one source (solutions/), generated exercises/, check() and a class grader.

- `exercise_test(id, points, hint)`: decorate a grading test `test(ns)` in tests/exercises/chNN.py.
- `check(id)`: run an exercise's tests in the live notebook and print a verdict per test.
- `python -m worldmodels.grading {generate,verify,grade,grade-class}`: see docs/grading.md.
"""

from .checker import check, run_test
from .registry import exercise_test, find_tests

__all__ = ["check", "exercise_test", "run_test", "find_tests"]
