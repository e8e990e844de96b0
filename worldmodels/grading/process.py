"""One run of a student's grading process, seen from the grader: start it, talk to it, end it.

`Attempt(job, limits, env, run)` starts `python -m worldmodels.grading.runner` (in the sandbox when
`run["sandbox"]` is "bwrap", inside a per-student control group when the machine has one), hands it
the job through its stdin, reads its events from one pipe and writes requests (remote.py) to
another. Nothing travels through a file: a student cannot point the grader at a path of its choosing.
An event counts only when it carries the job's token and the pid of the runner's first event (lines
the notebook prints, or a forked child sends, are ignored). `Ended(kind, message)` is raised when the
process stops answering: "timeout", "exited" or "fatal".
"""

import json
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time

from .cgroups import StudentGroup
from .checker import TestTimeout
from .sandbox import bwrap_command

MAX_EVENT_BYTES = 64 << 20  # one event line (a reply may carry arrays)
SANDBOX_WORK = "/tmp/work"  # in the sandbox the notebook runs here, in its private /tmp


class Ended(BaseException):
    def __init__(self, kind: str, message: str = ""):
        super().__init__(kind, message)
        self.kind, self.message = kind, message


def _send(fd: int, data: bytes, close: bool) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:  # the runner died before reading it all: the grader sees it exit
        pass
    finally:
        if close:
            os.close(fd)


class Attempt:
    def __init__(self, job: dict, limits, env: dict, run: dict):
        self.token, self.runner_pid, self.buffer, self.failure, self.ids = secrets.token_hex(16), None, b"", None, 0
        self.read_fd, write_fd = os.pipe()
        job_read, job_write = os.pipe()
        calls_read, self.calls_fd = os.pipe()
        cmd = [sys.executable, "-I", "-m", "worldmodels.grading.runner", "-", str(write_fd), str(calls_read)]
        if run["sandbox"] == "bwrap":
            cmd = bwrap_command(cmd, run["copy"], SANDBOX_WORK, run["edition"], limits.tmp_mb, readonly=run["fonts"])
        self.group = StudentGroup(limits.memory_mb, limits.processes)
        try:
            self.proc = subprocess.Popen(self.group.prefix(cmd), cwd=run["copy"], env=env,
                                         pass_fds=(write_fd, calls_read), stdin=job_read, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            self.group.close()
            raise
        finally:
            for fd in (write_fd, job_read, calls_read):
                os.close(fd)
        data = json.dumps({**job, "token": self.token}).encode()
        threading.Thread(target=_send, args=(job_write, data, True), daemon=True).start()

    def next_event(self, deadline: float) -> dict:
        """The next authenticated event before `deadline` (time.monotonic()), or Ended."""
        while True:
            if b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(event, dict) or event.get("token") != self.token:
                    continue  # written by the notebook itself
                if self.runner_pid is None:
                    self.runner_pid = event.get("pid")  # in the sandbox, the runner's pid in its own namespace
                if event.get("pid") != self.runner_pid:
                    continue  # written by a process the notebook forked
                return event
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([self.read_fd], [], [], wait)[0]:
                raise Ended("timeout")
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                try:
                    code = self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
                raise Ended("exited", f"exit code {code}" if code is not None else "closed its output")
            self.buffer += chunk
            if len(self.buffer) > MAX_EVENT_BYTES and b"\n" not in self.buffer:
                raise Ended("exited", "wrote garbage to the grader's channel")

    def call(self, request: dict, deadline: float) -> dict:
        """Send one request (remote.py) and wait for the reply with its id; other events are dropped.
        Past the deadline the process is taken as stuck: TestTimeout here, Ended for the attempt."""
        if self.failure is not None:
            raise TestTimeout("the grading process no longer answers")
        self.ids += 1
        line = (json.dumps({**request, "id": self.ids}) + "\n").encode()
        try:
            while line:
                if not select.select([], [self.calls_fd], [], max(deadline - time.monotonic(), 0))[1]:
                    raise Ended("timeout")
                line = line[os.write(self.calls_fd, line[:65536]):]
            while True:
                event = self.next_event(deadline)
                if event.get("e") == "reply" and event.get("id") == self.ids:
                    return event
        except Ended as ended:
            self.failure = ended
            if ended.kind == "timeout":
                raise TestTimeout("the learner's function did not return in time (an infinite loop?)") from None
            raise TestTimeout(f"the grading process ended ({ended.message})") from None
        except OSError as error:
            self.failure = Ended("exited", f"its request pipe broke ({error.strerror})")
            raise TestTimeout("the grading process ended") from None

    def end_requests(self) -> None:
        """Tell the runner that the grader's requests for this exercise are over."""
        if self.failure is not None:
            raise self.failure
        try:
            os.write(self.calls_fd, b'{"op": "end"}\n')
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self.read_fd, self.calls_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the runner and anything the notebook started
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.group.close()


def run_attempt(job: dict, limits, env: dict, run: dict, on_event) -> tuple[str, str]:
    """Start the runner on `job` and feed its events to on_event(event, attempt) -> seconds the next one
    may take. Returns ("done", "") or (kind, message) with kind "timeout", "exited" or "fatal"."""
    attempt = Attempt(job, limits, env, run)
    deadline = time.monotonic() + limits.startup_s
    try:
        while True:
            event = attempt.next_event(deadline)
            if event.get("e") == "done":
                return "done", ""
            if event.get("e") == "fatal":
                return "fatal", str(event.get("error", ""))
            try:
                deadline = time.monotonic() + on_event(event, attempt)
            except (KeyError, TypeError, AttributeError, ValueError):
                continue  # a malformed event (forged by student code?) changes nothing
    except Ended as ended:
        return ended.kind, ended.message
    finally:
        attempt.close()
