"""JupyterLab on localhost, driven by the headless Chromium of `cdp.py` (standard library only).

    with LabServer(workdir) as lab, Browser() as browser:
        page = browser.new_page()
        notebook = LabNotebook(page, lab, "notebooks/02_next_token.ipynb")
        notebook.run_all()            # -> {"ok": True, ...}; notebook.errors() lists error outputs

The server runs the course's JupyterLab (the one in the virtual environment) with the course's
JupyterLab configuration (`jupyter/` at the repository root, found through JUPYTER_CONFIG_PATH, as
`make lab` does: no news or update check from the web), on 127.0.0.1, a free port and a random token,
serving a *copy* of the notebooks (`workdir`), so that JupyterLab's autosave never writes into the
repository. Its own config, runtime, settings and workspace folders are temporary as well. The app is
exposed in the page (`window.jupyterapp`, LabApp.expose_app_in_browser) so the test can run JupyterLab's
own commands ("run all cells") and read the notebook model, while widgets are clicked and dragged with
real mouse events. `stop()` asks the server to shut down through its REST API and checks it exits 0.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cdp import BrowserError

ROOT = Path(__file__).resolve().parents[2]
LAB_CONFIG = ROOT / "jupyter"  # shipped with the course; `make lab` uses the same folder


class LabError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_lab_command() -> list[str]:
    """JupyterLab from the same environment as this Python (the course's .venv)."""
    script = Path(sys.executable).parent / "jupyter-lab"
    if not script.exists():
        raise LabError(f"no jupyter-lab next to {sys.executable}: install the course's requirements (make setup)")
    return [str(script)]


class LabServer:
    """A JupyterLab server on 127.0.0.1 serving `root_dir`; a context manager that stops it cleanly."""

    def __init__(self, root_dir, startup_timeout: float = 90.0):
        self.root_dir = Path(root_dir)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.exit_code: int | None = None
        self.news_requests: list[str] = []

    def __enter__(self) -> "LabServer":
        self._state = tempfile.TemporaryDirectory(prefix="wm-lab-")
        state = Path(self._state.name)
        env = dict(os.environ)
        env.update({
            "JUPYTER_CONFIG_PATH": str(LAB_CONFIG),
            "JUPYTER_CONFIG_DIR": str(state / "config"),  # not the user's ~/.jupyter
            "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
            "OMP_WAIT_POLICY": "PASSIVE",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        })
        args = [
            *jupyter_lab_command(), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}", "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "getuid") and os.getuid() == 0:
            args.append("--allow-root")
        self._log = open(state / "server.log", "w+b")
        self.process = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, cwd=self.root_dir)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                self.api("GET", "status")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        self._kill()
        raise LabError(f"JupyterLab did not answer within {self.startup_timeout:.0f} s:\n{self.log()[-3000:]}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def api(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            f"{self.url}/api/{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            text = reply.read()
        return json.loads(text) if text else None

    def log(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        """Shut the server down through its API (kernels too); the exit code (0 when clean)."""
        if self.exit_code is not None:
            return self.exit_code
        try:
            self.api("POST", "shutdown")
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        try:
            self.exit_code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            self.exit_code = -9
        self._log.flush()
        self._text = self.log()
        self._log.close()
        self._state.cleanup()
        return self.exit_code

    def _kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def final_log(self) -> str:
        return getattr(self, "_text", "") or self.log()


# ----------------------------------------------------------------------------------- in the page

_WAIT_FOR_NOTEBOOK_JS = """
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const deadline = Date.now() + %(timeout_ms)d;
  while (Date.now() < deadline) {
    const app = window.jupyterapp;
    const w = app && app.shell && app.shell.currentWidget;
    if (w && w.context && w.sessionContext && w.context.path === %(path)s) {
      await w.context.ready;
      await w.sessionContext.ready;
      const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
      if (kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle') {
        await w.content.fullyRendered;
        return {cells: w.content.model.cells.length, kernel: kernel.name};
      }
    }
    await sleep(200);
  }
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return {timeout: true, current: w ? (w.context ? w.context.path : w.title.label) : null};
})()
"""

_ERRORS_JS = """
(() => {
  const w = window.jupyterapp.shell.currentWidget;
  const found = [];
  const cells = w.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    for (const out of cell.outputs.toJSON()) {
      if (out.output_type === 'error') found.push({cell: i, error: out.ename + ': ' + String(out.evalue).slice(0, 300)});
    }
  }
  return found;
})()
"""


def js_string(value: str) -> str:
    return json.dumps(value)


class LabNotebook:
    """One notebook open in JupyterLab in `page` (a cdp.Page), with its kernel started."""

    def __init__(self, page, lab: LabServer, path: str, timeout: float = 120.0):
        self.page, self.lab, self.path = page, lab, path
        page.navigate(f"{lab.url}/lab/tree/{path}?token={lab.token}", timeout=timeout)
        seen = page.evaluate(_WAIT_FOR_NOTEBOOK_JS % {"timeout_ms": int(timeout * 1000), "path": js_string(path)},
                             timeout=timeout + 10)
        if not seen or seen.get("timeout"):
            raise LabError(f"JupyterLab did not open {path} with an idle kernel within {timeout:.0f} s "
                           f"(current tab: {seen and seen.get('current')}):\n{lab.log()[-2000:]}")
        self.cells = seen["cells"]

    def command(self, name: str, args: dict | None = None, timeout: float = 600.0) -> dict:
        """Run a JupyterLab command and wait until its promise settles (polling: no long CDP call)."""
        self.page.evaluate(
            "window.__wm_done = null; window.jupyterapp.commands.execute(%s, %s).then("
            "v => { window.__wm_done = {ok: true, value: (typeof v === 'boolean' ? v : null)}; },"
            "e => { window.__wm_done = {ok: false, error: String(e)}; }); true"
            % (js_string(name), json.dumps(args or {}))
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.page.evaluate("window.__wm_done")
            if done:
                if not done["ok"]:
                    raise LabError(f"JupyterLab command {name} failed: {done['error']}")
                return done
            time.sleep(0.25)
        raise LabError(f"JupyterLab command {name} did not finish within {timeout:.0f} s")

    def run_all(self, timeout: float = 600.0) -> dict:
        started = time.monotonic()
        done = self.command("notebook:run-all-cells", timeout=timeout)
        self.wait_idle(timeout)
        return {**done, "seconds": time.monotonic() - started}

    def run_cells(self, indices, timeout: float = 120.0) -> None:
        """Run the given cells (indices in the notebook) one after another, like shift-enter on each."""
        for index in indices:
            self.page.evaluate(f"window.jupyterapp.shell.currentWidget.content.activeCellIndex = {int(index)}; true")
            self.command("notebook:run-cell", timeout=timeout)
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.page.evaluate(
                "(() => { const w = window.jupyterapp.shell.currentWidget;"
                " const k = w.sessionContext.session.kernel; return k ? k.status : 'none'; })()")
            if status == "idle":
                return
            time.sleep(0.25)
        raise LabError(f"the kernel of {self.path} was still busy after {timeout:.0f} s")

    def errors(self) -> list[dict]:
        return self.page.evaluate(_ERRORS_JS)

    def output_text(self, index: int) -> str:
        """The text the reader sees under cell `index` (its rendered output area)."""
        return self.page.evaluate(
            "(() => { const w = window.jupyterapp.shell.currentWidget;"
            f" const cell = w.content.widgets[{int(index)}];"
            " return cell.outputArea ? cell.outputArea.node.textContent : ''; })()")

    def find_cell(self, needle: str) -> int:
        """The index of the first cell whose source contains `needle`."""
        index = self.page.evaluate(
            "(() => { const cells = window.jupyterapp.shell.currentWidget.content.model.cells;"
            f" for (let i = 0; i < cells.length; i++) if (cells.get(i).sharedModel.getSource().includes({js_string(needle)})) return i;"
            " return -1; })()")
        if index < 0:
            raise LabError(f"{self.path}: no cell contains {needle!r}")
        return index

    def close(self) -> None:
        """Close the tab without saving, and shut its kernel down."""
        self.page.evaluate(
            "(async () => { const w = window.jupyterapp.shell.currentWidget;"
            " await w.sessionContext.shutdown(); w.context.model.dirty = false; w.dispose(); return true; })()",
            timeout=30)


# ------------------------------------------------------------------------------------ real input

def element_center(page, expression: str, timeout: float = 30.0) -> dict:
    """Scroll the element `expression` (a JS expression) into view and return its centre in CSS px."""
    deadline = time.monotonic() + timeout
    while True:
        box = page.evaluate(
            "(async () => { const el = %s; if (!el) return null; el.scrollIntoView({block: 'center'});"
            " await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));"
            " const r = el.getBoundingClientRect(); if (!r.width) return null;"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2, width: r.width}; })()" % expression)
        if box:
            return box
        if time.monotonic() > deadline:
            raise BrowserError(f"no visible element for {expression}")
        time.sleep(0.25)


def click(page, x: float, y: float) -> None:
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        page.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                               "buttons": 1 if kind == "mousePressed" else 0, "clickCount": 1})


def drag(page, x0: float, y0: float, x1: float, y1: float, steps: int = 8) -> None:
    page.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x0, "y": y0})
    page.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": x0, "y": y0, "button": "left",
                                           "buttons": 1, "clickCount": 1})
    for i in range(1, steps + 1):
        x, y = x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps
        page.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "button": "left", "buttons": 1})
    page.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x1, "y": y1, "button": "left",
                                           "buttons": 0, "clickCount": 1})


def wait_until(page, expression: str, timeout: float = 30.0, what: str = "a change"):
    """Poll a JS expression until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise BrowserError(f"waited {timeout:.0f} s for {what}: {expression[:200]}")
        time.sleep(0.2)
