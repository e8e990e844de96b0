"""Tests of the bouncing-ball simulator: conservation laws, exact trajectories, box and overlap, validation."""

import dataclasses

import numpy as np
import pytest

from worldmodels.physics import (
    Trajectory,
    WorldConfig,
    apply_push,
    initial_state,
    kinetic_energy,
    momentum,
    random_actions,
    simulate,
    step,
)

TOL = 1e-9  # px: how far a ball may poke out of the box or into another ball (float64 rounding only)


def reflected(x0, v, t, low, high):
    """Analytic position of a point bouncing between low and high: unfold the motion onto a circle of
    length 2L, then fold it back."""
    length = high - low
    u = np.mod(x0 - low + v * t, 2 * length)
    return low + np.where(u <= length, u, 2 * length - u)


def pair_distances(positions):
    n = positions.shape[-2]
    i, j = np.triu_indices(n, k=1)
    return np.linalg.norm(positions[..., j, :] - positions[..., i, :], axis=-1)


# ----------------------------------------------------------------------------------------- conservation


@pytest.mark.parametrize("n_balls", [1, 3])
def test_kinetic_energy_conserved_over_1000_steps(n_balls):
    traj = simulate(WorldConfig(n_balls=n_balls), batch=32, n_frames=1001, seed=1)
    energy = kinetic_energy(traj.velocities)
    assert energy.shape == (32, 1001)
    drift = np.abs(energy / energy[:, :1] - 1).max()
    assert drift < 1e-9, f"relative energy drift {drift:.2e}"


def test_three_ball_runs_actually_collide():
    """The energy test above only means something if balls hit each other: count momentum changes."""
    traj = simulate(WorldConfig(n_balls=3), batch=32, n_frames=1001, seed=1)
    speeds = np.linalg.norm(traj.velocities, axis=-1)
    changed = np.abs(np.diff(speeds, axis=1)) > 1e-6  # walls never change a speed, collisions do
    assert changed.any(axis=(1, 2)).all(), "every sequence should see ball-ball collisions in 1000 frames"


def _two_ball_world():
    return WorldConfig(n_balls=2, radius=3.0, size=40, speed_ranges=((0.0, 4.0),), max_speed=4.0)


def test_head_on_collision_exchanges_velocities():
    world = _two_ball_world()
    p = np.array([[[10.0, 20.0], [20.0, 20.0]]])
    v = np.array([[[2.0, 0.0], [-1.0, 0.0]]])
    p1, v1 = step(p, v, world, dt=3.0)  # contact after (10 - 6) / 3 = 4/3 frames
    np.testing.assert_allclose(v1, [[[-1.0, 0.0], [2.0, 0.0]]], atol=1e-12)
    # analytic positions: contact at t* = 4/3, then each ball moves on with the other's velocity
    t_star = 4 / 3
    at_contact = np.array([10 + 2 * t_star, 20 - 1 * t_star])
    np.testing.assert_allclose(at_contact[1] - at_contact[0], 6.0)
    np.testing.assert_allclose(p1[0, :, 0], at_contact + np.array([-1.0, 2.0]) * (3 - t_star), atol=1e-12)
    np.testing.assert_allclose(momentum(v1), momentum(v), atol=1e-12)


def test_oblique_collision_conserves_momentum_and_energy():
    world = _two_ball_world()
    p = np.array([[[10.0, 20.0], [20.0, 22.0]]])  # offset by 2 px: the balls hit off-centre
    v = np.array([[[3.0, 0.5], [-1.0, -0.25]]])
    p1, v1 = step(p, v, world, dt=2.0)
    assert not np.allclose(v1, v), "the balls should have collided"
    assert not np.allclose(v1[0, 0], v[0, 1]), "an oblique hit does not simply swap velocities"
    np.testing.assert_allclose(momentum(v1), momentum(v), atol=1e-12)
    np.testing.assert_allclose(kinetic_energy(v1), kinetic_energy(v), rtol=1e-12)
    # after the hit the balls separate, and they touched: closest approach is exactly 2 r
    assert pair_distances(p1)[0, 0] > 6.0
    # the impulse is along the line of centres at contact: the tangential components are unchanged
    contact = _contact_normal(p[0], v[0], 3.0)
    tangent = np.array([-contact[1], contact[0]])
    np.testing.assert_allclose(v1[0] @ tangent, v[0] @ tangent, atol=1e-12)


def _contact_normal(p, v, r):
    dp, dv = p[1] - p[0], v[1] - v[0]
    a, h, c = dv @ dv, dp @ dv, dp @ dp - 4 * r * r
    t = (-h - np.sqrt(h * h - a * c)) / a
    n = dp + dv * t
    return n / np.linalg.norm(n)


def test_momentum_conserved_between_wall_hits():
    """With 3 balls momentum changes only at walls: check it is constant on steps without wall contact."""
    world = WorldConfig(n_balls=3)
    traj = simulate(world, batch=64, n_frames=200, seed=2)
    p, v = traj.positions, traj.velocities
    r, size = world.radius, world.size
    # a step touches no wall if no ball could reach one within the frame; no ball is ever faster than
    # sqrt(2 E) (E = total kinetic energy, unit masses), even after collisions within the step
    reach = np.sqrt(2 * kinetic_energy(v[:, :-1]))[..., None, None]
    free = ((p[:, :-1] - reach > r) & (p[:, :-1] + reach < size - r)).all(axis=(-1, -2))
    mom = momentum(v)
    ok = np.abs(mom[:, 1:] - mom[:, :-1]).max(axis=-1)[free]
    collided = np.abs(np.diff(v, axis=1)).max(axis=(-1, -2))[free] > 1e-6
    assert collided.sum() > 20, "the test needs wall-free steps that contain ball-ball collisions"
    assert ok.max() < 1e-12


# -------------------------------------------------------------------------------------- exact motion


def test_one_ball_matches_analytic_reflection():
    world = WorldConfig(speed_ranges=((1.0, 4.0),))
    traj = simulate(world, batch=64, n_frames=1000, seed=3)
    t = np.arange(1000)[None, :, None]
    x0, v0 = traj.positions[:, :1, 0], traj.velocities[:, :1, 0]  # (B, 1, 2)
    expected = reflected(x0, v0, t, world.radius, world.size - world.radius)
    err = np.abs(traj.positions[:, :, 0] - expected).max()
    assert err < 1e-9, f"max deviation from the analytic trajectory {err:.2e} px"


def test_one_long_step_equals_many_short_ones():
    """dt is arbitrary: one step of 37.3 frames bounces many times and still lands on the analytic path."""
    world = WorldConfig()
    p, v = initial_state(world, 16, np.random.default_rng(9))
    p1, _ = step(p, v, world, dt=37.3)
    expected = reflected(p, v, 37.3, world.radius, world.size - world.radius)
    np.testing.assert_allclose(p1, expected, atol=1e-9)


def test_fast_balls_do_not_tunnel_through_each_other():
    """At 10-15 px/frame balls move more than a diameter per frame; event-driven steps still catch every hit."""
    world = WorldConfig(n_balls=3, radius=3.0, speed_ranges=((10.0, 15.0),), max_speed=15.0)
    traj = simulate(world, 64, 200, seed=10)
    assert pair_distances(traj.positions).min() >= 2 * world.radius - TOL
    energy = kinetic_energy(traj.velocities)
    assert np.abs(energy / energy[:, :1] - 1).max() < 1e-9


def test_corner_hit_reflects_both_components():
    world = WorldConfig()
    p = np.array([[[27.0, 27.0]]])
    v = np.array([[[2.0, 2.0]]])  # reaches the corner (29, 29) exactly at t = 1
    p1, v1 = step(p, v, world, dt=1.5)
    np.testing.assert_allclose(v1, [[[-2.0, -2.0]]])
    np.testing.assert_allclose(p1, [[[28.0, 28.0]]], atol=1e-12)


def test_newtons_cradle_passes_the_velocity_down_the_row():
    """Three touching balls in a row: simultaneous contacts are resolved one after another at zero time."""
    world = WorldConfig(n_balls=3, radius=2.0, size=40, speed_ranges=((0.0, 2.0),))
    p = np.array([[[10.0, 20.0], [14.0, 20.0], [18.0, 20.0]]])
    v = np.array([[[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    p1, v1 = step(p, v, world, dt=1.0)
    np.testing.assert_allclose(v1, [[[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]], atol=1e-12)
    np.testing.assert_allclose(p1[0, :, 0], [10.0, 14.0, 19.0], atol=1e-12)


def test_ball_squeezed_against_a_wall():
    world = WorldConfig(n_balls=2, radius=3.0, size=40, speed_ranges=((0.0, 2.0),))
    p = np.array([[[3.0, 20.0], [9.0, 20.0]]])  # ball 0 touches the left wall and ball 1
    v = np.array([[[0.0, 0.0], [-1.0, 0.0]]])
    p1, v1 = step(p, v, world, dt=1.0)
    np.testing.assert_allclose(v1, [[[0.0, 0.0], [1.0, 0.0]]], atol=1e-12)
    np.testing.assert_allclose(p1[0, :, 0], [3.0, 10.0], atol=1e-12)


def test_step_does_not_modify_inputs_and_keeps_batch_shape():
    world = WorldConfig(n_balls=3)
    p, v = initial_state(world, 8, np.random.default_rng(0))
    p0, v0 = p.copy(), v.copy()
    p1, v1 = step(p.reshape(2, 4, 3, 2), v.reshape(2, 4, 3, 2), world)
    assert p1.shape == (2, 4, 3, 2) and v1.shape == (2, 4, 3, 2)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_array_equal(v, v0)
    p2, v2 = step(p, v, world)
    np.testing.assert_array_equal(p1.reshape(8, 3, 2), p2)


@pytest.mark.parametrize("n_balls", [1, 3, 5])
def test_balls_stay_in_box_and_never_overlap(n_balls):
    world = WorldConfig(n_balls=n_balls, speed_ranges=((2.0, 4.0),))
    traj = simulate(world, batch=64, n_frames=300, seed=4, actions=random_actions(64, 300, np.random.default_rng(5)))
    p = traj.positions
    assert p.min() >= world.radius - TOL and p.max() <= world.size - world.radius + TOL
    if n_balls > 1:
        assert pair_distances(p).min() >= 2 * world.radius - TOL


def test_initial_state_is_valid_and_uses_speed_ranges():
    world = WorldConfig(n_balls=3, speed_ranges=((0.5, 1.0), (3.0, 3.5)))
    p, v = initial_state(world, 4000, np.random.default_rng(0))
    assert p.shape == v.shape == (4000, 3, 2)
    assert p.min() > world.radius and p.max() < world.size - world.radius
    assert pair_distances(p).min() > 2 * world.radius
    speed = np.linalg.norm(v, axis=-1)
    inside = ((speed >= 0.5) & (speed <= 1.0)) | ((speed >= 3.0) & (speed <= 3.5))
    assert inside.all(), "speeds must come from the union of the ranges"
    # equal widths -> about half the speeds in each band; directions cover all quadrants
    assert 0.45 < (speed < 2).mean() < 0.55
    assert len(np.unique(np.sign(v).reshape(-1, 2), axis=0)) == 4


def test_speeds_uniform_over_overlapping_and_point_ranges():
    rng = np.random.default_rng(0)
    overlapping = WorldConfig(speed_ranges=((1.0, 3.0), (2.0, 4.0)))  # union [1, 4]: uniform, not doubled
    speed = np.linalg.norm(initial_state(overlapping, 20000, rng)[1], axis=-1)
    counts = np.histogram(speed, bins=3, range=(1, 4))[0] / speed.size
    np.testing.assert_allclose(counts, 1 / 3, atol=0.02)
    points = WorldConfig(speed_ranges=((2.0, 2.0), (3.0, 3.0)))
    speed = np.linalg.norm(initial_state(points, 1000, rng)[1], axis=-1)
    np.testing.assert_allclose(np.sort(np.unique(speed.round(9))), [2.0, 3.0])


# --------------------------------------------------------------------------------------------- actions


def test_pushes_respect_max_speed():
    world = WorldConfig(max_speed=4.0)
    v = np.array([[[3.0, 0.0]], [[0.0, -1.0]], [[0.0, 0.0]]])
    push = np.array([[5.0, 0.0], [0.5, 0.0], [0.0, 0.0]])
    v1 = apply_push(v, push, world)
    np.testing.assert_allclose(v1, [[[4.0, 0.0]], [[0.5, -1.0]], [[0.0, 0.0]]], atol=1e-12)
    np.testing.assert_array_equal(v, [[[3.0, 0.0]], [[0.0, -1.0]], [[0.0, 0.0]]])  # input untouched


def test_pushed_simulation_never_exceeds_max_speed_and_only_pushes_ball_0():
    world = WorldConfig(max_speed=3.5)
    actions = random_actions(128, 100, np.random.default_rng(0), push_prob=0.5, push_size=2.0)
    traj = simulate(world, 128, 100, seed=0, actions=actions)
    assert np.linalg.norm(traj.velocities, axis=-1).max() <= 3.5 + 1e-12
    np.testing.assert_array_equal(traj.actions, actions)
    free = simulate(world, 128, 100, seed=0)
    assert not np.allclose(free.positions, traj.positions), "pushes should change the motion"
    np.testing.assert_array_equal(free.positions[:, 0], traj.positions[:, 0])  # same start


def test_zero_push_changes_nothing_even_above_max_speed():
    world = WorldConfig(n_balls=3)
    traj = simulate(world, 64, 200, seed=6)
    again = simulate(world, 64, 200, seed=6, actions=np.zeros((64, 200, 2)))
    np.testing.assert_array_equal(traj.positions, again.positions)


def test_random_actions_are_sparse_and_bounded():
    a = random_actions(200, 50, np.random.default_rng(0), push_prob=0.3, push_size=1.0)
    assert a.shape == (200, 50, 2)
    pushed = np.linalg.norm(a, axis=-1) > 0
    assert 0.25 < pushed.mean() < 0.35
    assert np.linalg.norm(a, axis=-1).max() <= 1.0


# ---------------------------------------------------------------------------------------- determinism


def test_same_seed_same_data_different_seed_different_data():
    world = WorldConfig(n_balls=3)
    a = simulate(world, 16, 20, seed=7)
    b = simulate(world, 16, 20, seed=7)
    c = simulate(world, 16, 20, seed=8)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.velocities, b.velocities)
    assert not np.allclose(a.positions, c.positions)
    d = simulate(world, 16, 20, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.positions, d.positions)


def test_trajectory_layout():
    traj = simulate(WorldConfig(n_balls=2), 5, 7, seed=0)
    assert isinstance(traj, Trajectory) and len(traj) == 5
    assert traj.positions.shape == traj.velocities.shape == (5, 7, 2, 2)
    assert traj.actions.shape == (5, 7, 2) and not traj.actions.any()
    assert traj.positions.dtype == np.float64
    assert kinetic_energy(traj.velocities).shape == (5, 7)
    assert momentum(traj.velocities).shape == (5, 7, 2)
    # init reproduces a run from its first frame
    again = simulate(traj.config, 5, 7, init=(traj.positions[:, 0], traj.velocities[:, 0]))
    np.testing.assert_array_equal(again.positions, traj.positions)


# ---------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(radius=0.0), "radius must be"),
        (dict(radius=-1.0), "radius must be"),
        (dict(radius=float("nan")), "radius must be"),
        (dict(radius=16.0), "does not fit"),
        (dict(n_balls=20), "do not fit"),
        (dict(n_balls=0), "n_balls"),
        (dict(size=0), "size"),
        (dict(speed_ranges=((float("nan"), 3.0),)), "finite"),
        (dict(speed_ranges=((-1.0, 3.0),)), "0 <= low <= high"),
        (dict(speed_ranges=((3.0, 2.0),)), "0 <= low <= high"),
        (dict(speed_ranges=()), "non-empty"),
        (dict(speed_ranges=((2.0, 3.0, 4.0),)), "(low, high)"),
        (dict(max_speed=-1.0), "max_speed"),
        (dict(max_speed=2.5), "raise max_speed"),
    ],
)
def test_bad_world_raises_helpful_error(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        WorldConfig(**kwargs)


def test_bad_simulation_arguments_raise():
    world = WorldConfig()
    with pytest.raises(ValueError, match=r"actions must have shape \(batch, n_frames, 2\)"):
        simulate(world, 4, 10, seed=0, actions=np.zeros((4, 9, 2)))
    with pytest.raises(ValueError, match="finite"):
        simulate(world, 1, 3, seed=0, actions=np.array([[[0, 0], [np.nan, 0], [0, 0]]]))
    with pytest.raises(ValueError, match="batch"):
        simulate(world, 0, 10, seed=0)
    with pytest.raises(ValueError, match="n_frames"):
        simulate(world, 2, 2.5, seed=0)
    with pytest.raises(ValueError, match="either seed or rng"):
        simulate(world, 2, 2, seed=0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="inside the box"):
        simulate(world, 1, 2, init=(np.array([[[1.0, 10.0]]]), np.zeros((1, 1, 2))))
    with pytest.raises(ValueError, match="overlap"):
        two = dataclasses.replace(world, n_balls=2)
        simulate(two, 1, 2, init=(np.array([[[10.0, 10.0], [12.0, 10.0]]]), np.zeros((1, 2, 2))))
    with pytest.raises(ValueError, match="shape"):
        step(np.zeros((3, 2, 2)), np.zeros((3, 2, 2)), world)
    with pytest.raises(ValueError, match="push must have shape"):
        apply_push(np.zeros((3, 1, 2)), np.zeros((3, 3)), world)
    with pytest.raises(ValueError, match="dt"):
        step(np.full((1, 1, 2), 10.0), np.zeros((1, 1, 2)), world, dt=-1)
