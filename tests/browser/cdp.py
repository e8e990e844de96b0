"""A minimal Chrome DevTools Protocol client over a pipe: headless Chromium, no extra package.

Chromium started with ``--remote-debugging-pipe`` reads JSON commands from file descriptor 3 and
writes JSON replies and events to file descriptor 4, each message ended by a NUL byte. That needs
neither a TCP port nor a websocket library, so the browser test runs with the standard library only.

    with Browser() as browser:
        page = browser.new_page()
        page.send("Page.enable")
        page.navigate("file:///.../index.html")
        page.evaluate("document.title")
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--remote-debugging-pipe",
]


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium process; `new_page()` opens a tab driven through a flat CDP session."""

    def __init__(self, executable: str | None = None, timeout: float = 30.0):
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise BrowserError("no chromium found")
        self.timeout = timeout
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: "queue.Queue[dict]" = queue.Queue()
        self._lock = threading.Condition()
        self._closed = False

    # -- process ---------------------------------------------------------------------------
    def __enter__(self) -> "Browser":
        self._profile = tempfile.TemporaryDirectory(prefix="wm-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def _wire_pipes():  # runs in the child before exec: the pipe ends become fds 3 and 4
            # Via fresh copies above 4, so that one end sitting on fd 3 or 4 is not overwritten.
            # (fds 3 and 4 exist in the parent: the two pipes just took the lowest free numbers.)
            reads, writes = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(reads, 3)
            os.dup2(writes, 4)

        self.process = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=(3, 4), preexec_fn=_wire_pipes,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._stderr_tail: list[bytes] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()
        threading.Thread(target=self._read_messages, daemon=True).start()
        self.send("Target.setDiscoverTargets", {"discover": False})  # wait until it answers
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._write({"id": self._new_id(), "method": "Browser.close"})
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr_tail = (self._stderr_tail + [line])[-20:]

    def _read_messages(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._closed_pipe = True
                    self._lock.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        self._replies[message["id"]] = message
                        self._lock.notify_all()
                else:
                    self._events.put(message)

    # -- protocol --------------------------------------------------------------------------
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _write(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_chrome, data):]

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        message_id = self._new_id()
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write(message)
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._lock:
            while message_id not in self._replies:
                if getattr(self, "_closed_pipe", False):
                    raise BrowserError(f"chromium exited: {b''.join(self._stderr_tail).decode(errors='replace')[-2000:]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no answer to {method} within {timeout or self.timeout} s")
                self._lock.wait(left)
            reply = self._replies.pop(message_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def events(self, timeout: float = 0.0):
        """Yield the events received so far (waiting up to `timeout` s for the first one)."""
        try:
            yield self._events.get(timeout=timeout) if timeout else self._events.get_nowait()
            while True:
                yield self._events.get_nowait()
        except queue.Empty:
            return

    def new_page(self) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return Page(self, target, session)


class Page:
    """A tab. Events for it are kept in `self.log` (a list of CDP event messages)."""

    def __init__(self, browser: Browser, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session
        self.log: list[dict] = []

    def send(self, method: str, params: dict | None = None, timeout: float | None = None) -> dict:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def pump(self, timeout: float = 0.0) -> None:
        for event in self.browser.events(timeout):
            if event.get("sessionId") == self.session:
                self.log.append(event)

    def wait_for(self, method: str, timeout: float = 30.0, after: int = 0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.log[after:]:
                if event["method"] == method:
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no {method} event within {timeout} s")
            self.pump(min(left, 0.2))

    def navigate(self, url: str, timeout: float = 30.0) -> None:
        self.pump()
        start = len(self.log)
        reply = self.send("Page.navigate", {"url": url})
        if reply.get("errorText"):
            raise BrowserError(f"cannot open {url}: {reply['errorText']}")
        self.wait_for("Page.loadEventFired", timeout, after=start)

    def evaluate(self, expression: str, timeout: float = 30.0):
        reply = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript failed: {text}")
        return reply["result"].get("value")

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})
