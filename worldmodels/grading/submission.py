"""A submission's files as data, never as paths the student chose.

`copy_submission(src, dst)` copies the regular files of a student's folder (and of its sub-folders)
into `dst`, a folder of the grader's. Every file and folder is opened relative to its parent's file
descriptor with `O_NOFOLLOW`, and checked with `fstat` on what was opened: a symbolic link (to the
solutions, to `/proc/self/environ`, ...), a FIFO, a device or a socket is never read, only reported.
The submission is only read; the copy holds plain files the grader wrote itself.
"""

import errno
import os
import stat
from pathlib import Path

MAX_FILES = 2000
MAX_BYTES = 256 * 1024 * 1024  # the whole copy (it must fit in the sandbox's /tmp, 512 MiB by default)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class Budget:
    def __init__(self):
        self.files, self.bytes = 0, 0


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "not a regular file"


def _read(dir_fd: int, name: str, limit: int) -> bytes:
    """The bytes of the regular file `name` in the folder `dir_fd`; OSError (with why) for anything else."""
    fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)  # ELOOP for a symbolic link
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{name} is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise OSError(f"{name} is {info.st_size / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB left for the copy")
        chunks, size = [], 0
        while size <= info.st_size:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[: info.st_size]
    finally:
        os.close(fd)


def _copy(dir_fd: int, dst: Path, rel: str, problems: dict, budget: Budget) -> None:
    dst.mkdir(exist_ok=True)
    for entry in sorted(os.listdir(dir_fd)):
        path = f"{rel}{entry}"
        try:
            info = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as error:
            problems[path] = f"cannot be read ({error.strerror})"
            continue
        if stat.S_ISDIR(info.st_mode):
            try:
                sub = os.open(entry, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as error:
                problems[path] = f"cannot be read ({error.strerror})"
                continue
            try:
                _copy(sub, dst / entry, f"{path}/", problems, budget)
            finally:
                os.close(sub)
            continue
        if not stat.S_ISREG(info.st_mode):
            problems[path] = f"is {_kind(info.st_mode)}, not a regular file: submit the file itself"
            continue
        if budget.files >= MAX_FILES:
            problems[path] = f"not copied: the submission holds more than {MAX_FILES} files"
            continue
        try:
            data = _read(dir_fd, entry, MAX_BYTES - budget.bytes)
        except OSError as error:
            problems[path] = "is a symbolic link, not a regular file" if error.errno == errno.ELOOP else \
                f"cannot be read ({error.strerror or error})"
            continue
        budget.files, budget.bytes = budget.files + 1, budget.bytes + len(data)
        (dst / entry).write_bytes(data)


def copy_submission(src: Path, dst: Path) -> dict[str, str]:
    """Copy the regular files under `src` into `dst` (created); return {relative path: why it was not
    copied} for everything else. A `src` that is itself a link or not a folder copies nothing."""
    try:
        root = os.open(str(src), _DIR_FLAGS)
    except OSError as error:
        dst.mkdir(exist_ok=True)
        link = error.errno == errno.ELOOP or os.path.islink(src)  # O_DIRECTORY on a link: ENOTDIR
        why = "is a symbolic link" if link else f"cannot be opened as a folder ({error.strerror})"
        return {"": f"the submission folder {why}"}
    try:
        problems: dict[str, str] = {}
        _copy(root, Path(dst), "", problems, Budget())
        return problems
    finally:
        os.close(root)
