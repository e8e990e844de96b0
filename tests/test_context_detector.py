"""Chapter 10's context-aware detector (detection.context_score) and the "wrong world" clips of the test bed."""

import numpy as np
import pytest

from worldmodels import detection as det
from worldmodels import stats, testbed

CONFIG = testbed.TestBedConfig(n_clips=64)


@pytest.fixture(scope="module")
def bed():
    videos = testbed.real_videos("test", CONFIG)
    return videos, videos.frames[:, : CONFIG.context], testbed.real_clips(videos, CONFIG)


def test_real_clips_continue_their_start(bed):
    _, context, real = bed
    terms = det.context_terms(context, real)
    for name, tolerance in det.CONTEXT_TOLERANCES.items():
        assert terms[name].max() < tolerance, f"a real clip breaks {name}: {terms[name].max():.3f}"


def test_wrong_worlds_obey_the_laws_but_not_their_start(bed):
    videos, context, real = bed
    clips = testbed.wrong_world_clips(videos, CONFIG)
    assert set(clips) == {"1.3 x the speed", "0.7 x the speed", "a larger ball", "played backwards", "frozen",
                          "naive oracle"}
    physics_real, context_real = det.physics_score(real), det.context_score(context, real)
    # the clip-only detector rates the faster world as more real than real, and cannot see a reversal
    assert stats.auc(physics_real, det.physics_score(clips["1.3 x the speed"])) < 0.5
    assert stats.auc(physics_real, det.physics_score(clips["played backwards"])) == pytest.approx(0.5, abs=0.1)
    for name in ("1.3 x the speed", "0.7 x the speed", "a larger ball", "played backwards", "frozen"):
        assert stats.auc(context_real, det.context_score(context, clips[name])) > 0.99, name
    terms = det.context_terms(context, clips["1.3 x the speed"])
    assert np.median(terms["speed"]) == pytest.approx(0.3, abs=0.02)


def test_bad_input(bed):
    _, context, real = bed
    with pytest.raises(ValueError, match="same number"):
        det.context_score(context[:3], real[:4])
    with pytest.raises(ValueError, match="255"):
        det.context_score((context * 255).astype(np.uint8), real)
    with pytest.raises(ValueError, match="speed"):
        testbed.noisy_simulator(0.0, speed=-1.0)
