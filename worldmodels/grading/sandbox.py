"""The sandbox a student's grading process runs in: bubblewrap (`bwrap`) mounting only what the run needs.

Inside it the process sees the system's programs and libraries (`/usr` and its links), a few files of
`/etc` (the loader's cache, time zone, users, fonts), the Python installation and the virtual
environment read-only, the **student edition of the course package** (edition.py: copied once per run
into a folder of the grader's, without the answers nothing there needs) at the package's usual path,
the student's copy of the submission read-only at /submission, and a private `/tmp` of limited size
(the only writable place: the notebook runs in /tmp/work). Nothing else of the host's file system is
there: no `.git`, no `solutions/`, no `tests/`, no other student, no submissions folder, not the
grader's temporary files. It has no network, its own process, IPC, UTS, cgroup and user namespaces
(it runs as uid 65534, "nobody"), no capabilities, and it dies with the grader.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .registry import repo_root

SANDBOXES = ("auto", "bwrap", "none")
NOBODY = 65534
_FLAGS = ("--die-with-parent", "--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
          "--new-session", "--cap-drop", "ALL")
ETC = ("ld.so.cache", "localtime", "passwd", "group", "nsswitch.conf", "fonts", "matplotlibrc")
_probe_cache: dict = {}


def _system() -> list:
    """/usr read-only, and the top-level links into it (/bin -> usr/bin on a merged-/usr system) as links."""
    out = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            out += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            out += ["--ro-bind", str(path), str(path)]
    for name in ETC:
        out += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return out


def _python() -> list:
    """The interpreter's installation and the virtual environment, read-only, each once."""
    out, bound = [], []
    for path in sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
                        Path(sys.executable).resolve().parent}):
        if path == Path("/usr") or any(b == path or b in path.parents for b in bound) or \
                Path("/usr") in path.parents:
            continue
        out += ["--ro-bind", str(path), str(path)]
        bound.append(path)
    return out


SUBMISSION = Path("/submission")  # where the sandbox shows the student's copy, read-only


def bwrap_command(cmd: list, copy: Path, workdir: Path, edition: Path | None = None, tmp_mb: int = 256,
                  readonly: Path | None = None) -> list:
    """`cmd` run by bubblewrap in `workdir` (under its private /tmp of `tmp_mb` MiB, created empty): the
    system, Python, the package `edition` and the student's `copy` (at /submission) read-only, and
    `readonly` (a folder of the grader's, such as the font cache) at its own path."""
    edition = Path(edition or repo_root() / "worldmodels")
    out = [shutil.which("bwrap") or "bwrap", *_FLAGS, "--dev", "/dev", "--proc", "/proc",
           "--size", str(int(tmp_mb) << 20), "--tmpfs", "/tmp", *_system(), *_python(),
           "--ro-bind", str(edition), str(repo_root() / "worldmodels"), "--ro-bind", str(copy), str(SUBMISSION)]
    if readonly is not None:
        out += ["--ro-bind", str(readonly), str(readonly)]
    return out + ["--dir", str(workdir), "--remount-ro", "/", "--chdir", str(workdir), "--", *cmd]


def sandbox_available() -> tuple[bool, str]:
    """(True, version) when bubblewrap runs here with every namespace we ask for, else (False, why)."""
    if "bwrap" not in _probe_cache:
        bwrap = shutil.which("bwrap")
        if not bwrap:
            _probe_cache["bwrap"] = (False, "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap`")
        else:
            try:
                with tempfile.TemporaryDirectory() as empty:
                    probe = bwrap_command(["true"], Path(empty), Path("/tmp/work"))
                    run = subprocess.run(probe, capture_output=True, text=True, timeout=30)
                version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=30).stdout
                ok = run.returncode == 0
                _probe_cache["bwrap"] = (ok, version.strip() if ok else
                                         f"bwrap cannot create its namespaces here: {run.stderr.strip()[:200]}")
            except (OSError, subprocess.SubprocessError) as error:
                _probe_cache["bwrap"] = (False, f"bwrap does not run: {error}")
    return _probe_cache["bwrap"]


def choose_sandbox(mode: str) -> tuple[str, str]:
    """("bwrap" or "none", a sentence for the run log) for --sandbox auto|bwrap|none."""
    from .grader import GraderError

    if mode not in SANDBOXES:
        raise GraderError(f"--sandbox must be one of {', '.join(SANDBOXES)}, got {mode!r}")
    if mode == "none":
        return "none", "NO SANDBOX (--sandbox none): student code ran with the grader's rights"
    ok, detail = sandbox_available()
    if ok:
        from .cgroups import describe

        return "bwrap", (f"sandbox: {detail}, no network, only the system, Python, the student edition of the "
                         f"package and the student's copy mounted, uid {NOBODY}; {describe()}")
    if mode == "bwrap":
        raise GraderError(f"--sandbox bwrap: {detail}")
    return "none", f"NO SANDBOX: {detail}; student code ran with the grader's rights (see docs/grading.md)"
