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


def test_a_shift_or_a_crop_hides_the_mark_from_the_aligned_reader_but_not_from_the_search():
    from worldmodels import testbed
    from worldmodels.data import CANONICAL, make_split

    clean = make_split("test", 200, 12, CANONICAL, seed=5).frames
    marked = wm.embed(clean, 11)
    shifted = testbed.post_process(marked, "shift 1 px")
    assert wm.detect(shifted, 11).mean() < 0.05  # read where the key put it, the shifted mark is gone
    for attack in testbed.GEOMETRIC:
        attacked, unmarked = testbed.post_process(marked, attack, seed=2), testbed.post_process(clean, attack, seed=2)
        assert wm.detect(attacked, 11, max_shift=1, size=32).mean() > 0.95
        assert wm.detect(unmarked, 11, max_shift=1, size=32).mean() <= 0.03  # the search's threshold keeps 1 %


def test_the_search_threshold_and_offsets():
    assert wm.threshold(0.01, 9) > wm.threshold(0.01)
    assert len(wm.offsets((32, 32), 32, 1)) == 9 and len(wm.offsets((28, 28), 32, 0)) == 25
    with pytest.raises(ValueError, match="tries"):
        wm.threshold(0.01, 0)
    with pytest.raises(ValueError, match="max_shift"):
        wm.offsets((32, 32), 32, -1)
    with pytest.raises(ValueError, match="do not fit"):
        wm.score(np.zeros((1, 2, 40, 40)), 1, size=32)
