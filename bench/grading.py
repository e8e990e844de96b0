"""Benchmark the grader: one complete submission of the course, and a class of 30 copies of it.

A "complete submission" is every solutions notebook present in the repository right now, so the
figures grow as chapters add exercises. Students run in the sandbox when the machine has one (the
grader's default); the JSON says which, whether per-student cgroups were used, and the load average at
the end (the machine may be shared). Targets (2 CPU cores): one submission <= 60 s, a class of
30 <= 10 min. Prints one JSON object as its last line.

    .venv/bin/python bench/grading.py [--students 30] [--jobs 2] [--sandbox auto|bwrap|none]
"""

import argparse
import contextlib
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from worldmodels.grading.__main__ import main as grading_cli
from worldmodels.grading.cgroups import kind as cgroups_kind
from worldmodels.grading.grader import Limits, choose_sandbox, course_exercises, grade_student
from worldmodels.grading.registry import repo_root
from worldmodels.repro import seed_everything


def run(students: int, jobs: int, sandbox: str = "auto") -> dict:
    seed_everything(0)
    root = repo_root()
    expected = course_exercises()
    notebooks = sorted(expected)
    max_points = sum(e.points for exs in expected.values() for e in exs)

    start = time.perf_counter()
    results = grade_student(root / "solutions", "solutions", expected, Limits(), sandbox=sandbox)
    one = time.perf_counter() - start
    points = sum(r.points for r in results)

    with tempfile.TemporaryDirectory() as tmp:
        for k in range(students):
            folder = Path(tmp) / "class" / f"student{k:02d}"
            folder.mkdir(parents=True)
            for name in notebooks:
                shutil.copy(root / "solutions" / name, folder / name)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = grading_cli(["grade-class", str(Path(tmp) / "class"), "--out", str(Path(tmp) / "grades.csv"),
                                "--jobs", str(jobs), "--sandbox", sandbox])
        whole = time.perf_counter() - start
        rows = (Path(tmp) / "grades.csv").read_text().splitlines()[1:]
    return {
        "notebooks": len(notebooks), "exercises": len(results), "max_points": max_points,
        "one_submission_points": points, "one_submission_s": round(one, 1),
        "students": students, "jobs": jobs, "class_exit_code": code, "class_rows": len(rows),
        "class_of_30_s": round(whole * 30 / students, 1), "class_measured_s": round(whole, 1),
        "cpu_count": os.cpu_count(), "sandbox": choose_sandbox(sandbox)[0], "cgroups": cgroups_kind(),
        "load_average_1min": os.getloadavg()[0],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, help="class size to measure (30: no scaling)")
    parser.add_argument("--jobs", type=int, default=2, help="students graded at once")
    parser.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto", help="as for the grader")
    args = parser.parse_args()
    if args.students < 1 or args.jobs < 1:
        raise ValueError("--students and --jobs must be >= 1")
    print(json.dumps(run(args.students, args.jobs, args.sandbox)))
