"""The course in one download (tools/course_archive.py): a reader of the book without a repository URL gets
every chapter, the exercises with their public tests, the package and the set-up files, and no solutions."""

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import course_archive  # noqa: E402


def test_the_archive_carries_the_course_and_no_solutions(tmp_path):
    path = course_archive.build(tmp_path / "course.zip")
    names = set(zipfile.ZipFile(path).namelist())
    top = course_archive.TOP
    for chapter in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"{top}/notebooks/{chapter.name}" in names, f"{chapter.name} is missing from the archive"
    for exercise in sorted((ROOT / "solutions").glob("*.ipynb")):
        assert f"{top}/exercises/{exercise.name}" in names, f"exercises/{exercise.name} is missing"
    for needed in ("requirements.txt", "pyproject.toml", "README.md", "Makefile", "worldmodels/__init__.py",
                   "worldmodels/checkpoints/world_model.pt", "tests/exercises/ch01.py", "jupyter"):
        assert any(n == f"{top}/{needed}" or n.startswith(f"{top}/{needed}/") for n in names), f"{needed} is missing"
    assert not any("/solutions/" in n or "__pycache__" in n for n in names)
    assert all(n.startswith(f"{top}/") for n in names)


def test_the_archive_is_the_same_every_time(tmp_path):
    first = course_archive.build(tmp_path / "a.zip").read_bytes()
    assert course_archive.build(tmp_path / "b.zip").read_bytes() == first
