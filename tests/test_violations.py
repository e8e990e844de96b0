import numpy as np
import pytest

from worldmodels.data import CANONICAL
from worldmodels.laws import CLIP_TOLERANCES, clip_violations, lawful
from worldmodels.violations import KINDS, violation_clips

N, LENGTH, ONSET = 24, 20, 8
LO, HI = CANONICAL.radius, CANONICAL.size - CANONICAL.radius


@pytest.fixture(scope="module")
def clips():
    return {kind: violation_clips(kind, N, LENGTH, ONSET, seed=1) for kind in KINDS}


def steps_of(c):
    return np.diff(c.positions, axis=1)  # (B, T-1, 2)


def inside(c):
    return ((c.positions >= LO - 1e-9) & (c.positions <= HI + 1e-9)).all(-1)


def test_shapes_and_determinism(clips):
    for kind, c in clips.items():
        assert c.frames.shape == (N, LENGTH, 32, 32) and c.positions.shape == (N, LENGTH, 2)
        assert c.visible.shape == (N, LENGTH) and c.event.shape == (N,)
        assert ((c.event >= ONSET) & (c.event < LENGTH)).all(), kind
    again = violation_clips("teleport", N, LENGTH, ONSET, seed=1)
    np.testing.assert_array_equal(again.frames, clips["teleport"].frames)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="kind"):
        violation_clips("explode", 2)
    with pytest.raises(ValueError, match="onset"):
        violation_clips("teleport", 2, length=10, onset=9)
    with pytest.raises(ValueError, match="speed_factor"):
        violation_clips("speed_change", 2, speed_factor=1.0)


def test_lawful_clips_keep_every_law(clips):
    c = clips["lawful"]
    assert c.visible.all() and inside(c).all()
    speed = np.linalg.norm(c.velocities, axis=-1)
    np.testing.assert_allclose(speed, np.broadcast_to(speed[:, :1], speed.shape), rtol=1e-9)
    assert lawful(clip_violations(c.frames)).mean() >= 0.9  # the frame-level laws (centroid decoding is noisy)


def test_teleport_breaks_continuity_only(clips):
    c = clips["teleport"]
    gap = np.linalg.norm(c.positions[np.arange(N), c.event] - c.positions[np.arange(N), c.event - 1]
                         - c.velocities[np.arange(N), c.event - 1], axis=-1)
    assert (gap >= 8.0 - 3.5).all()  # a jump, not a step (the step may bounce, at most a speed away)
    speed = np.linalg.norm(c.velocities, axis=-1)
    np.testing.assert_allclose(speed, np.broadcast_to(speed[:, :1], speed.shape), rtol=1e-9)  # same speed throughout
    assert c.visible.all() and inside(c).all()


def test_vanish_hides_the_ball_and_nothing_else(clips):
    c = clips["vanish"]
    after = np.arange(LENGTH)[None] >= c.event[:, None]
    assert (c.visible == ~after).all()
    assert (c.frames.reshape(N, LENGTH, -1).max(-1)[after] == 0).all()
    assert (c.frames.reshape(N, LENGTH, -1).max(-1)[~after] > 0.5).all()
    speed = np.linalg.norm(c.velocities, axis=-1)
    np.testing.assert_allclose(speed, np.broadcast_to(speed[:, :1], speed.shape), rtol=1e-9)  # it keeps moving lawfully, unseen
    assert inside(c).all()


def test_through_wall_ignores_one_wall_only(clips):
    c = clips["through_wall"]
    v = c.velocities
    for i in range(N):
        e = c.event[i]
        np.testing.assert_allclose(v[i, e - 1 :], np.broadcast_to(v[i, e - 1], v[i, e - 1 :].shape))  # no reflection from the wall on
        assert not inside(c)[i, e:].all()  # it leaves the box
        assert inside(c)[i, :e].all()  # before: inside, bouncing lawfully
    speed = np.linalg.norm(v, axis=-1)
    np.testing.assert_allclose(speed, np.broadcast_to(speed[:, :1], speed.shape), rtol=1e-9)


def test_speed_change_keeps_the_direction(clips):
    c = clips["speed_change"]
    speed = np.linalg.norm(c.velocities, axis=-1)
    rows = np.arange(N)
    np.testing.assert_allclose(speed[rows, c.event] / speed[rows, c.event - 1], 0.5)
    np.testing.assert_allclose(speed[:, ONSET:], np.broadcast_to(speed[:, ONSET:ONSET + 1], speed[:, ONSET:].shape), rtol=1e-9)
    d = c.velocities[rows, c.event] / speed[rows, c.event, None]
    d0 = c.velocities[rows, c.event - 1] / speed[rows, c.event - 1, None]
    np.testing.assert_allclose(np.abs(d), np.abs(d0), atol=1e-9)  # same direction at the change (up to a lawful bounce)
    assert c.visible.all() and inside(c).all()
    found = clip_violations(c.frames)
    assert (found["speed"] > CLIP_TOLERANCES["speed"]).mean() >= 0.9


def test_wrong_bounce_turns_once_at_the_same_speed(clips):
    c = clips["wrong_bounce"]
    speed = np.linalg.norm(c.velocities, axis=-1)
    np.testing.assert_allclose(speed, np.broadcast_to(speed[:, :1], speed.shape), rtol=1e-9)
    rows = np.arange(N)
    before, after = c.velocities[rows, c.event - 1], c.velocities[rows, c.event]
    free = c.positions[rows, c.event - 1] + before
    wall = (free < LO) | (free > HI)  # the axis of the wall it met
    assert (wall.sum(-1) == 1).all()
    mirror = np.where(wall, -before, before)  # the wall's mirror of the incoming velocity
    cos = (mirror * after).sum(-1) / speed[rows, c.event] ** 2
    np.testing.assert_allclose(np.degrees(np.arccos(np.clip(cos, -1, 1))), 40.0, atol=1e-6)
    assert c.visible.all() and inside(c).all()
