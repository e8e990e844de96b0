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


# The PNG text key under which a figure shown in a notebook records its sizes (see figure_sizes).
FIGURE_SIZES_KEY = "worldmodels-figure-sizes"


def use_course_style() -> None:
    """Apply the course's matplotlib settings (call once at the top of a notebook).

    In a notebook it also makes every figure shown inline carry its sizes (:func:`figure_sizes`) in its
    PNG, so that the book's browser check can measure, on the rendered page, the narrowest panel and the
    smallest legend text a reader sees.
    """
    mpl.rcParams.update(COURSE_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # matplotlib without IPython: nothing is shown inline
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        from matplotlib.figure import Figure

        try:  # the inline backend sets its own PNG formatter when it loads: let it load first
            import matplotlib_inline.backend_inline  # noqa: F401
        except ImportError:
            pass
        shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


def _is_colorbar(ax) -> bool:
    return ax.get_label() == "<colorbar>"


def figure_sizes(fig) -> dict:
    """What a reader of the figure has to read, in pixels of the figure drawn at its own dpi.

    ``plot_px``: the width of the narrowest panel with axes (a plot); ``frame_px``: the narrowest panel
    that shows an image without axes (a frame of the world, drawn at ``frame_res`` pixels of the world
    across); ``legend_px``: the smallest legend text (colour bars count as legends: their tick labels).
    A value is None when the figure has no such element. The figure must have been drawn.
    """
    plots, frames, legend, frame_res = [], [], [], []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        width = ax.get_window_extent().width
        if _is_colorbar(ax):
            legend += [t.get_fontsize() for t in ax.get_yticklabels() + ax.get_xticklabels() if t.get_text()]
            continue
        images = ax.get_images()
        has_ticks = ax.axison and (len(ax.get_xticks()) > 0 or len(ax.get_yticks()) > 0)
        if images and not has_ticks:
            frames.append(width)
            frame_res.append(max(im.get_array().shape[1] for im in images))
        elif ax.axison or ax.has_data():
            plots.append(width)
        box = ax.get_legend()
        if box is not None and box.get_visible():
            legend += [t.get_fontsize() for t in box.get_texts()]
    for box in fig.legends:
        legend += [t.get_fontsize() for t in box.get_texts()]
    px = fig.dpi / 72.0  # points to pixels
    return {
        "width_px": round(fig.bbox.width, 1),
        "plot_px": round(min(plots), 1) if plots else None,
        "frame_px": round(min(frames), 1) if frames else None,
        "frame_res": int(max(frame_res)) if frame_res else None,
        "legend_px": round(min(legend) * px, 1) if legend else None,
    }


def figure_png(fig) -> str | None:
    """The figure as the notebook shows it (PNG, cropped to its content, base64) with its sizes in a text chunk."""
    if not fig.axes:
        return None
    import json

    from IPython.core.pylabtools import print_figure  # what the notebook would show, plus one text chunk

    fig.canvas.draw()
    sizes = json.dumps(figure_sizes(fig), sort_keys=True)
    return print_figure(fig, "png", base64=True, metadata={FIGURE_SIZES_KEY: sizes})


def read_figure_sizes(png: bytes | str) -> dict | None:
    """The sizes :func:`figure_png` wrote into a PNG (bytes, or base64 text), or None if it has none."""
    import base64
    import json
    import struct
    import zlib

    if isinstance(png, str):
        png = base64.b64decode(png)
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    at = 8
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        data = png[at + 8:at + 8 + length]
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            key, _, rest = data.partition(b"\0")
            if key.decode("latin-1") == FIGURE_SIZES_KEY:
                if kind == b"zTXt":
                    rest = zlib.decompress(rest[1:])
                elif kind == b"iTXt":
                    compressed, rest = rest[0], rest[2:]
                    rest = rest.split(b"\0", 2)[2]
                    rest = zlib.decompress(rest) if compressed else rest
                return json.loads(rest.decode("utf-8"))
        if kind == b"IEND":
            break
        at += 12 + length
    return None


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
