"""Benchmark of chapter 11: a JEPA, a world model that predicts embeddings and never draws a frame.

    python bench/jepa.py           # train (or with --load, load the recorded run), measure, print one JSON line
    python bench/jepa.py --save    # ... and record the run in worldmodels/checkpoints/jepa.pt + jepa.json

Keys:
  params, train_seconds (wall clock of the training loop; the machine's load average beside it).
  probe_r2: linear probe of the ball's position (R^2, mean of x and y) fit on encoded validation frames and
            scored on test clips: `encoded` (embeddings of the true frames), `imagined` per k (embeddings
            imagined k = 1, 5, 10, 20 steps after two observed frames, without pushes), `chapter5` per k (the same
            probe on chapter 5's latent, fit on its encoded windows and scored on its imagined latents),
            `velocity_encoded` (velocity from two consecutive embeddings).
  surprise_auc: per violation type (worldmodels.violations, 200 clips each of seed 2 against 200 lawful
            clips, the violation at frame 8 or later of 20): AUC of the clip's surprise (the largest error of
            the embedding imagined jepa.SURPRISE_STEPS = 2 frames ahead, chosen on the clips of seeds 1 and 3)
            with a bootstrap 95 % interval, `ci95`; beside it the same AUC for chapter 5's pixel surprise (the
            largest one-step pixel error of the decoded prediction) and chapter 10's physics detector
            (detection.physics_score).
  planning: chapter 8's reach task on the same 200 start states (seed 2), CEM with chapter 8's budget, the
            imagination in embedding space: `jepa` plans toward the target point with a quadratic read-out of
            the ball's position from the final imagined embedding (jepa.fit_position_readout, fit on
            validation videos; chosen on the start states of seed 1 over the embedding goal and a linear
            read-out), `jepa_embedding_goal` toward the embedding of the ball resting on the target
            (embedding distance in px via embedding_scale); Wilson intervals; `world_model` and `simulator`
            are chapter 8's recorded results (worldmodels/checkpoints/planning_results.json) on these starts.
  collapse: effective rank and mean per-dimension spread of test embeddings, for the recorded model and for
            the same model trained without its remedies (no target network, no regulariser; preset
            `collapse`, recorded with --save in worldmodels/checkpoints/jepa_collapse.pt + .json, with its
            loss curve, which chapter 11 loads), with their final training losses.
  reproduction (with --save): the recipe stretched to REPRODUCTION_STEPS, trained on one thread and probed
            like the full run: what tests/test_jepa.py's slow reproduction test retrains.
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

from worldmodels import jepa as J
from worldmodels import registry
from worldmodels.data import CANONICAL, make_split
from worldmodels.detection import physics_score
from worldmodels.jepa_training import presets, train_from_config
from worldmodels.planning import ReachTask, make_starts, run_mpc
from worldmodels.probe import fit_linear_probe, r2_score
from worldmodels.repro import seed_everything
from worldmodels.stats import auc, bootstrap_auc, wilson_interval
from worldmodels.training import n_parameters
from worldmodels.violations import KINDS, violation_clips

PLANNING = Path(registry.CHECKPOINT_DIR) / "planning_results.json"
COLLAPSE = Path(registry.CHECKPOINT_DIR) / "jepa_collapse.pt"
REPRODUCTION_STEPS = 600  # a quarter of the recorded run's 2400 steps
HORIZONS = (1, 5, 10, 20)
N_CLIPS, N_STARTS, START_SEED = 200, 200, 2


def probe_data(n=256):
    return (make_split("val", n, 30, CANONICAL, with_actions=False, seed=0),
            make_split("test", n, 30, CANONICAL, with_actions=False, seed=0))


@torch.no_grad()
def jepa_probe(model, val, test) -> dict:
    d = model.config.embed
    zv = model.encode_target(torch.from_numpy(val.frames))
    zt = model.encode_target(torch.from_numpy(test.frames))
    probe = fit_linear_probe(zv.reshape(-1, d).numpy(), val.positions[:, :, 0].reshape(-1, 2))
    out = {"encoded": float(r2_score(probe.predict(zt.reshape(-1, d).numpy()), test.positions[:, :, 0].reshape(-1, 2)).mean())}
    h = model.config.history  # embeddings of frames 10 - h .. 9 (each reads its frames - 1 predecessors too)
    imagined = model.imagine(zt[:, 10 - h : 10], torch.zeros(len(test), max(HORIZONS), 2)).numpy()
    out["imagined"] = {str(k): float(r2_score(probe.predict(imagined[:, k - 1]), test.positions[:, 9 + k, 0]).mean())
                       for k in HORIZONS}
    pairs = lambda z: torch.cat([z[:, :-1], z[:, 1:]], -1).reshape(-1, 2 * d).numpy()  # noqa: E731
    vprobe = fit_linear_probe(pairs(zv), val.velocities[:, :-1, 0].reshape(-1, 2))
    out["velocity_encoded"] = float(r2_score(vprobe.predict(pairs(zt)), test.velocities[:, :-1, 0].reshape(-1, 2)).mean())
    return out


@torch.no_grad()
def chapter5_probe(world_model, val, test) -> dict:
    """Chapter 5's measurement: probe fit on the latents of encoded windows, scored on imagined latents."""
    c = world_model.config.context

    def windows(videos):
        frames = torch.from_numpy(videos.frames)
        z = torch.stack([world_model.encode(frames[:, t - c + 1 : t + 1]) for t in range(c - 1, frames.shape[1])], 1)
        return z.flatten(0, 1).numpy(), videos.positions[:, c - 1 :, 0].reshape(-1, 2)

    probe = fit_linear_probe(*windows(val))
    z0 = world_model.encode(torch.from_numpy(test.frames[:, :10]))
    imagined = world_model.imagine(z0, torch.zeros(len(test), max(HORIZONS), 2)).numpy()
    return {str(k): float(r2_score(probe.predict(imagined[:, k - 1]), test.positions[:, 9 + k, 0]).mean()) for k in HORIZONS}


def surprise_scores(model, world_model, clips) -> dict:
    return {"jepa": J.surprise(model, clips.frames, steps=J.SURPRISE_STEPS).max(1), "chapter5_pixels": J.pixel_surprise(world_model, clips.frames).max(1),
            "chapter10_physics": physics_score(clips.frames)}


def surprise_table(model, world_model, n=N_CLIPS) -> dict:
    lawful = surprise_scores(model, world_model, violation_clips("lawful", n, seed=2))
    out = {}
    for kind in KINDS[1:]:
        broken = surprise_scores(model, world_model, violation_clips(kind, n, seed=2))
        out[kind] = {name: {"auc": round(auc(lawful[name], broken[name]), 4),
                            "ci95": [round(x, 4) for x in bootstrap_auc(lawful[name], broken[name], n_boot=500)]}
                     for name in broken}
    return out


def readout_videos():
    """The validation videos the planner's position read-out is fit on (with pushes, as in planning)."""
    return make_split("val", 256, 30, CANONICAL, with_actions=True, seed=0)


def episode_summary(eps, n, **extra) -> dict:
    k = int(eps.success.sum())
    return {"rate": round(k / n, 4), "ci95": [round(x, 4) for x in wilson_interval(k, n)],
            "cost": round(float(eps.energy.mean()), 3), "distance_px": round(float(eps.distance.mean()), 3), "n": n, **extra}


def planning(model, task=ReachTask(), n=N_STARTS, seed=START_SEED) -> dict:
    starts = make_starts(task, n, seed=seed)
    readout = J.fit_position_readout(model, readout_videos())
    eps = run_mpc(task, starts, J.planning_model(model, readout=readout), "cem", seed=0)
    out = {"jepa": episode_summary(eps, n, readout="quadratic, fit on validation videos")}
    scale = J.embedding_scale(model, np.random.default_rng(0).uniform(6, 26, size=(512, 2)), task.world)
    goals = scale * J.goal_embeddings(model, starts.targets, task.world)
    eps = run_mpc(task, starts, J.planning_model(model, scale), "cem", seed=0, goals=goals)
    out["jepa_embedding_goal"] = episode_summary(eps, n, scale_px_per_unit=round(scale, 4))
    recorded = json.loads(PLANNING.read_text())
    assert recorded["task"]["n_starts"] == n and recorded["task"]["start_seed"] == seed
    out["world_model"] = {**recorded["success"]["learned"], "recorded": True}
    out["simulator"] = {**recorded["success"]["simulator"], "recorded": True}
    out["ratio_to_simulator"] = round(out["jepa"]["rate"] / out["simulator"]["rate"], 4)
    out["embedding_goal_ratio_to_simulator"] = round(out["jepa_embedding_goal"]["rate"] / out["simulator"]["rate"], 4)
    return out


@torch.no_grad()
def collapse_stats(model, test, loss=None) -> dict:
    z = model.encode_target(torch.from_numpy(test.frames[:64])).reshape(-1, model.config.embed).numpy()
    out = {"effective_rank": round(J.effective_rank(z), 3), "mean_spread": round(float(J.spread(z).mean()), 4),
           "embed": model.config.embed}
    if loss is not None:
        out["final_train_loss"] = round(loss, 5)
    return out


def collapse_run(save: bool) -> tuple:
    """The collapse preset, trained (and with `save` recorded in COLLAPSE, its loss curve in the .json beside
    it), or, without `save`, loaded from COLLAPSE when it exists: (model, loss curve, seconds or None)."""
    config = presets()["collapse"]
    if not save and COLLAPSE.is_file():
        return registry.load("jepa", COLLAPSE), registry.load_record("jepa", COLLAPSE)["metrics"]["train_loss"], None
    model, history = train_from_config(config, progress=False)
    if save:
        record = registry.run_record("jepa", config, seed=0, params=n_parameters(model),
                                     metrics={"train_loss": [float(x) for x in history.train_loss],
                                              "train_seconds": round(history.seconds, 1), "torch_threads": torch.get_num_threads()})
        registry.save("jepa", model, COLLAPSE, record=record)
        model = registry.load("jepa", COLLAPSE)
    return model, [float(x) for x in history.train_loss], round(history.seconds, 1)


def reproduction(config, val, test) -> dict:
    """The reproduction prefix: the recipe stretched to REPRODUCTION_STEPS, one torch thread, probed like the run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, _ = train_from_config(config, steps=REPRODUCTION_STEPS, progress=False)
    finally:
        torch.set_num_threads(threads)
    probe = jepa_probe(model, val, test)
    return {"steps": REPRODUCTION_STEPS,
            "note": f"the recorded recipe stretched to {REPRODUCTION_STEPS} steps (registry.stretch), one torch thread: "
                    "what tests/test_jepa.py retrains",
            "probe_r2_encoded": round(probe["encoded"], 4), "probe_r2_imagined_k10": round(probe["imagined"]["10"], 4)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="record the run (weights + JSON record) and the collapse run")
    parser.add_argument("--load", action="store_true", help="measure the recorded run instead of training")
    args = parser.parse_args(argv)
    seed_everything(0)
    config = presets()["chapter11"]
    if args.load:
        model, record = registry.load("jepa"), registry.load_record("jepa")
        train_seconds, final_loss, load = record["metrics"]["train_seconds"], record["metrics"]["final_train_loss"], None
    else:
        load0 = os.getloadavg()[0]
        model, history = train_from_config(config, progress=True)
        train_seconds, final_loss = round(history.seconds, 1), float(np.mean(history.train_loss[-50:]))
        load = [round(load0, 2), round(os.getloadavg()[0], 2)]
        if args.save:  # measure the stored (float16) weights, which the chapter loads
            registry.save("jepa", model, registry.get("jepa").reference)
            model = registry.load("jepa")
    world_model = registry.load("world_model")
    val, test = probe_data()
    out = {"params": n_parameters(model), "train_seconds": train_seconds, "torch_threads": torch.get_num_threads()}
    out["probe_r2"] = {**jepa_probe(model, val, test), "chapter5": chapter5_probe(world_model, val, test)}
    out["surprise_auc"] = surprise_table(model, world_model)
    out["planning"] = planning(model)
    collapsed, losses, seconds = collapse_run(args.save)
    out["collapse"] = {"with_remedy": collapse_stats(model, test, round(final_loss, 5)),
                       "without_remedy": collapse_stats(collapsed, test, float(np.mean(losses[-50:]))),
                       "without_remedy_seconds": seconds}
    out["load_average_1min"] = load
    if args.save:
        out["reproduction"] = reproduction(config, val, test)
        record = registry.run_record("jepa", config, seed=0, params=out["params"],
                                     metrics={**out, "final_train_loss": round(final_loss, 5)},
                                     load_average_1min=load)
        registry.save_record(record, registry.get("jepa").reference.with_suffix(".json"))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
