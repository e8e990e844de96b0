"""Control groups v2, on a fake cgroup file system in a folder (this machine may well have v1 only): which
group the grader uses, the limits it writes, the command that enters the group, and the fall-backs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worldmodels.grading import cgroups


def _fake_v2(tmp_path: Path, monkeypatch, own="/grader.service", controllers="cpu memory pids", procs=None,
             busy=False) -> Path:
    """A unified hierarchy under tmp_path with the grader in `own`; `busy`: enabling controllers for the
    children of `own` fails as the kernel's "no internal processes" rule makes it fail (EBUSY)."""
    root = tmp_path / "cgroup"
    group = root / own.lstrip("/")
    group.mkdir(parents=True)
    for folder in (root, group):
        (folder / "cgroup.controllers").write_text(controllers + "\n")
        (folder / "cgroup.subtree_control").write_text("\n")
    (group / "cgroup.procs").write_text("\n".join(str(p) for p in (procs or [os.getpid()])) + "\n")
    monkeypatch.setattr(cgroups, "ROOT", root)
    monkeypatch.setattr(cgroups, "_own", lambda controller: own if controller == "" else None)
    if busy:
        real_write = Path.write_text

        def write_text(self, data, *args, **kwargs):
            if self == group / "cgroup.subtree_control" and not (group / cgroups.LEAF).is_dir():
                raise OSError(16, "Device or resource busy")
            return real_write(self, data, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", write_text)
    return group


def test_v2_caps_memory_swap_and_processes_of_one_student(tmp_path, monkeypatch):
    group = _fake_v2(tmp_path, monkeypatch)
    assert cgroups.kind() == "v2" and "cgroups v2" in cgroups.describe()
    assert set((group / "cgroup.subtree_control").read_text().split()) == {"+memory", "+pids"}
    student = cgroups.StudentGroup(memory_mb=512, processes=64)
    try:
        (folder,) = student.folders
        assert folder.parent == group and folder.name.startswith("worldmodels-grading-")
        assert (folder / "memory.max").read_text() == str(512 << 20)
        assert (folder / "pids.max").read_text() == "64"
        cmd = student.prefix(["python", "-c", "pass"])
        assert cmd[:2] == ["/bin/sh", "-c"] and str(folder / "cgroup.procs") in cmd[2] and cmd[-3:] == ["python", "-c", "pass"]
        # the shell enters the group before it runs the command, and stops (97) if it cannot
        (folder / "cgroup.procs").write_text("")
        run = subprocess.run(cmd[:4] + ["/bin/echo", "ran"], capture_output=True, text=True, timeout=30)
        assert run.stdout.strip() == "ran" and (folder / "cgroup.procs").read_text().strip().isdigit()
        (folder / "cgroup.procs").chmod(0o444)
        if os.geteuid() != 0:  # root writes read-only files anyway
            assert subprocess.run(cmd[:4] + ["/bin/echo", "ran"], capture_output=True, timeout=30).returncode == 97
        (folder / "cgroup.procs").chmod(0o644)
        (folder / "cgroup.procs").write_text("")  # the fake group's "processes" are gone: nothing to kill
    finally:
        student.close()
    assert student.folders == []


def test_v2_swap_is_capped_where_the_kernel_offers_it(tmp_path, monkeypatch):
    _fake_v2(tmp_path, monkeypatch)
    real_mkdir = Path.mkdir

    def mkdir_with_swap(self, *args, **kwargs):  # the kernel creates a group's interface files with it
        real_mkdir(self, *args, **kwargs)
        if self.name.startswith("worldmodels-grading-"):
            (self / "memory.swap.max").write_text("max\n")

    monkeypatch.setattr(Path, "mkdir", mkdir_with_swap)
    student = cgroups.StudentGroup(memory_mb=256, processes=16)
    try:
        assert (student.folders[0] / "memory.swap.max").read_text() == "0"
    finally:
        student.close()


def test_v2_group_with_processes_moves_the_grader_into_a_leaf(tmp_path, monkeypatch):
    group = _fake_v2(tmp_path, monkeypatch, busy=True)  # the grader alone in its group (a container)
    assert cgroups.kind() == "v2"
    assert (group / cgroups.LEAF / "cgroup.procs").read_text() == str(os.getpid())
    assert set((group / "cgroup.subtree_control").read_text().split()) == {"+memory", "+pids"}
    monkeypatch.setattr(cgroups, "_own", lambda c: f"/grader.service/{cgroups.LEAF}" if c == "" else None)
    assert cgroups._v2_parent() == group, "the next student's group is made beside the leaf, not in it"


def test_v2_without_delegation_falls_back_and_says_so(tmp_path, monkeypatch):
    _fake_v2(tmp_path, monkeypatch, busy=True, procs=[os.getpid(), 1])  # other processes share the group
    assert cgroups._v2_parent() is None
    assert cgroups.kind() == "none" and "not limited for root" in cgroups.describe()
    student = cgroups.StudentGroup(memory_mb=256, processes=16)
    assert student.kind == "none" and student.prefix(["true"]) == ["true"]
    _fake_v2(tmp_path / "no-pids", monkeypatch, controllers="cpu memory")  # the pids controller is missing
    assert cgroups._v2_parent() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_a_group_that_cannot_be_written_runs_nothing_outside_it(tmp_path, monkeypatch):
    group = _fake_v2(tmp_path, monkeypatch)
    student = cgroups.StudentGroup(memory_mb=256, processes=16)
    try:
        (student.folders[0] / "cgroup.procs").unlink(missing_ok=True)
        (student.folders[0] / "cgroup.procs").mkdir()  # writing there fails, even for root
        run = subprocess.run(student.prefix(["/bin/echo", "ran"]), capture_output=True, text=True, timeout=30)
        assert run.returncode == 97 and "ran" not in run.stdout
    finally:
        (student.folders[0] / "cgroup.procs").rmdir()
        student.close()
    assert group.is_dir()


def test_groups_left_by_a_killed_grader_are_swept(tmp_path, monkeypatch):
    group = _fake_v2(tmp_path, monkeypatch)
    old, busy, fresh = (group / f"{cgroups.PREFIX}{n}" for n in ("old", "busy", "fresh"))
    for folder, procs in ((old, ""), (busy, "4242\n"), (fresh, "")):
        folder.mkdir()
        (folder / "cgroup.procs").write_text(procs)
    real_rmdir = Path.rmdir
    monkeypatch.setattr(Path, "rmdir", lambda self: (
        [p.unlink() for p in self.iterdir()], real_rmdir(self)))  # a fake group's files go with it
    for folder in (old, busy):
        os.utime(folder, (0, 0))
    assert cgroups.sweep(group) == 1
    assert not old.exists() and busy.exists() and fresh.exists(), "only empty groups older than a minute go"
