"""Benchmark of chapter 8: deciding in imagination with the chapter-5 world model and its planning fine-tune.

    python bench/planning.py             # measure, print one JSON object as the last line
    python bench/planning.py --save      # ... and record it in worldmodels/checkpoints/planning_results.json
    python bench/planning.py --finetune  # first train and record the planning fine-tune of the world model
                                         # (worldmodels/checkpoints/world_model_planning.{pt,json})

The task is worldmodels.planning.ReachTask (the ball must cover a target point 10 pushes later). Its
parameters were chosen on the start states of seed 1; the benchmark measures on fresh start states
(seed 2). Keys:
  success:  per planner model (simulator = CEM with the true simulator, learned = CEM with the world
            model, learned_random_shooting, fine_tuned = CEM with the planning fine-tune, random = random
            pushes, none = no pushes): rate, ci95 (Wilson), mean push energy, mean final distance.
  gap:      simulator - learned success, with a 95 % interval from the paired differences;
  gap_fine_tuned: the same for the fine-tune.
  success_by_region: fresh starts whose targets lie in the centre, beside a wall or in a corner
            (worldmodels.planning.region_of; REGION_STARTS per region, seed REGION_SEED + index, none of
            them used to choose anything), plus "all", the chapter's starts above: per region the
            success (rate, ci95) and push energy of the simulator, learned and fine_tuned planners, and
            for each model the ratio of its success to the simulator's with a 95 % paired bootstrap
            interval, and the ratio of its push energy to the simulator's.
  reproduction: the same measurements on a short prefix (PREFIX_STARTS starts of the chapter, one
            synthetic-data row): tests/test_planning.py reruns it and compares.
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
import dataclasses
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
from worldmodels.planning import (REGIONS, ReachTask, cem_plan, learned_model, make_starts, run_mpc,
                                  simulator_model)
from worldmodels.repro import seed_everything
from worldmodels.stats import paired_gap, spearman, wilson_interval
from worldmodels.world_model_training import PLANNING_RECIPE, finetune_for_planning, record_configs

RESULTS = Path(registry.CHECKPOINT_DIR) / "planning_results.json"
FINE_TUNED = Path(registry.CHECKPOINT_DIR) / "world_model_planning.pt"
N_STARTS, START_SEED = 200, 2
REGION_STARTS, REGION_SEED = 200, 12  # per region; seeds 12, 13, 14 (the fine-tune was chosen on seeds 1 and 11)
PREFIX_STARTS, PREFIX_STEPS = 40, 100  # the reproduction's starts; the fine-tune's recorded prefix run
RUNS = {  # key: (model, planner)
    "simulator": ("simulator", "cem"),
    "learned": ("learned", "cem"),
    "learned_random_shooting": ("learned", "random shooting"),
    "fine_tuned": ("fine_tuned", "cem"),
    "random": (None, "random"),
    "none": (None, "none"),
}
REGION_RUNS = ("simulator", "learned", "fine_tuned")


def rate(successes) -> dict:
    successes = np.asarray(successes, dtype=bool)
    k, n = int(successes.sum()), successes.size
    return {"rate": round(k / n, 4), "ci95": [round(x, 4) for x in wilson_interval(k, n)], "n": n}


def success(task, models, starts, runs=RUNS) -> tuple[dict, dict]:
    """Run every planner of `runs` from `starts`: (summary per run, episodes per run)."""
    out, episodes = {}, {}
    for key in runs:
        model, planner = RUNS[key]
        eps = run_mpc(task, starts, models[model], planner, seed=0)
        out[key] = {**rate(eps.success), "cost": round(float(eps.energy.mean()), 3),
                    "distance_px": round(float(eps.distance.mean()), 3)}
        episodes[key] = eps
    return out, episodes


def ratio_interval(reference, other, n_boot=2000, seed=0) -> dict:
    """other's success rate / reference's, measured on the same starts (bool (n,) each), with a 95 %
    percentile interval from a paired bootstrap over the starts."""
    reference, other = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    rows = np.random.default_rng(seed).integers(0, reference.size, size=(n_boot, reference.size))
    boot = other[rows].mean(axis=1) / np.maximum(reference[rows].mean(axis=1), 1e-12)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {"value": round(float(other.mean() / reference.mean()), 4), "ci95": [round(float(low), 4), round(float(high), 4)]}


def region_summary(episodes) -> dict:
    """Success, energy and the ratios to the simulator planner of REGION_RUNS' episodes on one set of starts."""
    sim = episodes["simulator"]
    out = {key: {**rate(episodes[key].success), "energy": round(float(episodes[key].energy.mean()), 3)} for key in REGION_RUNS}
    for key in REGION_RUNS[1:]:
        out[key]["ratio"] = ratio_interval(sim.success, episodes[key].success)
        out[key]["energy_ratio"] = round(float(episodes[key].energy.mean() / sim.energy.mean()), 3)
    return out


def success_by_region(task, models, n=REGION_STARTS, seed=REGION_SEED, chapter_episodes=None) -> dict:
    out = {}
    if chapter_episodes is not None:
        out["all"] = {"seed": START_SEED, **region_summary(chapter_episodes)}
    for i, region in enumerate(REGIONS):
        starts = make_starts(task, n, seed=seed + i, region=region)
        _, episodes = success(task, models, starts, REGION_RUNS)
        out[region] = {"seed": seed + i, **region_summary(episodes)}
    return out


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


def planning_models(task, world_model, fine_tuned) -> dict:
    return {"simulator": simulator_model(task.world), "learned": learned_model(world_model),
            "fine_tuned": learned_model(fine_tuned), None: None}


def measure(world_model, fine_tuned) -> dict:
    task = ReachTask()
    models = planning_models(task, world_model, fine_tuned)
    out: dict = {"task": {"steps": task.steps, "max_push": task.max_push, "success_radius": task.success_radius,
                          "energy_weight": task.energy_weight, "n_starts": N_STARTS, "start_seed": START_SEED}}
    out["success"], episodes = success(task, models, make_starts(task, N_STARTS, seed=START_SEED))
    out["gap"] = success_gap(episodes["simulator"].success, episodes["learned"].success)
    out["gap_fine_tuned"] = success_gap(episodes["simulator"].success, episodes["fine_tuned"].success)
    out["cost"] = {key: value["cost"] for key, value in out["success"].items()}
    out["success_by_region"] = success_by_region(task, models, chapter_episodes=episodes)
    out["decision_ms"] = decision_ms(task, world_model)
    rank = ranking(task, world_model)
    out["rank_correlation"] = rank["spearman"]
    out["ranking"] = rank
    out["synthetic"] = {}
    for name, world, amounts in (("canonical", CANONICAL, (16, 64, 256, 1024, 4096, 16384)),
                                 ("faster", ood_world("faster"), (256, 1024, 4096))):
        rows = synthetic_data_experiment(world_model, real_amounts=amounts, world=world)
        out["synthetic"][name] = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()} for row in rows]
    out["reproduction"] = reproduction(world_model, fine_tuned)
    return out


def reproduction(world_model, fine_tuned) -> dict:
    """The short prefix tests/test_planning.py reruns: the planners on the first PREFIX_STARTS starts of
    the chapter (every episode's final distance), the ranking on them, one synthetic-data row."""
    task = ReachTask()
    starts = make_starts(task, N_STARTS, seed=START_SEED)[:PREFIX_STARTS]
    _, episodes = success(task, planning_models(task, world_model, fine_tuned), starts, REGION_RUNS)
    row = synthetic_data_experiment(world_model, real_amounts=(256,), n_imagined=512, n_test=200)[0]
    return {"n_starts": PREFIX_STARTS,
            "distance_px": {key: [round(float(d), 3) for d in eps.distance] for key, eps in episodes.items()},
            "rank_correlation": round(ranking(task, world_model, n_starts=PREFIX_STARTS)["spearman"], 4),
            "synthetic": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}}


def finetune(steps: int | None = None, progress: bool = True):
    """Fine-tune the recorded chapter-5 world model for planning (worldmodels.world_model_training.
    finetune_for_planning), on one torch thread: (model, record, the loss of every step). steps: a shorter run (the recorded
    prefix), with its own warm-up and cosine schedule over those steps."""
    torch.set_num_threads(1)
    recipe = PLANNING_RECIPE
    if steps is not None:
        recipe = dataclasses.replace(recipe, optim=dataclasses.replace(recipe.optim, steps=steps,
                                                                        warmup_steps=min(recipe.optim.warmup_steps, steps // 10)))
    t0, c0 = time.perf_counter(), time.process_time()
    model, history = finetune_for_planning(registry.load("world_model"), recipe, CANONICAL, progress=progress)
    losses = history.train_loss
    record = {"model": "world_model", "init": "world_model.pt (the recorded chapter-5 run)", "seed": recipe.optim.seed,
              **record_configs(model.config, recipe, CANONICAL),
              "metrics": {"final_loss_mean_last_50": round(float(np.mean(losses[-50:])), 4),
                          "loss_every_50": [round(float(x), 4) for x in losses[::50]],
                          "train_seconds": round(time.perf_counter() - t0, 1),
                          "train_cpu_seconds": round(time.process_time() - c0, 1), "torch_threads": 1}}
    return model, record, losses


def record_finetune(progress: bool = True) -> dict:
    """Train the fine-tune and its short prefix run; write world_model_planning.{pt,json}."""
    model, record, _ = finetune(progress=progress)
    _, prefix, losses = finetune(PREFIX_STEPS, progress=progress)
    record["prefix"] = {"steps": PREFIX_STEPS, "warmup_steps": prefix["recipe"]["optim"]["warmup_steps"],
                        "loss_mean_last_50": prefix["metrics"]["final_loss_mean_last_50"],
                        "loss_every_10": [round(float(x), 4) for x in losses[::10]],
                        "train_seconds": prefix["metrics"]["train_seconds"]}
    registry.save("world_model", model, FINE_TUNED, record=record)
    return record


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help=f"record the results in {RESULTS.name}")
    parser.add_argument("--finetune", action="store_true", help=f"first train and record {FINE_TUNED.name}")
    args = parser.parse_args(argv)
    if args.finetune:
        record_finetune()
    seed_everything(0)
    t0 = time.perf_counter()
    out = measure(registry.load("world_model"), registry.load("world_model", FINE_TUNED))
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    if args.save:
        RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
