"""Benchmark of chapter 8: deciding in imagination with the chapter-5 world model.

    python bench/planning.py           # measure, print one JSON object as the last line
    python bench/planning.py --save    # ... and record it in worldmodels/checkpoints/planning_results.json

The task is worldmodels.planning.ReachTask (the ball must cover a target point 10 pushes later). Its
parameters were chosen on the start states of seed 1; the benchmark measures on fresh start states
(seed 2). Keys:
  success:  per planner model (simulator = CEM with the true simulator, learned = CEM with the world
            model, learned_random_shooting, random = random pushes, none = no pushes): rate, ci95
            (Wilson), mean push energy, mean final distance.
  gap:      simulator - learned success, with a 95 % interval from the paired differences.
  cost:     mean push energy per planner.
  decision_ms: one planning decision (first step, horizon 10, one episode), median of 30, with the threads
            and the load average at the time (timings on a shared machine are inflated).
  rank_correlation: Spearman between imagined and real mean returns of the candidate policies.
  synthetic: downstream future-position error (px, k-nearest neighbours, 10 frames ahead) on real test
            data for each amount of real data, trained on real, imagined (4096 real starts) or both data;
            "canonical": the world the model was trained on, "faster": balls of 4-5 px/frame, outside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from worldmodels import registry
from worldmodels.data import CANONICAL, ood_world
from worldmodels.imagined_experience import CANDIDATE_POLICIES, policy_return, synthetic_data_experiment
from worldmodels.planning import ReachTask, cem_plan, learned_model, make_starts, run_mpc, simulator_model
from worldmodels.repro import seed_everything
from worldmodels.stats import paired_gap, spearman, wilson_interval

RESULTS = Path(registry.CHECKPOINT_DIR) / "planning_results.json"
N_STARTS, START_SEED = 200, 2
RUNS = {  # key: (model, planner)
    "simulator": ("simulator", "cem"),
    "learned": ("learned", "cem"),
    "learned_random_shooting": ("learned", "random shooting"),
    "random": (None, "random"),
    "none": (None, "none"),
}


def success(task, world_model, n_starts=N_STARTS, seed=START_SEED) -> tuple[dict, dict]:
    starts = make_starts(task, n_starts, seed=seed)
    models = {"simulator": simulator_model(task.world), "learned": learned_model(world_model), None: None}
    out, per_episode = {}, {}
    for key, (model, planner) in RUNS.items():
        eps = run_mpc(task, starts, models[model], planner, seed=0)
        k = int(eps.success.sum())
        out[key] = {"rate": round(k / n_starts, 4), "ci95": [round(x, 4) for x in wilson_interval(k, n_starts)],
                    "cost": round(float(eps.energy.mean()), 3), "distance_px": round(float(eps.distance.mean()), 3),
                    "n": n_starts}
        per_episode[key] = eps.success
    return out, per_episode


def success_gap(a, b) -> dict:
    """Difference of two success rates measured on the same starts (per-episode successes, bool (n,)), with
    a normal 95 % interval of the mean paired difference, and the ratio of the rates."""
    value, low, high = paired_gap(a, b)
    return {"value": round(value, 4), "ci95": [round(low, 4), round(high, 4)],
            "ratio": round(float(b.mean() / a.mean()), 4) if a.mean() > 0 else None}


def decision_ms(task, world_model, repeats=30) -> dict:
    starts = make_starts(task, 1, seed=99)
    rng = np.random.default_rng(0)
    out = {}
    for name, model in (("learned", learned_model(world_model)), ("simulator", simulator_model(task.world))):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            cem_plan(model, starts.observation, starts.targets, task.steps, task, rng)
            times.append(1000 * (time.perf_counter() - t0))
        out[name] = round(float(np.median(times)), 2)
    out["torch_threads"] = torch.get_num_threads()
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    return out


def ranking(task, world_model, n_starts=N_STARTS, seed=START_SEED) -> dict:
    starts = make_starts(task, n_starts, seed=seed)
    real = [float(policy_return(p, task, starts).mean()) for p in CANDIDATE_POLICIES]
    imagined = [float(policy_return(p, task, starts, world_model).mean()) for p in CANDIDATE_POLICIES]
    return {"spearman": round(spearman(imagined, real), 4), "n_policies": len(CANDIDATE_POLICIES),
            "policies": [[p.gain, p.damping] for p in CANDIDATE_POLICIES],
            "real_return": [round(r, 3) for r in real], "imagined_return": [round(r, 3) for r in imagined]}


def measure(world_model) -> dict:
    task = ReachTask()
    out: dict = {"task": {"steps": task.steps, "max_push": task.max_push, "success_radius": task.success_radius,
                          "energy_weight": task.energy_weight, "n_starts": N_STARTS, "start_seed": START_SEED}}
    out["success"], per_episode = success(task, world_model)
    out["gap"] = success_gap(per_episode["simulator"], per_episode["learned"])
    out["cost"] = {key: value["cost"] for key, value in out["success"].items()}
    out["decision_ms"] = decision_ms(task, world_model)
    rank = ranking(task, world_model)
    out["rank_correlation"] = rank["spearman"]
    out["ranking"] = rank
    out["synthetic"] = {}
    for name, world, amounts in (("canonical", CANONICAL, (16, 64, 256, 1024, 4096, 16384)),
                                 ("faster", ood_world("faster"), (256, 1024, 4096))):
        rows = synthetic_data_experiment(world_model, real_amounts=amounts, world=world)
        out["synthetic"][name] = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()} for row in rows]
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help=f"record the results in {RESULTS.name}")
    args = parser.parse_args(argv)
    seed_everything(0)
    t0 = time.perf_counter()
    out = measure(registry.load("world_model"))
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    if args.save:
        RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
