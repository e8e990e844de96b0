import numpy as np
import pytest

from worldmodels import watermark as wm
from worldmodels.data import make_split


@pytest.fixture(scope="module")
def clips():
    return make_split("test", 64, 20, seed=0).frames


def test_marked_clips_are_detected_and_unmarked_are_not(clips):
    marked = wm.embed(clips, key=11)
    assert wm.detect(marked, 11).mean() == 1.0
    assert wm.detect(clips, 11).mean() <= 0.05


def test_the_mark_is_not_detected_without_the_key(clips):
    marked = wm.embed(clips, key=11)
    z = np.concatenate([wm.score(marked, k) for k in range(20, 30)])
    assert abs(z.mean()) < 0.3 and 0.7 < z.std() < 1.3
    assert wm.detect(marked, 12).mean() <= 0.05


def test_the_mark_is_invisible_and_survives_noise(clips):
    marked = wm.embed(clips, key=5)
    assert wm.psnr(marked, clips) >= 40.0
    assert marked.dtype == np.float32 and marked.min() >= 0 and marked.max() <= 1
    noisy = np.clip(marked + 0.05 * np.random.default_rng(0).standard_normal(marked.shape), 0, 1)
    assert wm.detect(noisy, 5).mean() >= 0.95


def test_pattern_depends_only_on_the_key():
    a, b = wm.pattern(3, (2, 8, 8)), wm.pattern(3, (2, 8, 8))
    assert np.array_equal(a, b) and set(np.unique(a)) == {-1.0, 1.0}
    assert not np.array_equal(a, wm.pattern(4, (2, 8, 8)))
    assert np.array_equal(a[:, ::2, ::2], a[:, 1::2, 1::2])  # one sign per 2x2 block


def test_threshold_is_the_normal_quantile():
    assert wm.threshold(0.01) == pytest.approx(2.3263, abs=1e-4)
    assert wm.threshold(0.5) == pytest.approx(0.0, abs=1e-12)


def test_watermarked_generator_marks_its_output(clips):
    generator = wm.watermarked(lambda context, actions, horizon: np.repeat(context[:, -1:], horizon, axis=1), key=9)
    out = generator(clips[:, :4], None, 8)
    assert out.shape == (64, 8, 32, 32)
    assert wm.detect(out, 9).mean() == 1.0


@pytest.mark.parametrize("call", [
    lambda c: wm.embed(c[0], 1),  # (T, H, W): not a batch
    lambda c: wm.embed(c, -1),
    lambda c: wm.embed(c, 1.5),
    lambda c: wm.score(c[..., :31], 1),  # not a multiple of the block
    lambda c: wm.threshold(0.0),
    lambda c: wm.WatermarkConfig(strength=0.0),
    lambda c: wm.WatermarkConfig(block=0),
    lambda c: wm.psnr(c, c[:1]),
])
def test_bad_arguments_raise(clips, call):
    with pytest.raises(ValueError):
        call(clips)
