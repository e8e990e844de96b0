"""Split the notebooks nbval checks into PARTS parts of about equal run time, for `make test`'s nbval jobs.

    .venv/bin/python tools/nbval_split.py a      # the paths of part a, one line (make test-nbval-a)
    .venv/bin/python tools/nbval_split.py b      # ... up to the last part's letter
    .venv/bin/python tools/nbval_split.py --show # every part with its seconds

The seconds come from the table of chapters (tools/chapters.py): `nbval_s` for a chapter's notebook (what nbval
took on it in `make test`) and `check_s` for its exercises notebook in solutions/. The longest notebook goes first, each into the part
with the least time so far. A notebook in notebooks/ or solutions/ that the table does not name stops the split
(exit 1): a new chapter needs its row before `make test` runs it, so it cannot land unseen in one half.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chapters import CHAPTERS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECK_S = 5  # an exercises notebook whose nbval time is not measured yet
PARTS = "abc"  # make test's nbval jobs (the Makefile's test-nbval-% targets)


def timed_notebooks() -> dict[str, int]:
    """{path relative to the repository: seconds} for every notebook the table names."""
    timed = {}
    for chapter in CHAPTERS:
        timed[f"notebooks/{chapter.notebook}"] = chapter.nbval_s
        if chapter.exercises:
            timed[f"solutions/{chapter.exercises}"] = chapter.check_s or DEFAULT_CHECK_S
    return timed


def unlisted(timed: dict[str, int]) -> list[str]:
    on_disk = [str(p.relative_to(ROOT)) for folder in ("notebooks", "solutions")
               for p in sorted((ROOT / folder).glob("*.ipynb"))]
    return [path for path in on_disk if path not in timed]


def parts(timed: dict[str, int], n: int = len(PARTS)) -> list[list[str]]:
    """Greedy: the longest first, each into the part with the least time so far; each part in course order."""
    out, seconds = [[] for _ in range(n)], [0] * n
    for path in sorted(timed, key=lambda p: (-timed[p], p)):
        k = seconds.index(min(seconds))
        out[k].append(path)
        seconds[k] += timed[path]
    order = list(timed)
    return [sorted(part, key=order.index) for part in out]


def main() -> int:
    if len(sys.argv) != 2 or (sys.argv[1] not in PARTS and sys.argv[1] != "--show"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    timed = timed_notebooks()
    missing = unlisted(timed)
    if missing:
        print(f"notebooks without a row in tools/chapters.py: {', '.join(missing)}", file=sys.stderr)
        return 1
    missing = [path for path in timed if not (ROOT / path).exists()]
    if missing:
        print(f"tools/chapters.py names notebooks that do not exist: {', '.join(missing)}", file=sys.stderr)
        return 1
    split = dict(zip(PARTS, parts(timed)))
    if sys.argv[1] == "--show":
        for name, part in split.items():
            print(f"{name}: {sum(timed[p] for p in part)} s: {' '.join(part)}")
        return 0
    print(" ".join(split[sys.argv[1]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
