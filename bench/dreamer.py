"""Benchmark of chapter 12: an actor trained only in the world model's imagination, acting in the true simulator.

    python bench/dreamer.py           # train (round 0 + 3 rounds), measure, print one JSON object as the last line
    python bench/dreamer.py --save    # ... and record the run: worldmodels/checkpoints/dreamer.pt + dreamer.json,
                                      #     the round-0 actor in dreamer_round0.pt
    python bench/dreamer.py --zone --save   # the harder variant (a forbidden zone), recorded in dreamer_zone.json

The task is chapter 8's ReachTask; every success is measured on the same 200 start states (seed 2) as
bench/planning.py. Keys:
  success:      dream_policy (the final actor, reloaded from the saved float16 weights), dream_round0 (the actor
                before any round of the loop), cem_learned and cem_simulator (chapter 8's cross-entropy planner
                with the world model / the true simulator: RECORDED in planning_results.json, same starts),
                model_free (the policy-gradient learner at the dream policy's real steps), random, none; each
                with rate, ci95 (Wilson), n.
  decision_ms:  one decision for one episode, median: the actor (one forward pass) and chapter 8's CEM planner with
                the world model (horizon 10), measured in this run, with the threads and the load average.
  real_steps:   real simulator steps behind the dream policy (the world model's training pool + the episodes of the
                rounds) and the model-free learner's curve (success against real steps), the steps it needs to
                match the dream policy (null if it never does within its budget).
  rounds:       per round: success, imagined and real mean return on the 200 starts, the world model's error (px)
                on the policy's own episodes before and after the refit.
  dream_gap:    mean imagined minus mean real return, before the loop (round 0) and after it (the remedy), and the
                round-0 start where the dream lied most.
  train_seconds, params.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np
import torch

from worldmodels import registry
from worldmodels.dreamer import dream, policy_pushes, real_returns, run_policy, zone_depth
from worldmodels.dreamer_training import configs_from_dict, presets, train_dreamer
from worldmodels.model_free import learning_curve
from worldmodels.planning import cem_plan, learned_model, make_starts, run_mpc
from worldmodels.repro import seed_everything
from worldmodels.stats import wilson_interval
from worldmodels.training import n_parameters

N_STARTS, START_SEED = 200, 2
ROUND0 = registry.CHECKPOINT_DIR / "dreamer_round0.pt"
MODEL_FREE = {"chunks": 24, "steps_per_chunk": 10, "batch_size": 256, "lr": 3e-3, "seed": 0}


def rate(success) -> dict:
    k, n = int(np.sum(success)), len(success)
    return {"rate": round(k / n, 4), "ci95": [round(x, 4) for x in wilson_interval(k, n)], "n": n}


def evaluate(agent, task, starts) -> dict:
    """Success, mean real and imagined return of the actor on the starts, and per-start returns."""
    episodes, imagined = run_policy(agent, task, starts), dream(agent, task, starts)
    real = real_returns(episodes, task.energy_weight)
    return {"success": episodes.success, "real": real, "imagined": imagined.returns}


def round_row(r, ev) -> dict:
    return {"round": r, **rate(ev["success"]), "real_return": round(float(ev["real"].mean()), 3),
            "imagined_return": round(float(ev["imagined"].mean()), 3),
            "gap": round(float(ev["imagined"].mean() - ev["real"].mean()), 3)}


def decision_ms(agent, task, repeats=100) -> dict:
    starts = make_starts(task, 1, seed=99)
    obs = starts.observation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        policy_pushes(agent, obs.frames, starts.targets, task.steps)
        times.append(1000 * (time.perf_counter() - t0))
    planner, rng = learned_model(registry.load("world_model")), np.random.default_rng(0)
    cem = []
    for _ in range(10):
        t0 = time.perf_counter()
        cem_plan(planner, obs, starts.targets, task.steps, task, rng)
        cem.append(1000 * (time.perf_counter() - t0))
    out = {"dream_policy": round(float(np.median(times)), 3), "cem_learned": round(float(np.median(cem)), 2)}
    out["speedup"] = round(out["cem_learned"] / out["dream_policy"], 1)
    out["torch_threads"] = torch.get_num_threads()
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    return out


ZONE = (16.0, 16.0, 5.0, 0.5)  # the harder variant: the ball's centre must stay 5 px away from the box centre
ZONE_RECORD = registry.CHECKPOINT_DIR / "dreamer_zone.json"


def zone_starts(task, n, seed, zone=ZONE):
    """n start states whose target lies well outside the forbidden zone (at least radius + success_radius away)."""
    pool = make_starts(task, 4 * n, seed=seed)
    far = np.linalg.norm(pool.targets - np.array(zone[:2]), axis=1) >= zone[2] + task.success_radius
    return pool[np.flatnonzero(far)[:n]]


def zone_success(episodes, zone=ZONE) -> np.ndarray:
    """Reached the target AND the ball's centre never entered the zone after the first push."""
    return episodes.success & (zone_depth(episodes.positions[:, 1:], zone).max(axis=1) == 0)


def zone_variant(rounds: int = 2) -> dict:
    """The harder variant: the same recipe with the forbidden zone in the imagined reward, round 0 and `rounds`
    rounds of the loop; compared on 200 starts (targets outside the zone) with the recorded actor, which was
    never told about the zone, random and no pushes."""
    config = presets()["chapter12"]
    agent_config, recipe = configs_from_dict(config)
    recipe = dataclasses.replace(recipe, zone=ZONE, rounds=rounds)
    task = recipe.task()
    starts = zone_starts(task, N_STARTS, seed=START_SEED)
    rows, paths = {}, {}

    def measure(name, episodes, agent=None):
        ok = zone_success(episodes)
        entered = zone_depth(episodes.positions[:, 1:], ZONE).max(axis=1) > 0
        rows[name] = {**rate(ok), "reached": round(float(episodes.success.mean()), 4),
                      "entered_zone": round(float(entered.mean()), 4)}
        if agent is not None:
            gap = dream(agent, task, starts, zone=ZONE).returns - real_returns(episodes, task.energy_weight, ZONE)
            rows[name]["dream_gap"] = round(float(gap.mean()), 3)
        paths[name] = np.round(episodes.positions[:6], 2).tolist()

    def on_round(r, agent):
        measure(f"zone-aware actor, round {r}", run_policy(agent, task, starts), agent)

    t0 = time.perf_counter()
    train_dreamer(agent_config, recipe, progress=False, on_round=on_round)
    seconds = time.perf_counter() - t0
    measure("actor without the zone (recorded run)", run_policy(registry.load("dreamer"), task, starts))
    measure("random pushes", run_mpc(task, starts, None, "random", seed=0))
    measure("no pushes", run_mpc(task, starts, None, "none", seed=0))
    return {"zone": {"x": ZONE[0], "y": ZONE[1], "radius": ZONE[2], "weight": ZONE[3]}, "n_starts": len(starts),
            "start_seed": START_SEED, "rounds": rounds, "success": rows, "targets": np.round(starts.targets[:6], 2).tolist(),
            "paths": paths, "train_seconds": round(seconds, 1), "torch_threads": torch.get_num_threads(),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="record the run in worldmodels/checkpoints/")
    parser.add_argument("--zone", action="store_true", help="measure the harder variant only (dreamer_zone.json)")
    args = parser.parse_args(argv)
    seed_everything(0)
    if args.zone:
        out = zone_variant()
        if args.save:
            ZONE_RECORD.write_text(json.dumps(out, indent=2) + "\n")
        print(json.dumps(out))
        return out
    config = presets()["chapter12"]
    agent_config, recipe = configs_from_dict(config)
    task = recipe.task()
    starts = make_starts(task, N_STARTS, seed=START_SEED)
    rounds, kept = [], {}

    def on_round(r, agent):
        ev = evaluate(agent, task, starts)
        rounds.append(round_row(r, ev))
        if r == 0:
            kept["round0"] = ev
            kept["state"] = {k: v.detach().clone().half() for k, v in agent.state_dict().items()
                             if not k.startswith("world_model.")}

    t0 = time.perf_counter()
    agent, history, log = train_dreamer(agent_config, recipe, progress=False, on_round=on_round)
    train_seconds = time.perf_counter() - t0
    for row, refit in zip(rounds[1:], log):
        row.update({k: round(v, 3) if isinstance(v, float) else v for k, v in refit.items() if k != "round"})

    # the reference weights are stored as float16: measure what the chapter loads
    path = registry.CHECKPOINT_DIR / "dreamer.pt" if args.save else registry.CHECKPOINT_DIR / "_dreamer_bench.pt"
    registry.save("dreamer", agent, path, dtype=torch.float16)
    loaded = registry.load("dreamer", path)
    if not args.save:
        path.unlink()
    final = evaluate(loaded, task, starts)

    planning = json.loads((registry.CHECKPOINT_DIR / "planning_results.json").read_text())
    assert planning["task"]["n_starts"] == N_STARTS and planning["task"]["start_seed"] == START_SEED
    out: dict = {"task": {"steps": task.steps, "max_push": task.max_push, "success_radius": task.success_radius,
                          "energy_weight": task.energy_weight, "n_starts": N_STARTS, "start_seed": START_SEED}}
    real_steps = log[-1]["real_steps"] if log else None
    t1 = time.perf_counter()
    curve = learning_curve(task, starts, **MODEL_FREE)
    model_free_seconds = time.perf_counter() - t1
    dream_rate = float(final["success"].mean())
    reached = [row["real_steps"] for row in curve if row["success"] >= dream_rate]
    at_budget = [row for row in curve if row["real_steps"] <= real_steps][-1]
    out["success"] = {
        "dream_policy": rate(final["success"]),
        "dream_round0": rate(kept["round0"]["success"]),
        "cem_learned": {**{k: planning["success"]["learned"][k] for k in ("rate", "ci95", "n")}, "recorded": True},
        "cem_simulator": {**{k: planning["success"]["simulator"][k] for k in ("rate", "ci95", "n")}, "recorded": True},
        "model_free": {**rate(np.arange(N_STARTS) < round(at_budget["success"] * N_STARTS)),
                       "real_steps": at_budget["real_steps"]},
        "random": rate(run_mpc(task, starts, None, "random", seed=0).success),
        "none": rate(run_mpc(task, starts, None, "none", seed=0).success),
    }
    out["ratio_to_cem_learned"] = round(dream_rate / planning["success"]["learned"]["rate"], 4)
    out["decision_ms"] = decision_ms(loaded, task)
    out["real_steps"] = {"dream_policy": real_steps, "world_model_pool": real_steps - recipe.rounds * recipe.episodes * task.steps,
                         "rounds": recipe.rounds * recipe.episodes * task.steps,
                         "model_free_to_match": reached[0] if reached else None,
                         "model_free_budget": curve[-1]["real_steps"], "model_free_curve": curve,
                         "model_free_seconds": round(model_free_seconds, 1)}
    rounds[-1] = round_row(recipe.rounds, final) | {k: v for k, v in rounds[-1].items() if k.startswith(("error", "real_steps"))}
    out["rounds"] = rounds
    r0 = kept["round0"]
    worst = int(np.argmax(r0["imagined"] - r0["real"]))
    out["dream_gap"] = {"before": rounds[0]["gap"], "after": rounds[-1]["gap"], "remedy": "3 rounds of retraining on the policy's own experience",
                        "worst_start": worst, "worst_imagined": round(float(r0["imagined"][worst]), 3),
                        "worst_real": round(float(r0["real"][worst]), 3),
                        "worst_success_round0": bool(r0["success"][worst]),
                        "worst_success_final": bool(final["success"][worst])}
    out["train_seconds"] = round(train_seconds, 1)
    out["params"] = {"actor_and_value": n_parameters(agent) - n_parameters(agent.world_model),
                     "world_model": n_parameters(agent.world_model)}
    out["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    if args.save:
        torch.save(kept["state"], ROUND0)
        record = registry.run_record("dreamer", config, seed=recipe.actor.seed, params=n_parameters(agent),
                                     metrics=out, evaluation=out["task"], train_seconds=round(train_seconds, 1),
                                     torch_threads=torch.get_num_threads(), load_average_1min=out["load_average_1min_end"],
                                     loss_steps=len(history.train_loss))
        registry.save_record(record, path.with_suffix(".json"))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
