"""Small animations that play everywhere: JupyterLab, a static HTML book, a browser from disk.

A video here is a float array of frames ``(T, H, W)`` with values in ``[0, 1]``. Several videos are
placed side by side, each under a title, scaled up with nearest-neighbour pixels (a 32×32 frame is
tiny on screen) and written as one animated GIF. The GIF is embedded in an ``<img>`` tag as base64,
so the published book needs no JavaScript, no kernel and no network to play it.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image, ImageDraw

TITLE_HEIGHT = 14  # pixels reserved above each panel for its title
GAP = 4  # pixels between panels


def _as_video(video, name: str) -> np.ndarray:
    array = np.asarray(video, dtype=np.float32)
    if array.ndim != 3:
        raise ValueError(f"{name} must have shape (T, H, W), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; clip or fix the frames first")
    return np.clip(array, 0.0, 1.0)


def compose_frames(videos, titles=None, scale: int = 4) -> list[Image.Image]:
    """Lay out several videos side by side; return one greyscale PIL image per time step.

    Videos of different lengths are allowed: a shorter one holds its last frame.
    """
    if len(videos) == 0:
        raise ValueError("give at least one video")
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    videos = [_as_video(v, f"video {i}") for i, v in enumerate(videos)]
    titles = list(titles) if titles is not None else [""] * len(videos)
    if len(titles) != len(videos):
        raise ValueError(f"got {len(videos)} videos but {len(titles)} titles")

    n_steps = max(v.shape[0] for v in videos)
    panel_h = max(v.shape[1] for v in videos) * scale
    widths = [v.shape[2] * scale for v in videos]
    # Titles must fit over their panel: widen narrow panels for long titles (about 6 px a character).
    widths = [max(w, 6 * len(t) + 4) for w, t in zip(widths, titles)]
    canvas_w = sum(widths) + GAP * (len(videos) - 1)
    canvas_h = panel_h + TITLE_HEIGHT

    images = []
    for t in range(n_steps):
        canvas = Image.new("L", (canvas_w, canvas_h), color=255)
        draw = ImageDraw.Draw(canvas)
        left = 0
        for video, title, width in zip(videos, titles, widths):
            frame = video[min(t, video.shape[0] - 1)]
            # Dark balls on a light background print and read better than the raw white-on-black.
            pixels = (255 * (1.0 - frame)).round().astype(np.uint8)
            panel = Image.fromarray(pixels).resize(
                (frame.shape[1] * scale, frame.shape[0] * scale), Image.NEAREST
            )
            offset = left + (width - panel.width) // 2
            canvas.paste(panel, (offset, TITLE_HEIGHT))
            draw.rectangle(
                [offset, TITLE_HEIGHT, offset + panel.width - 1, TITLE_HEIGHT + panel.height - 1],
                outline=160,
            )
            draw.text((left + 2, 1), title, fill=0)
            left += width + GAP
        images.append(canvas)
    return images


def video_gif(videos, titles=None, scale: int = 4, fps: float = 8.0) -> bytes:
    """Encode videos side by side as the bytes of a looping animated GIF."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    images = compose_frames(videos, titles, scale)
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=int(round(1000 / fps)),
        loop=0,
        optimize=True,
    )
    return buffer.getvalue()


def video_html(videos, titles=None, scale: int = 4, fps: float = 8.0, caption: str | None = None):
    """Return an ``IPython.display.HTML`` object showing the videos as one animated GIF.

    Example: ``video_html([true_frames, predicted], ["simulator", "model"])`` where each video has
    shape ``(T, H, W)``.
    """
    from IPython.display import HTML

    data = base64.b64encode(video_gif(videos, titles, scale, fps)).decode("ascii")
    alt = html.escape(caption or " | ".join(t for t in (titles or []) if t) or "animation")
    figure = f'<img src="data:image/gif;base64,{data}" alt="{alt}" style="image-rendering: pixelated;"/>'
    if caption:
        figure = f"<figure>{figure}<figcaption>{html.escape(caption)}</figcaption></figure>"
    return HTML(figure)
