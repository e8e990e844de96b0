"""Progress bars that leave a quiet, static line behind.

In a live notebook a training loop shows a moving bar (an ipywidgets progress bar); when the loop ends,
the bar is replaced by one line of plain text such as

    training the world model: 1500/1500 steps · loss 12.3

so a stored notebook holds no widget (the static book needs no JavaScript to show it), no timing and
no random widget id: re-running a chapter changes that line only if the result changed.

Outside a notebook (scripts, benchmarks, tests) it is an ordinary `tqdm` text bar on stderr.

    for step in progress_bar(range(steps), desc="training"):
        ...
        bar.set_postfix(loss=f"{loss:.3f}")   # shown live, and in the final line
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

# Widget updates are messages to the front end: at most a few per second, or a long loop floods the
# kernel's output channel (thousands of messages per cell, which a checker reading outputs can lose).
MIN_INTERVAL_S = 0.5


def _in_notebook_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the course's requirements
        return False
    shell = get_ipython()
    return shell is not None and shell.has_trait("kernel")


class _StaticLine:
    """What a finished bar turns into: plain text in every front end."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class NotebookBar:
    """A widget bar while running, one plain text line once closed. tqdm-like: iterate, `update`,
    `set_postfix`, `close`."""

    def __init__(self, iterable: Iterable | None, desc: str, total: int | None):
        import ipywidgets as widgets
        from IPython.display import display

        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.desc, self.total, self.n = iterable, desc, total, 0
        self.postfix = ""
        self._bar = widgets.IntProgress(value=0, min=0, max=max(1, total or 1), layout={"width": "40%"})
        self._label = widgets.Label(value=self._text())
        self._box = widgets.HBox([widgets.Label(value=desc), self._bar, self._label])
        self._handle = display(self._box, display_id=True)
        self._closed = False
        self._last_draw = time.monotonic()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_draw >= MIN_INTERVAL_S:
            self._last_draw = now
            self._bar.value = min(self.n, self._bar.max)
            self._label.value = self._text()

    def _text(self) -> str:
        count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        return count + (f" · {self.postfix}" if self.postfix else "")

    def update(self, n: int = 1) -> None:
        self.n += n
        self._draw()

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{key} {value}" for key, value in values.items())
        self._draw()

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        count = f"{self.n}/{self.total} steps" if self.total is not None else f"{self.n} steps"
        line = f"{self.desc}: {count}" + (f" · {self.postfix}" if self.postfix else "")
        self._handle.update(_StaticLine(line))
        # No widget model is left behind in the kernel or in the stored notebook's widget state.
        for widget in (self._box, self._bar, self._label, *self._box.children[:1]):
            for part in (getattr(widget, "layout", None), getattr(widget, "style", None), widget):
                if part is not None:
                    part.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(iterable: Iterable | None = None, desc: str = "", total: int | None = None, disable: bool = False):
    """A progress bar over `iterable` (or a manual one with `total`): a widget that becomes a static line
    in notebooks, a tqdm text bar elsewhere; `disable=True` gives a silent tqdm."""
    if not disable and _in_notebook_kernel():
        try:
            return NotebookBar(iterable, desc, total)
        except ImportError:  # no ipywidgets: fall back to text
            pass
    from tqdm.std import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=disable, mininterval=1.0)
