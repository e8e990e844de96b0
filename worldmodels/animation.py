"""Small animations that play everywhere: JupyterLab, a static HTML book, a browser from disk.

A video here is a float array of frames ``(T, H, W)`` with values in ``[0, 1]``. Several videos are
placed side by side, each under a title, scaled up with nearest-neighbour pixels (a 32×32 frame is
tiny on screen) and written as one animated GIF. The GIF is embedded in an ``<img>`` tag as base64,
so the published book needs no JavaScript, no kernel and no network to play it.

Frames are drawn dark on white (a lit pixel, value 1, is black ink on paper), as everywhere in the
course. Under the panels every GIF shows a frame counter ``t = 12`` (frame index, from 0) and a thin
timeline. With ``context=C`` the first ``C`` frames (``t < C``) are the given context: blue panel
borders, the label "context (t < C)", a blue timeline; from ``t = C`` on the model is imagining:
orange borders, the label "imagined (from t = C)", an orange timeline, so a looping GIF always says
where the given frames end and imagination begins.

    video_html([truth, predicted], ["simulator", "model"], context=10)
"""

from __future__ import annotations

import base64
import html
import io
import operator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .validation import check_frames

TITLE_HEIGHT = 14  # pixels reserved above each panel for its title
FOOTER_HEIGHT = 18  # pixels below the panels: frame counter, phase label, timeline
BORDER = 2  # panel border width (grey, or the phase colour when a context is given)
GAP = 4  # pixels between panels
FOOTER_MIN_WIDTH = 160  # "t = 123  imagined (from t = 10)" must fit under a single small panel

WHITE, BLACK = (255, 255, 255), (0, 0, 0)
NEUTRAL = (160, 160, 160)  # panel border without a context
CONTEXT = (31, 100, 180)  # blue: frames that were given to the model
IMAGINED = (214, 96, 0)  # orange: frames the model imagined
CONTEXT_PALE, IMAGINED_PALE, NEUTRAL_PALE = (190, 210, 235), (245, 205, 175), (220, 220, 220)
_COLOURS = [NEUTRAL, CONTEXT, IMAGINED, CONTEXT_PALE, IMAGINED_PALE, NEUTRAL_PALE]


def _palette_image() -> Image.Image:
    """The fixed GIF palette: 248 greys (black to white) and the phase colours."""
    n_greys = 256 - 8
    greys = [round(255 * i / (n_greys - 1)) for i in range(n_greys)]
    entries = [(g, g, g) for g in greys] + _COLOURS
    entries += [WHITE] * (256 - len(entries))
    palette = Image.new("P", (1, 1))
    palette.putpalette([channel for entry in entries for channel in entry])
    return palette


_PALETTE = _palette_image()


def _as_video(video, name: str) -> np.ndarray:
    array = check_frames(video, ndim=3, name=name, dtype=np.float32, model_output=True)
    return np.clip(array, 0.0, 1.0)  # a model's frames may stray a little outside [0, 1]: shown clipped


def _check_context(context, n_steps: int) -> int | None:
    if context is None:
        return None
    if isinstance(context, bool):
        raise ValueError(f"context must be a number of frames (an int), got {context!r}")
    try:
        context = operator.index(context)
    except TypeError:
        raise ValueError(f"context must be a number of frames (an int), got {context!r}") from None
    if not 0 <= context < n_steps:
        raise ValueError(
            f"context must be between 0 and {n_steps - 1} (the videos have {n_steps} frames and at least "
            f"one must be imagined), got {context}; pass context=None to mark no context"
        )
    return context


def _phase(t: int, context: int | None) -> tuple[str, tuple, tuple]:
    """(label, strong colour, pale colour) of time step t."""
    if context is None:
        return "", NEUTRAL, NEUTRAL_PALE
    if t < context:
        return f"context (t < {context})", CONTEXT, CONTEXT_PALE
    return f"imagined (from t = {context})", IMAGINED, IMAGINED_PALE


def compose_frames(videos, titles=None, scale: int = 4, context: int | None = None) -> list[Image.Image]:
    """Lay out several videos side by side; return one RGB PIL image per time step.

    Videos of different lengths are allowed: a shorter one holds its last frame. With ``context=C``
    the time steps ``t < C`` are marked as given (blue) and ``t >= C`` as imagined (orange).
    """
    if len(videos) == 0:
        raise ValueError("give at least one video")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    videos = [_as_video(v, f"video {i}") for i, v in enumerate(videos)]
    titles = list(titles) if titles is not None else [""] * len(videos)
    if len(titles) != len(videos):
        raise ValueError(f"got {len(videos)} videos but {len(titles)} titles")
    n_steps = max(v.shape[0] for v in videos)
    context = _check_context(context, n_steps)

    font = ImageFont.load_default()
    panel_h = max(v.shape[1] for v in videos) * scale
    # Titles must fit over their panel: widen narrow panels for long titles (about 6 px a character).
    widths = [max(v.shape[2] * scale + 2 * BORDER, 6 * len(t) + 4) for v, t in zip(videos, titles)]
    row_w = sum(widths) + GAP * (len(videos) - 1)
    canvas_w = max(row_w, FOOTER_MIN_WIDTH)
    top = TITLE_HEIGHT + BORDER
    footer_y = top + panel_h + BORDER + 2
    canvas_h = footer_y + FOOTER_HEIGHT

    images = []
    for t in range(n_steps):
        label, strong, pale = _phase(t, context)
        canvas = Image.new("RGB", (canvas_w, canvas_h), color=WHITE)
        draw = ImageDraw.Draw(canvas)
        left = (canvas_w - row_w) // 2  # centre the panels over a wider footer
        for video, title, width in zip(videos, titles, widths):
            frame = video[min(t, video.shape[0] - 1)]
            pixels = (255 * (1.0 - frame)).round().astype(np.uint8)  # dark ink on white paper
            panel = Image.fromarray(pixels).resize((frame.shape[1] * scale, frame.shape[0] * scale), Image.NEAREST)
            offset = left + (width - panel.width) // 2
            canvas.paste(panel.convert("RGB"), (offset, top))
            draw.rectangle(
                [offset - BORDER, top - BORDER, offset + panel.width + BORDER - 1, top + panel.height + BORDER - 1],
                outline=strong, width=BORDER,
            )
            draw.text((left + 2, 0), title, fill=BLACK, font=font)
            left += width + GAP
        # Footer: frame counter, phase label, and a timeline (given part | imagined part, filled up to t).
        counter = f"t = {t}"
        draw.text((2, footer_y), counter, fill=BLACK, font=font)
        if label:
            draw.text((2 + draw.textlength(f"t = {n_steps - 1}", font=font) + 8, footer_y), label, fill=strong, font=font)
        bar_y0, bar_y1 = canvas_h - 4, canvas_h - 2
        x_of = lambda step: round((canvas_w - 1) * step / n_steps)  # noqa: E731
        for step in range(n_steps):
            _, step_strong, step_pale = _phase(step, context)
            draw.rectangle([x_of(step), bar_y0, max(x_of(step), x_of(step + 1) - 1), bar_y1],
                           fill=step_strong if step <= t else step_pale)
        images.append(canvas)
    return images


def video_gif(videos, titles=None, scale: int = 4, fps: float = 8.0, context: int | None = None) -> bytes:
    """Encode videos side by side as the bytes of a looping animated GIF (fixed palette, small)."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    images = [
        image.quantize(palette=_PALETTE, dither=Image.Dither.NONE)
        for image in compose_frames(videos, titles, scale, context)
    ]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=int(round(1000 / fps)),
        loop=0,
        optimize=False,  # keep the fixed palette: frames then differ only where pixels change
    )
    return buffer.getvalue()


def _alt_text(videos, titles, caption, context) -> str:
    n_steps = max(np.shape(v)[0] for v in videos)
    names = " | ".join(t for t in (titles or []) if t)
    what = caption or (f"animation: {names}" if names else "animation")
    if context is None:
        timing = f"{n_steps} frames, t = 0 to {n_steps - 1}"
    else:
        timing = (f"{n_steps} frames: t = 0 to {context - 1} are the given context, "
                  f"t = {context} to {n_steps - 1} are imagined" if context else
                  f"{n_steps} frames, all imagined")
    return f"{what} ({timing})"


def video_html(videos, titles=None, scale: int = 4, fps: float = 8.0, caption: str | None = None,
               context: int | None = None):
    """Return an ``IPython.display.HTML`` object showing the videos as one animated GIF.

    Example: ``video_html([true_frames, predicted], ["simulator", "model"], context=10)`` where each
    video has shape ``(T, H, W)`` and the first 10 frames were given to the model. Every GIF shows
    a frame counter; ``context`` marks where the given frames end and imagination begins.
    """
    from IPython.display import HTML

    gif = video_gif(videos, titles, scale, fps, context)
    data = base64.b64encode(gif).decode("ascii")
    alt = html.escape(_alt_text(videos, titles, caption, context), quote=True)
    figure = f'<img src="data:image/gif;base64,{data}" alt="{alt}" style="image-rendering: pixelated; max-width: 100%;"/>'
    if caption:
        figure = f"<figure>{figure}<figcaption>{html.escape(caption)}</figcaption></figure>"
    return HTML(figure)
