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


def _v2_parent() -> Path | None:
    """A folder of the unified hierarchy where children get the memory and pids controllers, or None."""
    controllers = ROOT / "cgroup.controllers"
    own = _own("")
    if not controllers.is_file() or own is None or not {"memory", "pids"} <= set(controllers.read_text().split()):
        return None
    parent = ROOT / own.lstrip("/")
    try:
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        if not {"memory", "pids"} <= enabled:
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
        return parent if _writable(parent) else None
    except OSError:  # not delegated to us, or the group holds processes itself
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
    return {"v2": "memory (with /tmp) and process count capped per student by cgroups v2",
            "v1": "memory (with /tmp) and process count capped per student by cgroups v1 (memory, pids)",
            "none": "no cgroups here: memory and process limits are per process (rlimits), and the "
                    "process count is not limited for root"}[kind()]


class StudentGroup:
    def __init__(self, memory_mb: int, processes: int):
        name = f"worldmodels-grading-{uuid.uuid4().hex[:12]}"
        self.folders, self.kind = [], kind()
        memory = str(int(memory_mb) << 20)
        try:
            if self.kind == "v2":
                folder = _v2_parent() / name
                folder.mkdir()
                self.folders = [folder]
                (folder / "memory.max").write_text(memory)
                (folder / "memory.swap.max").write_text("0") if (folder / "memory.swap.max").exists() else None
                (folder / "pids.max").write_text(str(processes))
            elif self.kind == "v1":
                parents = _v1_parents()
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
