import io

import numpy as np
import pytest
from PIL import Image

from worldmodels.animation import compose_frames, video_gif, video_html


def _video(t=5, h=8, w=8):
    frames = np.zeros((t, h, w), dtype=np.float32)
    for i in range(t):
        frames[i, i % h, i % w] = 1.0
    return frames


def test_gif_has_one_image_per_time_step_and_loops():
    gif = video_gif([_video(5), _video(3)], ["a", "b"], scale=2)
    image = Image.open(io.BytesIO(gif))
    assert image.format == "GIF"
    assert image.n_frames == 5  # the shorter video holds its last frame
    assert image.info.get("loop") == 0


def test_panels_are_scaled_and_placed_side_by_side():
    images = compose_frames([_video(2, 8, 8), _video(2, 8, 8)], scale=3)
    assert len(images) == 2
    assert images[0].height == 8 * 3 + 14
    assert images[0].width >= 2 * 8 * 3


def test_a_lit_pixel_is_drawn_dark():
    video = np.zeros((1, 4, 4), dtype=np.float32)
    video[0, 1, 2] = 1.0
    image = np.asarray(compose_frames([video], scale=1)[0])
    panel = image[14:18]
    offset = (image.shape[1] - 4) // 2
    assert panel[1, offset + 2] == 0
    assert panel[2, offset + 2] == 255


def test_html_embeds_the_gif_without_network():
    html = video_html([_video()], ["x"], caption="a <caption>").data
    assert html.count("data:image/gif;base64,") == 1
    assert "http" not in html
    assert "&lt;caption&gt;" in html


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
