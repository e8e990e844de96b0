"""Command line: python -m worldmodels.grading {generate,verify,grade,grade-class,release} (see docs/grading.md)."""

import argparse
import csv
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .consistency import problems
from .grader import (SANDBOXES, GraderError, Limits, build_font_cache, choose_sandbox, course_exercises,
                     grade_student, read_tests)
from .markers import generate
from .edition import removable, student_edition
from .registry import repo_root

COLUMNS = ("student", "exercise", "points", "max", "status", "reason")
RUN_LOG = "_run"  # grades.csv rows of this "student" are the run log (sandbox, limits), not grades


def _fmt(x: float) -> str:
    return f"{x:g}"


def table(results) -> str:
    """A plain-text table: exercise, points, max, status, reason, and a total line."""
    rows = [("exercise", "points", "max", "status", "reason")]
    rows += [(r.exercise, _fmt(r.points), _fmt(r.max_points), r.status, r.reason) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    total, top = sum(r.points for r in results), sum(r.max_points for r in results)
    lines.append(f"total {_fmt(total)} / {_fmt(top)} points")
    return "\n".join(line.rstrip() for line in lines)


def _limits(args) -> Limits:
    return Limits(cell_s=args.cell_timeout, exercise_s=args.exercise_timeout, notebook_s=args.notebook_timeout,
                  memory_mb=args.memory_mb, tmp_mb=args.tmp_mb)


def _expected(args):
    expected = course_exercises(args.solutions)
    if not expected:
        raise GraderError(f"no exercises found in {args.solutions or repo_root() / 'solutions'}")
    for problem in problems(args.solutions, args.tests):
        print(f"warning: {problem}", file=sys.stderr)
    return expected


def cmd_generate(args) -> int:
    solutions = Path(args.solutions or repo_root() / "solutions")
    target = Path(args.exercises or repo_root() / "exercises")
    changed = generate(solutions, target, check_only=args.check)
    if args.check:
        for path in changed:
            print(f"stale: {path} (run `make exercises`)")
        print("exercises/ is up to date" if not changed else f"{len(changed)} stale file(s)")
        return 1 if changed else 0
    print(f"wrote {len(changed)} notebook(s) to {target}" + "".join(f"\n  {p}" for p in changed))
    for orphan in sorted(set(p.name for p in target.glob("*.ipynb")) - set(p.name for p in solutions.glob("*.ipynb"))):
        print(f"note: {target / orphan} has no solutions notebook behind it (left as is; remove it by hand)")
    return 0


def cmd_verify(args) -> int:
    found = problems(args.solutions, args.tests)
    for problem in found:
        print(problem)
    print("solutions, tests and check cells agree" if not found else f"{len(found)} problem(s)")
    return 1 if found else 0


def _announce(mode: str) -> tuple[str, str]:
    """Choose the sandbox and say so; without one, say it loudly (stderr and the summary)."""
    sandbox, sentence = choose_sandbox(mode)
    if sandbox == "none":
        banner = "!" * 100
        print(f"{banner}\nWARNING: {sentence}\n{banner}", file=sys.stderr, flush=True)
    return sandbox, sentence


def _fingerprint(folders) -> dict:
    """sha256 of every file under the instructor's folders (tests, solutions, package): without a sandbox,
    the only way to notice that student code changed them."""
    import hashlib

    found = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")) if folder and Path(folder).is_dir() else ():
            if path.is_file() and "__pycache__" not in path.parts:
                try:
                    found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError:
                    found[str(path)] = "unreadable"
    return found


def _changed(before: dict, folders) -> list[str]:
    after = _fingerprint(folders)
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def _instructor_folders(args) -> list:
    from .registry import exercise_tests_dir

    return [args.tests or exercise_tests_dir(), args.solutions or repo_root() / "solutions", repo_root() / "worldmodels"]


def cmd_grade(args) -> int:
    expected = _expected(args)
    sandbox, sentence = _announce(args.sandbox)
    results = grade_student(Path(args.folder), Path(args.folder).name, expected, _limits(args), args.tests,
                            sandbox=sandbox, tests=read_tests(expected, args.tests))
    print(table(results))
    print(("WARNING: " if sandbox == "none" else "") + sentence)
    return 2 if any(r.status == "grader-error" for r in results) else 0


def cmd_grade_class(args) -> int:
    if args.jobs < 1:
        raise GraderError(f"--jobs must be >= 1, got {args.jobs}")
    root = Path(args.submissions)
    if not root.is_dir():
        raise GraderError(f"no submissions folder at {root}: give a folder holding one sub-folder per student")
    students = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise GraderError(f"{root} holds no student sub-folders")
    expected = _expected(args)
    sandbox, sentence = _announce(args.sandbox)
    tests = read_tests(expected, args.tests)  # once, before any student code runs
    before = _fingerprint(_instructor_folders(args)) if sandbox == "none" else None
    start = time.perf_counter()

    shared = tempfile.TemporaryDirectory(prefix="grade-class-")  # the grader's: the sandbox mounts it read-only
    fonts = Path(shared.name) / "fonts"
    fonts.mkdir()
    build_font_cache(fonts)
    edition = student_edition(Path(shared.name), removable(tests, args.solutions)) if sandbox == "bwrap" else None

    def one(folder):
        results = grade_student(folder, folder.name, expected, _limits(args), args.tests, shared=fonts,
                                sandbox=sandbox, tests=tests, edition=edition)
        total = sum(r.points for r in results)
        print(f"  {folder.name}: {_fmt(total)} / {_fmt(sum(r.max_points for r in results))}", flush=True)
        return results

    print(f"grading {len(students)} students with {args.jobs} worker(s)", flush=True)
    with shared, ThreadPoolExecutor(max_workers=args.jobs) as pool:
        everyone = [r for results in pool.map(one, students) for r in results]
    out = Path(args.out)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in everyone:
            writer.writerow((r.student, r.exercise, _fmt(r.points), _fmt(r.max_points), r.status, r.reason))
        writer.writerow((RUN_LOG, "sandbox", "", "", sandbox, sentence))
        changed = _changed(before, _instructor_folders(args)) if before is not None else []
        if changed:
            writer.writerow((RUN_LOG, "instructor-files", "", "", "changed",
                             f"{len(changed)} file(s) changed while grading (student code?): " + ", ".join(changed[:5])))
    top = sum(e.points for exs in expected.values() for e in exs)
    totals = {s.name: sum(r.points for r in everyone if r.student == s.name) for s in students}
    print(f"\n{len(students)} students graded in {time.perf_counter() - start:.1f} s; wrote {out}")
    print(f"mean {sum(totals.values()) / len(totals):.2f} / {_fmt(top)} points, "
          f"full marks {sum(t == top for t in totals.values())}, zero {sum(t == 0 for t in totals.values())}")
    for ex in [e.id for exs in expected.values() for e in exs]:
        rows = [r for r in everyone if r.exercise == ex]
        print(f"  {ex}: passed by {sum(r.status == 'passed' for r in rows)} of {len(rows)}")
    print(("WARNING: " if sandbox == "none" else "") + sentence)
    if changed:
        print(f"WARNING: {len(changed)} instructor file(s) changed while grading without a sandbox; the grades "
              f"used the tests as read before, but check these files: " + ", ".join(changed[:5]), file=sys.stderr)
    errors = [r for r in everyone if r.status == "grader-error"]
    for r in errors[:5]:
        print(f"grader error ({r.student}, {r.exercise}): {r.reason}", file=sys.stderr)
    return 2 if errors else 0


def cmd_release(args) -> int:
    from .release import release

    try:
        found = release(args.out, args.solutions, args.tests)
    except FileExistsError as error:
        raise GraderError(str(error)) from error
    for problem in found:
        print(problem)
    out = args.out or repo_root() / "build" / "student"
    from .release import kept_answers
    from .registry import exercise_tests_dir

    kept = kept_answers(Path(out), Path(args.tests or exercise_tests_dir()))
    if kept:
        print(f"note: {len(kept)} answer(s) stay in the package, which needs them in the student's process "
              f"(edition.TOOLS) or whose chapter's tests run there (not REMOTE); grading refuses them while their "
              f"exercise is graded and finds pasted copies of them: " + ", ".join(kept))
    print(f"wrote the student release to {out}" if not found else f"{len(found)} problem(s) in {out}: do not publish it")
    return 1 if found else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worldmodels.grading", description=__doc__)
    parser.add_argument("--solutions", type=Path, default=None, help="solutions folder (default: the repository's)")
    parser.add_argument("--tests", type=Path, default=None, help="folder of chNN.py tests (default: tests/exercises)")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="regenerate exercises/ from solutions/")
    g.add_argument("--exercises", type=Path, default=None, help="target folder (default: exercises/)")
    g.add_argument("--check", action="store_true", help="write nothing; exit 1 if exercises/ is stale")
    sub.add_parser("verify", help="check markers, points, tests and check cells agree")
    r = sub.add_parser("release", help="write the student bundle: exercises, public tests, package")
    r.add_argument("--out", type=Path, default=None, help="target folder (default: build/student)")
    commands = (("grade", "grade one folder of notebooks"), ("grade-class", "grade one sub-folder per student"))
    for name, helptext in commands:
        p = sub.add_parser(name, help=helptext)
        if name == "grade":
            p.add_argument("folder", help="folder holding the notebooks, e.g. exercises/")
        else:
            p.add_argument("submissions", help="folder with one sub-folder of notebooks per student")
            p.add_argument("--out", default="grades.csv", help="CSV to write (default grades.csv)")
            p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="students graded at once")
        p.add_argument("--cell-timeout", type=float, default=Limits.cell_s, help="seconds per notebook cell")
        p.add_argument("--exercise-timeout", type=float, default=Limits.exercise_s, help="seconds per exercise's tests")
        p.add_argument("--notebook-timeout", type=float, default=Limits.notebook_s,
                       help="seconds for all cells of a notebook")
        p.add_argument("--memory-mb", type=int, default=Limits.memory_mb,
                       help="memory of all of a student's processes (with cgroups; else of each one)")
        p.add_argument("--tmp-mb", type=int, default=Limits.tmp_mb, help="size of the sandbox's /tmp (in memory)")
        p.add_argument("--sandbox", choices=SANDBOXES, default="auto",
                       help="auto: bubblewrap when it works here, else none with a loud warning; "
                            "bwrap: required; none: no sandbox")
    args = parser.parse_args(argv)
    handler = {"generate": cmd_generate, "verify": cmd_verify, "grade": cmd_grade, "grade-class": cmd_grade_class,
               "release": cmd_release}
    try:
        return handler[args.command](args)
    except (GraderError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
