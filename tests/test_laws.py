import numpy as np
import pytest

from worldmodels import laws
from worldmodels.data import CANONICAL, make_split
from worldmodels.laws import (CLIP_TOLERANCES, LAWS, PASS_CURVE, ball_reference, bounce_angles, clip_violations, displacements,
                              free_flight_mask, free_flight_speed, law_pass, law_pass_curve, lawful, strict_tolerance)
from worldmodels.physics import WorldConfig
from worldmodels.render import render


def test_a_bounce_that_is_not_a_mirror_is_caught():
    # in along (+2, +1), out along (-2, +2): the angle to the wall normal changes from 26.6 to 45 degrees
    before = np.array([[10 + 2 * i, 10 + i] for i in range(6)], dtype=float)
    after = before[-1] + np.array([[-2 * i, 2 * i] for i in range(1, 7)], dtype=float)
    d = displacements(np.concatenate([before, after])[None])
    seqs, angle_in, angle_out = bounce_angles(d)
    assert len(seqs) == 1
    assert angle_in[0] == pytest.approx(26.565, abs=1e-3) and angle_out[0] == pytest.approx(45.0)
    mirror = before[-1] + np.array([[-2 * i, i] for i in range(1, 7)], dtype=float)
    _, a_in, a_out = bounce_angles(displacements(np.concatenate([before, mirror])[None]))
    assert a_in[0] == pytest.approx(a_out[0])


def test_free_flight_excludes_steps_next_to_a_bounce():
    d = np.array([[[1, 1], [1, 1], [-1, 1], [-1, 1], [-1, 1]]], dtype=float)  # a bounce between steps 1 and 2
    assert free_flight_mask(d).tolist() == [[False, False, False, True, False]]


def test_free_flight_speed_ignores_the_steps_next_to_a_bounce():
    positions = np.cumsum(np.array([[[0, 0], [1, 1], [1, 1], [-1, 1], [-1, 1], [-1, 1], [-1, 1]]], dtype=float), axis=1)
    assert free_flight_speed(positions) == pytest.approx([np.sqrt(2)])
    assert np.isnan(free_flight_speed(positions[:, :3]))[0]  # no step qualifies


@pytest.fixture(scope="module")
def real_clips():
    return make_split("test", 64, 20, CANONICAL, with_actions=False, seed=0).frames


def test_real_clips_keep_every_law_within_its_tolerance(real_clips):
    v = clip_violations(real_clips)
    assert tuple(v) == LAWS and all(x.shape == (64,) for x in v.values())
    assert lawful(v).all()  # the yardstick: real clips pass
    assert v["mass"].max() < 0.021 and v["size"].max() < 0.025  # the anti-aliased ball's ink varies by up to 2 %
    curve = law_pass_curve(real_clips)
    assert list(curve) == list(PASS_CURVE) and curve[max(PASS_CURVE)] == 1.0
    assert strict_tolerance(curve) <= 0.03


def test_the_ball_reference_comes_from_the_world():
    ink, spread = ball_reference(CANONICAL)
    assert ink == laws.BALL_INK == pytest.approx(np.pi * 3.0**2, rel=0.01)
    big, _ = ball_reference(WorldConfig(radius=5.0, size=40))
    assert big == pytest.approx(np.pi * 25, rel=0.01) and spread == pytest.approx(3.0 / np.sqrt(2), rel=0.1)


def test_a_turning_a_speeding_and_a_fading_ball_break_their_laws():
    t = np.arange(16.0)[:, None]
    steady = 8 + 0.9 * t * np.array([1.0, 1.0])
    turning = np.concatenate([steady[:8], steady[7] + t[1:9] * np.array([1.2, 0.4])])  # turns from 45 to 18.4 degrees
    speeding = 8 + np.where(t < 8, 0.6 * t, 4.8 + 1.2 * (t - 8)) * np.ones(2)
    clips = render(np.stack([steady, turning, speeding])[:, :, None], CANONICAL.radius, CANONICAL.size).astype(np.float64)
    faded = clips[:1] * 0.8
    v = clip_violations(np.concatenate([clips, faded]))
    assert lawful(v).tolist() == [True, False, False, False]
    assert v["direction_deg"][1] == pytest.approx(26.6, abs=2) and v["speed"][2] > 0.5 and v["mass"][3] == pytest.approx(0.2, abs=0.02)
    assert law_pass(v, 0.3).tolist() == [True, True, False, True]  # chapter 9's three laws: speed, bounce, mass
    assert law_pass(v, 0.2, laws=("direction_deg",)).tolist() == [True, False, True, True]  # 27 deg > 0.2 x 90 deg


def test_a_clip_with_no_trusted_step_is_no_evidence_and_bad_shapes_raise():
    x = 5 + 2.0 * np.arange(12.0)
    y = 16 + 0.01 * (-1.0) ** np.arange(12)  # along x, jittering across y: the sign test trusts no step
    clip = render(np.stack([x, y], -1)[None, :, None], CANONICAL.radius, CANONICAL.size)
    v = clip_violations(clip)
    assert v["speed"][0] == 0 and v["direction_deg"][0] == 0 and v["bounce_deg"][0] == 0
    with pytest.raises(ValueError, match="T >= 4"):
        clip_violations(np.zeros((2, 3, 32, 32)))
    with pytest.raises(ValueError, match="32 x 32"):
        clip_violations(np.zeros((2, 5, 16, 16)))
    with pytest.raises(ValueError, match="no tolerance"):
        strict_tolerance({0.01: 0.5, 0.02: 0.9})
