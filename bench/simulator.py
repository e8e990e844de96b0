"""Benchmark of the bouncing-ball world: exact simulation (ball-steps/s) and rendering (32x32 frames/s).

Run: .venv/bin/python bench/simulator.py [--quick]. The last line printed is one JSON object.
Targets on 2 CPU cores: >= 1,000,000 ball-steps/s and >= 20,000 frames/s.
"""

import argparse
import json
import time

import numpy as np

from worldmodels.centroid import centroids
from worldmodels.data import CANONICAL, THREE_BALLS
from worldmodels.physics import kinetic_energy, simulate
from worldmodels.render import render
from worldmodels.repro import seed_everything


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 10x smaller run, for a smoke test")
    args = parser.parse_args()
    seed_everything(0)
    scale = 10 if args.quick else 1
    batch, n_frames = 20_000 // scale, 50
    results = {}

    # exact simulation: 1 ball (walls only) and 3 balls (walls and ball-ball collisions)
    steps = {}
    for name, world, b in (("1_ball", CANONICAL, batch), ("3_balls", THREE_BALLS, batch // 4)):
        traj, seconds = timed(lambda: simulate(world, b, n_frames, seed=0))
        ball_steps = b * (n_frames - 1) * world.n_balls
        energy = kinetic_energy(traj.velocities)
        results[f"ball_steps_per_s_{name}"] = round(ball_steps / seconds)
        results[f"energy_drift_{name}"] = float(np.abs(energy / energy[:, :1] - 1).max())
        steps[name] = (ball_steps, seconds, traj)
    total_steps = sum(s for s, _, _ in steps.values())
    total_seconds = sum(t for _, t, _ in steps.values())
    results["ball_steps_per_s"] = round(total_steps / total_seconds)

    # rendering 32x32 frames of the 1-ball run, in chunks so that memory stays small
    positions = steps["1_ball"][2].positions.reshape(-1, 1, 2)[: 200_000 // scale]
    chunk = 25_000 // scale
    seconds = 0.0
    for start in range(0, len(positions), chunk):
        frames, t = timed(lambda: render(positions[start : start + chunk], CANONICAL.radius, CANONICAL.size))
        seconds += t
    results["frames_per_s"] = round(len(positions) / seconds)
    three = steps["3_balls"][2].positions.reshape(-1, 3, 2)[: 50_000 // scale]
    frames3, t = timed(lambda: render(three, THREE_BALLS.radius, THREE_BALLS.size))
    results["frames_per_s_3_balls"] = round(len(three) / t)

    # centroid extraction (frames back to positions), the evaluation path of later chapters
    est, t = timed(lambda: centroids(frames))
    results["centroid_frames_per_s_1_ball"] = round(len(frames) / t)
    results["centroid_max_error_px_1_ball"] = float(np.abs(est - positions[-len(frames):]).max())
    est3, t = timed(lambda: centroids(frames3[:10_000], n_balls=3))
    results["centroid_frames_per_s_3_balls"] = round(len(est3) / t)

    results.update(batch=batch, n_frames=n_frames, quick=args.quick)
    for key, value in results.items():
        print(f"{key:32s} {value}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
