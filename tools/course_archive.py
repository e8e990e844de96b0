"""The course as one download, for a reader of the published book who has no repository URL.

    .venv/bin/python tools/course_archive.py   # writes book/_build/download/world-models-course.zip

The archive is the student release (`python -m worldmodels.grading release`: the exercises, the public
tests that `check()` runs, the package, requirements.txt, pyproject.toml, README.md; no solutions, no
hidden tests) plus the chapters themselves (notebooks/, with their outputs), the JupyterLab settings
(jupyter/) and the Makefile. `make book` writes it before building the book, and the page "Run it
yourself" links it. The zip is deterministic: entries sorted, one fixed timestamp.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "_build" / "download" / "world-models-course.zip"
TOP = "world-models-course"  # the folder the archive unpacks to
EXTRA = ("notebooks", "jupyter", "Makefile")  # beside the student release
SKIP = ("__pycache__", ".ipynb_checkpoints", ".pyc", ".egg-info")
STAMP = (2026, 1, 1, 0, 0, 0)


def _files(folder: Path):
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != ".student-release" and not any(part.endswith(SKIP) for part in path.parts):
            yield path


def build(out: Path = OUT) -> Path:
    sys.path.insert(0, str(ROOT))
    from worldmodels.grading.release import release

    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "student"
        problems = release(bundle)
        if problems:
            raise SystemExit("the student release gives away answers:\n" + "\n".join(problems))
        for name in EXTRA:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, bundle / name, ignore=shutil.ignore_patterns(*(f"*{s}" for s in SKIP)))
            else:
                shutil.copy(source, bundle / name)
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in _files(bundle):
                info = zipfile.ZipInfo(f"{TOP}/{path.relative_to(bundle).as_posix()}", date_time=STAMP)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    return out


if __name__ == "__main__":
    path = build()
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.1f} MB)")
