"""Grading tests of chapter 1's exercises (solutions/01_what_is_a_world_model.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs
whose answers are computed by hand in the comments.
"""

import numpy as np

from worldmodels.grading import exercise_test
from worldmodels.physics import WorldConfig, simulate
from worldmodels.render import render


# The tests hand the learner's functions only plain data (numbers, arrays): the grader runs them in its own
# process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True


def _pair(result, what):
    assert isinstance(result, (tuple, list)) and len(result) == 2, (
        f"expected {what} to return a pair (x_new, v_new), got {result!r}"
    )
    x, v = (float(np.asarray(r)) for r in result)
    assert np.isfinite(x) and np.isfinite(v), f"expected finite numbers, got ({x}, {v})"
    return x, v


# ex1.1 reflect(x, v, radius, size): one step of one ball in 1D between walls at 0 and size.


@exercise_test("ex1.1", points=1, hint="Away from the walls the ball just moves: x + v, and v is unchanged.")
def reflect_moves_freely(ns):
    x, v = _pair(ns["reflect"](10.0, 2.5, 3.0, 32.0), "reflect(10.0, 2.5, 3.0, 32.0)")
    assert np.isclose(x, 12.5) and np.isclose(v, 2.5), f"expected (12.5, 2.5), got ({x}, {v})"


@exercise_test("ex1.1", points=1, hint="The centre may go up to size - radius; mirror the overshoot and flip v.")
def reflect_bounces_off_right_wall(ns):
    # 28 + 2.5 = 30.5 overshoots the limit 32 - 3 = 29 by 1.5, so the ball ends at 29 - 1.5 = 27.5.
    x, v = _pair(ns["reflect"](28.0, 2.5, 3.0, 32.0), "reflect(28.0, 2.5, 3.0, 32.0)")
    assert np.isclose(x, 27.5) and np.isclose(v, -2.5), f"expected (27.5, -2.5), got ({x}, {v})"


@exercise_test("ex1.1", points=1, hint="The centre may not go below radius; mirror the overshoot and flip v.")
def reflect_bounces_off_left_wall(ns):
    # 4 - 2.5 = 1.5 is 1.5 below the limit 3, so the ball ends at 3 + 1.5 = 4.5; the size matters not.
    x, v = _pair(ns["reflect"](4.0, -2.5, 3.0, 20.0), "reflect(4.0, -2.5, 3.0, 20.0)")
    assert np.isclose(x, 4.5) and np.isclose(v, 2.5), f"expected (4.5, 2.5), got ({x}, {v})"


@exercise_test("ex1.1", points=1, hint="Apply the same rule to x and to y: each axis bounces independently.")
def reflect_reproduces_the_simulator(ns):
    traj = simulate(WorldConfig(), batch=2, n_frames=40, seed=1)  # one ball, radius 3, 32 px box
    p, v = traj.positions[:, 0, 0].copy(), traj.velocities[:, 0, 0].copy()  # (B, 2) at frame 0
    for t in range(1, 40):
        for b in range(2):
            for axis in range(2):
                p[b, axis], v[b, axis] = _pair(ns["reflect"](p[b, axis], v[b, axis], 3.0, 32.0), "reflect")
        error = np.abs(p - traj.positions[:, t, 0]).max()
        assert error < 1e-6, f"expected the simulator's positions, got an error of {error:.3g} px at frame {t}"


# ex1.2 kinetic_energy(velocities): (B, T, N, 2) -> (B, T), unit masses, summed over the balls.


@exercise_test("ex1.2", points=1, hint="E = 0.5 * (vx**2 + vy**2) for each ball; keep the batch and time axes.")
def kinetic_energy_of_one_ball(ns):
    v = np.array([[[[3.0, 4.0]], [[1.0, 0.0]], [[0.0, -2.0]]]])  # (B=1, T=3, N=1, 2)
    energy = np.asarray(ns["kinetic_energy"](v.copy()))
    assert energy.shape == (1, 3), f"expected shape (1, 3) for velocities of shape (1, 3, 1, 2), got {energy.shape}"
    assert energy.dtype.kind == "f", f"expected a floating-point array, got dtype {energy.dtype}"
    assert np.allclose(energy, [[12.5, 0.5, 2.0]]), f"expected [[12.5, 0.5, 2.0]], got {energy.tolist()}"


@exercise_test("ex1.2", points=1, hint="Sum over the ball axis too, and raise ValueError when the last axis is not 2.")
def kinetic_energy_sums_balls_and_checks_shape(ns):
    v = np.ones((2, 4, 3, 2))  # each ball: 0.5 * (1 + 1) = 1, three balls -> 3
    energy = np.asarray(ns["kinetic_energy"](v))
    assert energy.shape == (2, 4), f"expected shape (2, 4) for velocities of shape (2, 4, 3, 2), got {energy.shape}"
    assert energy.dtype.kind == "f", f"expected a floating-point array, got dtype {energy.dtype}"
    assert np.allclose(energy, 3.0), f"expected 3.0 everywhere (3 balls of energy 1), got {np.unique(energy)}"
    try:
        ns["kinetic_energy"](np.ones((2, 4, 3)))
    except ValueError:
        return
    raise AssertionError("expected a ValueError for velocities of shape (2, 4, 3) (last axis must be 2), got none")


@exercise_test("ex1.2", points=1, hint="Energy is conserved by elastic bounces: sum 0.5 (vx^2 + vy^2) over the balls of each frame.")
def kinetic_energy_matches_the_simulator(ns):
    traj = simulate(WorldConfig(n_balls=3), batch=2, n_frames=6, seed=2)
    energy = np.asarray(ns["kinetic_energy"](traj.velocities))
    expected = 0.5 * (traj.velocities.astype(np.float64) ** 2).sum(axis=(-2, -1))  # (2, 6), by the definition
    assert energy.shape == expected.shape, f"expected shape {expected.shape}, got {energy.shape}"
    assert energy.dtype.kind == "f", f"expected a floating-point array, got dtype {energy.dtype}"
    assert np.allclose(energy, expected), f"expected {expected[0].round(3).tolist()}, got {energy[0].round(3).tolist()}"


# ex1.3 ink_radius(frame): the radius sqrt(ink / pi) of a disc whose area is the frame's total intensity.


def _radius(result, what):
    r = np.asarray(result, dtype=float)
    assert r.shape == (), f"expected {what} to return one number, got shape {r.shape}"
    assert np.isfinite(r), f"expected a finite radius, got {float(r)}"
    return float(r)


@exercise_test("ex1.3", points=1, hint="The ink is the sum of all intensities; the radius of a disc of area A is sqrt(A / pi).")
def radius_of_one_pixel(ns):
    frame = np.zeros((4, 6), dtype=np.float32)
    frame[1, 4] = 1.0  # ink 1 -> sqrt(1 / pi) = 0.5642
    r = _radius(ns["ink_radius"](frame), "ink_radius")
    assert np.isclose(r, 0.5641895835), f"expected sqrt(1 / pi) = 0.5642 for one inked pixel, got {r:.4f}"


@exercise_test("ex1.3", points=1, hint="Every pixel counts by its grey level: half-lit pixels add half their area.")
def radius_weighs_grey_levels(ns):
    frame = np.zeros((5, 5), dtype=np.float32)
    frame[0, 0], frame[4, 2], frame[2, 2] = 0.25, 0.75, 2 * np.pi - 1.0  # ink 2 pi -> sqrt(2) = 1.4142
    r = _radius(ns["ink_radius"](frame), "ink_radius")
    assert np.isclose(r, np.sqrt(2.0), rtol=1e-6), f"expected sqrt(2) = 1.4142 for an ink of 2 pi, got {r:.4f}"
    frame = np.full((4, 8), 0.5, dtype=np.float32)  # ink 16 -> 4 / sqrt(pi) = 2.2568
    r = _radius(ns["ink_radius"](frame), "ink_radius")
    assert np.isclose(r, 4 / np.sqrt(np.pi), rtol=1e-6), f"expected 4 / sqrt(pi) = 2.2568 for a 4 x 8 frame at 0.5, got {r:.4f}"


@exercise_test("ex1.3", points=1, hint="Raise ValueError for a frame that is not (H, W) and for one whose intensities sum to 0 or less.")
def radius_rejects_bad_frames(ns):
    for frame, why in ((np.zeros((4, 4), dtype=np.float32), "an all-zero frame has no ink"),
                       (np.ones((2, 4, 4), dtype=np.float32), "a (2, 4, 4) array is not one (H, W) frame")):
        try:
            result = ns["ink_radius"](frame)
        except ValueError:
            continue
        raise AssertionError(f"expected a ValueError ({why}), got {result!r}")


@exercise_test("ex1.3", points=1, hint="Sum every pixel, the anti-aliased rim included, not only the fully lit ones.")
def radius_of_rendered_balls(ns):
    # the renderer's rim adds pi / 12 to the disc's area: sqrt(r^2 + 1 / 12), so 3.014 for r = 3
    for radius, centre in ((3.0, [10.3, 20.7]), (4.5, [16.0, 15.2]), (2.0, [6.6, 25.1])):
        frame = render(np.array([centre]), radius=radius, size=32)  # (32, 32)
        expected = float(np.sqrt(frame.sum(dtype=np.float64) / np.pi))
        r = _radius(ns["ink_radius"](frame), "ink_radius")
        assert np.isclose(r, expected, rtol=1e-5), (
            f"expected {expected:.4f} for a ball of radius {radius} rendered at {centre}, got {r:.4f}")


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "ex1.1": (
        "worldmodels.geometry.reflect",
        "worldmodels.geometry.wall_step",
    ),
    "ex1.2": ("worldmodels.physics.kinetic_energy",),
    "ex1.3": (),  # no package function reads a radius from the ink (centroids reads the position, a tool)
}
