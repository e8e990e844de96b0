"""The course's figure style and the few plot helpers every chapter uses.

Figures are kept small (the notebooks are committed with their outputs and published as a book),
readable in print, and consistent from chapter to chapter.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

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


def show_frames(frames, titles=None, ncols: int | None = None, size: float = 1.4, axes=None):
    """Show a row (or grid) of frames ``(n, H, W)`` without ticks; return the axes.

    Balls are drawn dark on white, like the animations.
    """
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"frames must have shape (n, H, W), got {frames.shape}")
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
            ax.set_title(titles[i], fontsize=8)
    return axes
