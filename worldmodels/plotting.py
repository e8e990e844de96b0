"""The course's figure style and the few plot helpers every chapter uses.

Figures are kept small (the notebooks are committed with their outputs and published as a book),
readable in print, and consistent from chapter to chapter.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from .validation import check_frames

COURSE_STYLE = {
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.figsize": (8.0, 3.0),
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "image.cmap": "gray_r",
    "image.interpolation": "nearest",
    # Fixed metadata makes saved figures byte-identical from run to run.
    "svg.hashsalt": "worldmodels",
}


def use_course_style() -> None:
    """Apply the course's matplotlib settings (call once at the top of a notebook)."""
    mpl.rcParams.update(COURSE_STYLE)


def show_frames(frames, titles=None, ncols: int | None = None, size: float = 1.4, axes=None, row_labels=None):
    """Show a row (or grid) of frames ``(n, H, W)`` without ticks; return the axes.

    Balls are drawn dark on white, like the animations. ``row_labels`` (one per row of the grid)
    are written to the left of each row.
    """
    frames = check_frames(frames, ndim=3, layout="(n, H, W)", model_output=True)  # drawn clipped to [0, 1]
    n = frames.shape[0]
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {n} frames but {len(titles)} titles")
    if axes is None:
        ncols = ncols or n
        nrows = int(np.ceil(n / ncols))
        _, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    axes = np.asarray(axes).ravel()
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():  # a frame is a closed box, whatever the course style says
            spine.set_visible(True)
            spine.set_color("0.6")
        if i >= n:
            ax.axis("off")
            continue
        ax.imshow(frames[i], vmin=0, vmax=1, cmap="gray_r")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if row_labels is not None:
        ncols = ncols or n
        rows = axes[::ncols]
        if len(row_labels) != len(rows):
            raise ValueError(f"got {len(rows)} rows but {len(row_labels)} row labels")
        for ax, label in zip(rows, row_labels):
            ax.set_ylabel(label, fontsize=9)
    return axes


def plot_loss_curves(curves, window: int = 25, ax=None, logy: bool = False):
    """Smoothed training-loss curves on one axis; return the axis.

    ``curves`` maps a label to a sequence of per-step losses or to a
    :class:`worldmodels.training.History` (whose validation points are drawn too). Each raw curve is
    drawn faint, its moving average over ``window`` steps solid in the same colour.
    """
    if not curves:
        raise ValueError("curves is empty")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if ax is None:
        _, ax = plt.subplots()
    for label, curve in curves.items():
        history = curve if hasattr(curve, "train_loss") else None
        losses = np.asarray(history.train_loss if history is not None else curve, dtype=np.float64)
        if losses.ndim != 1 or len(losses) == 0:
            raise ValueError(f"curve {label!r} must be a non-empty sequence of per-step losses")
        steps = np.asarray(history.steps) if history is not None else np.arange(len(losses))
        (raw,) = ax.plot(steps, losses, lw=0.6, alpha=0.3)
        w = min(window, len(losses))
        smooth = np.convolve(losses, np.ones(w) / w, mode="valid")
        ax.plot(steps[w - 1 :], smooth, color=raw.get_color(), label=f"{label}" + (f" (mean of {w} steps)" if w > 1 else ""))
        if history is not None and history.val_loss:
            ax.plot(history.val_steps, history.val_loss, "o", ms=3, color=raw.get_color(), label=f"{label}, held out")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return ax
