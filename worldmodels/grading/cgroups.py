"""Limits per student, not per process: a control group holding every process of one student's run.

`StudentGroup(memory_mb, processes)` creates a cgroup for one run of a student's grading process and
caps, for all its processes together, the memory (the pages of its private `/tmp` included: tmpfs
pages are charged to the group that wrote them) and the number of processes and threads. The
kernel applies both to root's processes too, unlike `RLIMIT_NPROC`. It uses cgroups v2 where the
grader may create a child of its own group with the memory and pids controllers, otherwise the v1
`memory` and `pids` hierarchies, otherwise nothing (`describe()` says which, for the run log; the
per-process limits of runner.limit_resources still hold). `prefix(cmd)` is the command that enters
the group and then runs `cmd`, so that nothing runs outside it; `close()` kills what is left and
removes the group.
"""

import os
import shlex
import signal
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _own(controller: str) -> str | None:
    """This process's cgroup path in the hierarchy of `controller` ("" for v2's unified hierarchy)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if names.split(",") == [controller] or (controller == "" and names == ""):
                return path
    except OSError:
        pass
    return None


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


LEAF = "worldmodels-grader"  # where the grader moves itself when its own group may not have children with controllers


def _v2_parent() -> Path | None:
    """A folder of the unified hierarchy where children get the memory and pids controllers, or None.

    That is the grader's own group when it may enable them for its children. A group that holds processes
    may not (cgroups v2's "no internal processes" rule: EBUSY): when the grader is the only process of its
    group (a container's main process, a systemd service of its own), it moves itself into a child LEAF
    and enables them on the group it left; otherwise it gives up (an administrator can delegate a group)."""
    own = _own("")
    if own is None or not (ROOT / "cgroup.controllers").is_file():
        return None
    parent = ROOT / own.lstrip("/")
    if parent.name == LEAF:  # moved there by an earlier grader of this process: its parent is ours
        parent = parent.parent
    try:
        if not {"memory", "pids"} <= set((parent / "cgroup.controllers").read_text().split()):
            return None
        if not _writable(parent):
            return None
        if {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
            return parent
        try:
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
        except OSError:
            others = set((parent / "cgroup.procs").read_text().split()) - {str(os.getpid())}
            if others:
                return None
            leaf = parent / LEAF
            leaf.mkdir(exist_ok=True)
            (leaf / "cgroup.procs").write_text(str(os.getpid()))
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
        return parent
    except OSError:  # not delegated to us
        return None


def _v1_parents() -> dict | None:
    found = {}
    for controller in ("memory", "pids"):
        own = _own(controller)
        folder = ROOT / controller / (own or "/").lstrip("/")
        if own is None or not _writable(folder):
            return None
        found[controller] = folder
    return found


def kind() -> str:
    """"v2", "v1" or "none": which control groups this machine lets the grader use."""
    if _v2_parent() is not None:
        return "v2"
    return "v1" if _v1_parents() is not None else "none"


def describe() -> str:
    return {"v2": "memory (with /tmp), swap and process count capped per student by cgroups v2",
            "v1": "memory (with /tmp) and process count capped per student by cgroups v1 (memory, pids)",
            "none": "no cgroups here: memory and process limits are per process (rlimits), and the "
                    "process count is not limited for root"}[kind()]


PREFIX = "worldmodels-grading-"
STALE_S = 60.0  # an empty group of ours this old is left over by a grader that was killed


def sweep(parent: Path) -> int:
    """Remove the empty groups a killed grader left in `parent` (the kernel refuses to remove a group that
    still holds a process); return how many."""
    removed = 0
    for folder in parent.glob(f"{PREFIX}*"):
        try:
            if time.time() - folder.stat().st_mtime > STALE_S and not (folder / "cgroup.procs").read_text().split():
                folder.rmdir()
                removed += 1
        except OSError:
            continue
    return removed


class StudentGroup:
    def __init__(self, memory_mb: int, processes: int):
        name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
        self.folders, self.kind = [], kind()
        memory = str(int(memory_mb) << 20)
        try:
            if self.kind == "v2":
                sweep(_v2_parent())
                folder = _v2_parent() / name
                folder.mkdir()
                self.folders = [folder]
                (folder / "memory.max").write_text(memory)
                (folder / "memory.swap.max").write_text("0") if (folder / "memory.swap.max").exists() else None
                (folder / "pids.max").write_text(str(processes))
            elif self.kind == "v1":
                parents = _v1_parents()
                for parent in parents.values():
                    sweep(parent)
                self.folders = [parents["memory"] / name, parents["pids"] / name]
                for folder in self.folders:
                    folder.mkdir()
                (self.folders[0] / "memory.limit_in_bytes").write_text(memory)
                try:
                    (self.folders[0] / "memory.memsw.limit_in_bytes").write_text(memory)
                except OSError:  # no swap accounting: swap is not limited
                    pass
                (self.folders[1] / "pids.max").write_text(str(processes))
        except OSError:
            self.close()
            self.kind, self.folders = "none", []

    def prefix(self, cmd: list) -> list:
        """`cmd`, started by a shell that first moves itself into the group (and exits 97 if it cannot)."""
        if not self.folders:
            return list(cmd)
        procs = " ".join(shlex.quote(str(f / "cgroup.procs")) for f in self.folders)
        return ["/bin/sh", "-c", f'for p in {procs}; do echo $$ > "$p" || exit 97; done; exec "$@"', "sh", *cmd]

    def pids(self) -> list[int]:
        found = set()
        for folder in self.folders:
            try:
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return sorted(found)

    def close(self) -> None:
        """Kill every process left in the group, then remove it."""
        for _ in range(50):
            left = self.pids()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass
        self.folders = []
