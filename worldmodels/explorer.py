"""Push the ball yourself: the simulator and a model's imagination side by side, frame by frame.

    explorer = Explorer()                       # the chapter-5 world model (the recorded reference run)
    explorer.widget()                           # JupyterLab: push buttons, the frames, the error
    explorer.push(1.0, 0.0); explorer.push()    # the same from code: one frame per call
    explorer.table()                            # centroid error (px) per imagined frame, per model

The simulator starts a ball (seeded) and shows the model the first `context` frames. From then on each
press of a push button gives the ball one push (dx, dy) in px/frame, or none, and advances one frame:
the simulator moves the real ball, and every model imagines the same frame open loop from the context
and the whole sequence of pushes so far (it never sees a frame after the context). The error is the
centroid error of the evaluation harness: the distance in px between the ball read from the imagined
frame and the true ball.

Any predictor of the evaluation harness plugs in (worldmodels.evaluation: `(context (B, C, H, W),
actions (B, C + K, 2), horizon K) -> frames (B, K, H, W)`), so a later chapter's model joins with one
argument: ``Explorer(models={"world model": wm.as_predictor(m5), "object model": as_predictor(m7)})``, and every
recorded model of worldmodels.registry by name: ``Explorer(models=reference_models("world_model", "object_model"))``
(`registered_models()` lists them).
Each update re-imagines the whole sequence (at most `max_steps` frames): a few milliseconds for the
chapter-5 model on a laptop CPU; the widget shows the time the last update took.
"""

from __future__ import annotations

import html
import io
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .animation import FOOTER_HEIGHT, compose_frames, video_html
from .data import CANONICAL
from .evaluation import centroid_error
from .physics import WorldConfig, simulate
from .render import render

Predictor = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
# One button per push: (label, (dx, dy)) in px/frame; y points down, as in the frames.
PUSHES = (("← push", (-1.0, 0.0)), ("→ push", (1.0, 0.0)), ("↑ push", (0.0, -1.0)), ("↓ push", (0.0, 1.0)),
          ("no push", (0.0, 0.0)))
COLORS = ("#d95f02", "#7570b3", "#1b9e77", "#e7298a")  # one per model, in the error plot


@dataclass(frozen=True)
class ExplorerConfig:
    world: WorldConfig = CANONICAL
    seed: int = 0  # the ball's starting state
    context: int = 10  # frames the models are shown before they imagine
    push_size: float = 0.5  # px/frame of one press of a push button (training pushes reach 1 px/frame)
    max_steps: int = 40  # imagined frames at most (the chapter-5 model is trained and tested on 20)
    scale: int = 5  # screen pixels per frame pixel in the widget

    def __post_init__(self):
        for name in ("context", "max_steps", "scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not (isinstance(self.push_size, (int, float)) and np.isfinite(self.push_size) and self.push_size >= 0):
            raise ValueError(f"push_size must be a finite number >= 0 (px/frame), got {self.push_size!r}")


def registered_models() -> list[str]:
    """The names of the models the explorer can load (registry.load_predictor): every model of
    worldmodels.registry with a harness adapter, a recorded run and room for pushes, including any
    registered later."""
    from . import registry

    return [spec.name for spec in registry.recorded_predictors().values() if spec.takes_actions]


def reference_models(*names: str) -> dict[str, Predictor]:
    """{label: harness predictor} of registered models' recorded runs, e.g. reference_models("world_model",
    "object_model"): the `models` argument of Explorer."""
    from . import registry

    return {registry.get(name).label: registry.load_predictor(name) for name in names}


def reference_world_model() -> dict[str, Predictor]:
    """The chapter-5 world model (the recorded reference run) as the harness predictor the explorer calls."""
    return reference_models("world_model")


class Explorer:
    """The state of one exploration: the pushes so far, and what the simulator and each model show."""

    def __init__(self, models: Mapping[str, Predictor] | None = None, config: ExplorerConfig = ExplorerConfig()):
        if not isinstance(config, ExplorerConfig):
            raise ValueError(f"config must be an ExplorerConfig, got {type(config).__name__}")
        self.models = dict(reference_world_model() if models is None else models)
        if not self.models:
            raise ValueError("give at least one model: {name: predictor}")
        for name, model in self.models.items():
            if not callable(model):
                raise ValueError(f"model {name!r} must be a harness predictor (context, actions, horizon) -> frames")
        self.config = config
        self.pushes: list[tuple[float, float]] = []
        self.seconds = 0.0  # how long the last update took
        self._update()

    # -- actions -------------------------------------------------------------------------------
    def push(self, dx: float = 0.0, dy: float = 0.0) -> "Explorer":
        """Give the ball the push (dx, dy) in px/frame (zero: none) and advance one frame."""
        push = (float(dx), float(dy))
        if not all(np.isfinite(push)):
            raise ValueError(f"a push must be finite, got {(dx, dy)!r}")
        if len(self.pushes) >= self.config.max_steps:
            raise ValueError(f"the explorer imagines at most max_steps={self.config.max_steps} frames: press reset")
        self.pushes.append(push)
        self._update()
        return self

    def undo(self) -> "Explorer":
        if self.pushes:
            self.pushes.pop()
            self._update()
        return self

    def reset(self) -> "Explorer":
        self.pushes = []
        self._update()
        return self

    # -- what is shown ---------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return len(self.pushes)

    def _update(self) -> None:
        started = time.perf_counter()
        c, k = self.config.context, self.steps
        actions = np.zeros((1, c + k, 2))
        if k:
            actions[0, c - 1 : c - 1 + k] = self.pushes  # the push at frame t makes frame t + 1
        traj = simulate(self.config.world, 1, c + k, seed=self.config.seed, actions=actions)
        self.positions = traj.positions[0]  # (C + K, N, 2)
        self.true_frames = render(traj.positions, self.config.world.radius, self.config.world.size)[0]
        self.imagined, self.errors = {}, {}
        for name, model in self.models.items():
            if k:
                frames = np.asarray(model(self.true_frames[None, :c], actions, k), dtype=np.float32)
                if frames.shape != (1, k) + self.true_frames.shape[1:]:
                    raise ValueError(f"model {name!r} returned frames of shape {frames.shape}, expected "
                                     f"{(1, k) + self.true_frames.shape[1:]}")
                self.imagined[name] = frames[0]
                self.errors[name] = centroid_error(frames[0], self.positions[c:])
            else:
                self.imagined[name] = np.zeros((0,) + self.true_frames.shape[1:], dtype=np.float32)
                self.errors[name] = np.zeros(0)
        self.seconds = time.perf_counter() - started

    def videos(self) -> tuple[list[np.ndarray], list[str]]:
        """The simulator and each model as videos (T, H, W): the context frames, then the imagined ones."""
        c = self.config.context
        videos = [self.true_frames]
        videos += [np.concatenate([self.true_frames[:c], frames]) for frames in self.imagined.values()]
        return videos, ["simulator", *self.imagined]

    def table(self):
        """Centroid error (px) of each model at each imagined frame, with the push that led to it."""
        import pandas as pd

        frame = pd.DataFrame({"k": np.arange(1, self.steps + 1),
                              "push": [_push_name(p) for p in self.pushes]})
        for name, errors in self.errors.items():
            frame[f"{name} error (px)"] = np.round(errors, 2)
        return frame.set_index("k")

    def frame_png(self) -> bytes:
        """The current frame of the simulator and of each model side by side (PNG bytes)."""
        videos, titles = self.videos()
        t = videos[0].shape[0] - 1
        titles = [f"{titles[0]}, t = {t}"] + [f"{name}{', imagined' if self.steps else ''}" for name in titles[1:]]
        image = compose_frames([v[-1:] for v in videos], titles, scale=self.config.scale)[0]
        # Only the current frame is drawn (fast); its footer would count from 0, so it is cut off.
        image = image.crop((0, 0, image.width, image.height - FOOTER_HEIGHT))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    def status_html(self) -> str:
        """Frame counter, the last push, each model's error now, and a small plot of the errors so far."""
        c, k = self.config.context, self.steps
        if not k:
            head = f"t = {c - 1}: the last given frame. Press a push button to move on one frame."
        else:
            now = ", ".join(f'<span style="color:{COLORS[i % len(COLORS)]}">{html.escape(name)}: '
                            f"<b>{errors[-1]:.2f} px</b></span>" for i, (name, errors) in enumerate(self.errors.items()))
            head = (f"t = {c - 1 + k}, imagined frame k = {k} (push: {_push_name(self.pushes[-1])}). "
                    f"Centroid error: {now}.")
        timing = f"update took {1000 * self.seconds:.0f} ms"
        return (f'<div class="wm-explorer-status"><p>{head} <small>({timing})</small></p>'
                f"{self.error_svg()}</div>")

    def error_svg(self, width: int = 360, height: int = 120) -> str:
        """A line plot of each model's centroid error against the imagined frame k, as inline SVG."""
        m = 28  # margin for the axis labels
        top = max([1.0] + [float(np.max(e)) for e in self.errors.values() if len(e)])
        top = float(np.ceil(top))
        n = self.config.max_steps
        x = lambda step: m + (width - m - 6) * (step - 1) / max(n - 1, 1)  # noqa: E731
        y = lambda err: 6 + (height - m) * (1 - err / top)  # noqa: E731
        parts = [f'<svg class="wm-explorer-errors" width="{width}" height="{height}" '
                 f'viewBox="0 0 {width} {height}" role="img" aria-label="centroid error (px) per imagined frame">',
                 f'<line x1="{m}" y1="{y(0):.1f}" x2="{width - 6}" y2="{y(0):.1f}" stroke="#888"/>',
                 f'<line x1="{m}" y1="6" x2="{m}" y2="{y(0):.1f}" stroke="#888"/>',
                 f'<text x="{m - 4}" y="12" font-size="10" text-anchor="end">{top:g}</text>',
                 f'<text x="{m - 4}" y="{y(0):.1f}" font-size="10" text-anchor="end">0</text>',
                 f'<text x="{(width + m) / 2:.0f}" y="{height - 4}" font-size="10" text-anchor="middle">'
                 f"imagined frame k (1 to {n}); error in px</text>"]
        for i, errors in enumerate(self.errors.values()):
            if len(errors):
                points = " ".join(f"{x(s + 1):.1f},{y(e):.1f}" for s, e in enumerate(errors))
                color = COLORS[i % len(COLORS)]
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
                parts.append(f'<circle cx="{x(len(errors)):.1f}" cy="{y(errors[-1]):.1f}" r="3" fill="{color}"/>')
        parts.append("</svg>")
        return "".join(parts)

    # -- the two faces: live widget and static page ------------------------------------------------
    def widget(self):
        """The ipywidgets explorer: push buttons (one frame each), undo, reset, the frames and the error."""
        import ipywidgets as widgets

        png = self.frame_png()
        width = int.from_bytes(png[16:20], "big")  # the PNG's own width: shown at 1:1, never stretched
        image = widgets.Image(value=png, format="png", layout=widgets.Layout(width=f"{width}px", max_width="100%"))
        status = widgets.HTML(value=self.status_html())
        image.add_class("wm-explorer-frames")
        status.add_class("wm-explorer-status-box")

        def refresh():
            image.value = self.frame_png()
            status.value = self.status_html()

        def on_push(push):
            def handler(_button):
                if self.steps >= self.config.max_steps:
                    status.value = self.status_html() + f"<p>max_steps = {self.config.max_steps} reached: press reset.</p>"
                    return
                self.push(*(self.config.push_size * np.asarray(push)))
                refresh()
            return handler

        buttons = []
        for label, push in PUSHES:
            button = widgets.Button(description=label, layout=widgets.Layout(width="82px"))
            button.add_class("wm-explorer-push")
            button.on_click(on_push(push))
            buttons.append(button)
        undo, reset = widgets.Button(description="undo", layout=widgets.Layout(width="60px")), \
            widgets.Button(description="reset", layout=widgets.Layout(width="60px"))
        undo.on_click(lambda _b: (self.undo(), refresh()))
        reset.on_click(lambda _b: (self.reset(), refresh()))
        box = widgets.VBox([widgets.HBox(buttons + [undo, reset]), image, status])
        box.add_class("wm-explorer")
        return box

    def static_html(self, caption: str | None = None):
        """The book's version: the sequence explored so far as one animation (context blue, imagined orange)."""
        videos, titles = self.videos()
        return video_html(videos, titles, scale=3, context=self.config.context, caption=caption)

    def plot_errors(self, ax=None):
        """Matplotlib: each model's centroid error against the imagined frame k, pushes marked below."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 2.6))
        k = np.arange(1, self.steps + 1)
        for i, (name, errors) in enumerate(self.errors.items()):
            ax.plot(k, errors, "-o", ms=3, color=COLORS[i % len(COLORS)], label=name)
        pushed = [step for step, p in zip(k, self.pushes) if p != (0.0, 0.0)]
        if pushed:
            ax.plot(pushed, np.zeros(len(pushed)), "k^", ms=6, label="push given", clip_on=False)
        ax.set_xlabel("imagined frame k")
        ax.set_ylabel("centroid error (px)")
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False)
        return ax


def _push_name(push) -> str:
    dx, dy = push
    if dx == 0 and dy == 0:
        return "none"
    return f"({dx:+.1f}, {dy:+.1f})"

