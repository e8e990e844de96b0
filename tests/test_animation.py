import io

import numpy as np
import pytest
from PIL import Image

from worldmodels.animation import (
    BORDER,
    CONTEXT,
    FOOTER_HEIGHT,
    IMAGINED,
    NEUTRAL,
    TITLE_HEIGHT,
    compose_frames,
    video_gif,
    video_html,
)


def _video(t=5, h=8, w=8):
    frames = np.zeros((t, h, w), dtype=np.float32)
    for i in range(t):
        frames[i, i % h, i % w] = 1.0
    return frames


def _gif_frames(gif: bytes) -> list[np.ndarray]:
    image = Image.open(io.BytesIO(gif))
    frames = []
    for i in range(image.n_frames):
        image.seek(i)
        frames.append(np.asarray(image.convert("RGB")))
    return frames


def _panel_box(image, panel_h, panel_w):
    """(row, column) of the top-left pixel of the single (centred) panel in `image`."""
    width = image.shape[1]
    return TITLE_HEIGHT + BORDER, (width - panel_w) // 2


def _border_colour(image, panel_h, panel_w):
    top, left = _panel_box(image, panel_h, panel_w)
    return tuple(int(c) for c in image[top - 1, left + panel_w // 2])  # the border just above the panel


def _footer(image):
    return image[-FOOTER_HEIGHT:]


def _has_colour(region, colour):
    return bool(np.any(np.all(region == np.array(colour, dtype=np.uint8), axis=-1)))


def test_gif_has_one_image_per_time_step_and_loops():
    gif = video_gif([_video(5), _video(3)], ["a", "b"], scale=2)
    image = Image.open(io.BytesIO(gif))
    assert image.format == "GIF"
    assert image.n_frames == 5  # the shorter video holds its last frame
    assert image.info.get("loop") == 0


def test_panels_are_scaled_and_placed_side_by_side():
    images = compose_frames([_video(2, 8, 8), _video(2, 8, 8)], scale=3)
    assert len(images) == 2
    assert images[0].height == TITLE_HEIGHT + 8 * 3 + 2 * BORDER + 2 + FOOTER_HEIGHT
    assert images[0].width >= 2 * 8 * 3


def test_a_lit_pixel_is_drawn_dark_on_white():
    video = np.zeros((1, 4, 4), dtype=np.float32)
    video[0, 1, 2] = 1.0
    image = np.asarray(compose_frames([video], scale=1)[0])
    top, left = _panel_box(image, 4, 4)
    assert tuple(image[top + 1, left + 2]) == (0, 0, 0)
    assert tuple(image[top + 2, left + 2]) == (255, 255, 255)


def test_every_frame_shows_a_changing_counter():
    frames = _gif_frames(video_gif([_video(6)], ["x"], scale=4))
    footers = [_footer(f) for f in frames]
    assert all((footer < 128).any() for footer in footers)  # dark counter text in every frame
    for earlier, later in zip(footers, footers[1:]):
        assert not np.array_equal(earlier, later), "the counter must change from one frame to the next"
    # The counter is the only thing that differs between two identical still frames.
    still = np.zeros((3, 8, 8), dtype=np.float32)
    stills = [np.asarray(im) for im in compose_frames([still], scale=4)]
    assert np.array_equal(stills[0][:-FOOTER_HEIGHT], stills[1][:-FOOTER_HEIGHT])
    assert not np.array_equal(stills[0][-FOOTER_HEIGHT:], stills[1][-FOOTER_HEIGHT:])


def test_context_marker_appears_only_on_imagined_frames():
    context = 3
    frames = _gif_frames(video_gif([_video(7)], ["model"], scale=4, context=context))
    for t, frame in enumerate(frames):
        border = _border_colour(frame, 32, 32)
        if t < context:
            assert border == CONTEXT, f"frame {t} is given context: blue border expected, got {border}"
            assert not _has_colour(frame, IMAGINED), f"frame {t} is context but shows the imagined colour"
        else:
            assert border == IMAGINED, f"frame {t} is imagined: orange border expected, got {border}"
            assert not _has_colour(frame[: -FOOTER_HEIGHT], CONTEXT), f"frame {t} is imagined but shows the context colour"
            assert _has_colour(_footer(frame), IMAGINED)


def test_without_context_no_phase_colours():
    for frame in _gif_frames(video_gif([_video(4)], scale=4)):
        assert _border_colour(frame, 32, 32) == NEUTRAL
        assert not _has_colour(frame, CONTEXT) and not _has_colour(frame, IMAGINED)


def test_context_zero_marks_every_frame_imagined():
    frames = _gif_frames(video_gif([_video(3)], scale=4, context=0))
    assert all(_border_colour(f, 32, 32) == IMAGINED for f in frames)


def test_gif_stays_small():
    videos = [np.random.default_rng(i).random((30, 32, 32)).astype(np.float32) > 0.97 for i in range(4)]
    gif = video_gif([v.astype(np.float32) for v in videos], ["a", "b", "c", "d"], scale=4, context=10)
    assert len(gif) < 400_000


def test_html_embeds_the_gif_without_network_with_alt_text():
    html = video_html([_video(), _video()], ["truth", "model"], caption="a <caption>", context=2).data
    assert html.count("data:image/gif;base64,") == 1
    assert "http" not in html
    assert "&lt;caption&gt;" in html
    alt = html.split('alt="', 1)[1].split('"', 1)[0]
    assert "a &lt;caption&gt;" in alt and "t = 0 to 1 are the given context" in alt
    no_caption = video_html([_video()], ["truth", "model"][:1]).data
    assert 'alt="animation: truth (5 frames, t = 0 to 4)"' in no_caption


@pytest.mark.parametrize(
    "videos, titles, message",
    [
        ([], None, "at least one video"),
        ([np.zeros((2, 3))], None, r"shape \(T, H, W\)"),
        ([np.full((2, 3, 3), np.nan)], None, "NaN"),
        ([_video(), _video()], ["only one"], "titles"),
    ],
)
def test_bad_input_is_explained(videos, titles, message):
    with pytest.raises(ValueError, match=message):
        video_gif(videos, titles)


@pytest.mark.parametrize("context", [-1, 5, 6, 2.5, "3", True])
def test_bad_context_is_explained(context):
    with pytest.raises(ValueError, match="context"):
        video_html([_video(5)], context=context)


@pytest.mark.parametrize("kwargs, message", [({"scale": 0}, "scale"), ({"fps": 0}, "fps")])
def test_bad_scale_or_fps_is_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        video_gif([_video()], **kwargs)
