"""Benchmark of chapter 13: train the latent action model on videos without action labels and measure what
its codes mean.

    python bench/latent_actions.py                 # train, evaluate, print one JSON object as the last line
    python bench/latent_actions.py --save          # ... and store it as the reference run in worldmodels/checkpoints/
    python bench/latent_actions.py --save --studies  # ... and record the chapter's variants (codes, pushes) too

Measured on held-out clips (test split, 256 clips of 30 frames, hidden pushes of the training mix): the
agreement of the inferred codes with the hidden pushes under the best one-to-one mapping (with a 95 % Wilson
interval), the confusion matrix, the controllability check (on the starts clear of the walls; also on all
starts, next to the simulator's own score there), and the centroid error at k = 1, 5, 10, 20 of
rollouts driven by the mapped codes next to chapter 5's world model driven by the true pushes (its labels).
The mapping is measured on the validation split, so the test clips score it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import time

import numpy as np
import torch

from worldmodels import registry
from worldmodels.data import CANONICAL
from worldmodels.evaluation import evaluate
from worldmodels.latent_actions import PUSH_DIRECTIONS, LatentActionConfig, as_predictor, push_classes
from worldmodels.latent_actions_training import (CHAPTER_OPTIM, LatentActionRecipe, agrees_in_direction, attach_mapping, code_confusion,
                                                 best_mapping, controllability, hidden_push_videos, mapped_agreement,
                                                 read_codes, train_latent_actions, transition_labels, wall_bounces)
from worldmodels.physics import simulate
from worldmodels.repro import seed_everything
from worldmodels.stats import wilson_interval
from worldmodels import world_model_training
from worldmodels.training import run_facts

KS = (1, 5, 10, 20)
CONTEXT, HORIZON = 10, 20
EVALUATION = {"split": "test", "mapping_split": "val", "n_sequences": 256, "seed": 0, "context": CONTEXT, "horizon": HORIZON}
# The chapter's variants: (name, change of the model config, change of the recipe).
STUDIES = {
    "3 codes": ({"codes": 3, "code_dim": 3}, {}),
    "10 codes": ({"codes": 10, "code_dim": 10}, {}),
    "small pushes (0.3 px/frame)": ({}, {"push_size": 0.3}),
    "rare ↑ push (1 % of frames)": ({}, {"push_probs": (0.1, 0.1, 0.1, 0.01)}),
    "glide through walls": ({"walls": False}, {}),
    "no glide": ({"glide": False}, {}),
    "no past (1 frame)": ({"past": 1, "glide": False}, {}),
}


def code_report(model, recipe: LatentActionRecipe, world=CANONICAL) -> dict:
    """Agreement, confusion (codes x pushes) and wall-bounce share per code on the test clips; the mapping
    is measured on the validation clips (both with the recipe's push mix)."""
    mix = {"push_probs": recipe.push_probs, "push_size": recipe.push_size, "seed": EVALUATION["seed"]}
    val = hidden_push_videos(EVALUATION["mapping_split"], EVALUATION["n_sequences"], CONTEXT + HORIZON, world, **mix)
    test = hidden_push_videos(EVALUATION["split"], EVALUATION["n_sequences"], CONTEXT + HORIZON, world, **mix)
    mapping = attach_mapping(model, val)["mapping"]
    past = model.config.past
    codes, labels = read_codes(model, test), transition_labels(test, past)
    confusion = code_confusion(codes, labels, model.config.codes)
    hits, n = mapped_agreement(confusion, mapping)
    bounce = wall_bounces(test, past)
    motion = push_classes(test.velocities[:, past:, 0])  # where the ball heads after the step: → ← ↓ ↑
    motion_confusion = code_confusion(codes, motion, model.config.codes)
    motion_mapping = {j + 1: code for j, code in best_mapping(motion_confusion[:, 1:]).items()}
    motion_hits, _ = mapped_agreement(motion_confusion, motion_mapping)
    per_class = {int(j): round(float(confusion[mapping[j], j] / max(1, confusion[:, j].sum())), 4) if j in mapping else 0.0
                 for j in range(confusion.shape[1])}
    return {
        "code_push_agreement": {"value": round(hits / n, 4), "ci95": [round(x, 4) for x in wilson_interval(hits, n)],
                                "n_steps": n},
        "agreement_per_push": per_class,
        "confusion": confusion.tolist(),
        "mapping": {str(k): v for k, v in mapping.items()},
        "test_mapping_would_be": {str(k): v for k, v in best_mapping(confusion).items()},
        "bounce_share_per_code": [round(float(bounce[codes == k].mean()), 4) if (codes == k).any() else None
                                  for k in range(model.config.codes)],
        "agreement_at_wall_bounces": round(float(np.mean([mapping.get(int(l), -1) == int(c)
                                                           for c, l in zip(codes[bounce], labels[bounce])])), 4),
        "bounce_steps": int(bounce.sum()),
        "motion_agreement": round(motion_hits / n, 4),
    }


def simulator_controllability(videos, start: int, steps: int = 3) -> float:
    """The controllability check asked of the simulator itself, on every start (walls included): the share of
    (start, push) pairs whose true shift after `steps` frames points within 45 degrees of the push."""
    p, v = videos.positions[:, start], videos.velocities[:, start]

    def end(push):
        actions = np.zeros((len(videos), steps + 1, 2))
        actions[:, 0] = push
        return simulate(videos.world, len(videos), steps + 1, init=(p, v), actions=actions).positions[:, steps, 0]

    still = end(PUSH_DIRECTIONS[0])
    return round(float(np.mean([agrees_in_direction(end(d) - still, np.broadcast_to(d, still.shape)).mean()
                                for d in PUSH_DIRECTIONS[1:]])), 4)


def measure(model, recipe: LatentActionRecipe) -> dict:
    out = code_report(model, recipe)
    test = hidden_push_videos(EVALUATION["split"], EVALUATION["n_sequences"], CONTEXT + HORIZON, CANONICAL,
                              recipe.push_probs, recipe.push_size, seed=EVALUATION["seed"])
    control = controllability(model, test)
    everywhere = controllability(model, test, away_from_walls=False)
    out["controllability"] = {"value": round(control["agree"] / control["n"], 4),
                              "ci95": [round(x, 4) for x in wilson_interval(control["agree"], control["n"])],
                              "per_push": {str(k): round(v, 4) for k, v in control["per_push"].items()},
                              "starts": control["starts"], "all_starts": round(everywhere["agree"] / everywhere["n"], 4),
                              "simulator_all_starts": simulator_controllability(test, model.config.past - 1)}
    reports = evaluate({"latent actions": as_predictor(model), "labelled": registry.load_predictor("world_model")},
                       test, CONTEXT, HORIZON)
    out["error_px"] = {str(k): round(reports["latent actions"].at(k)["error_px"], 4) for k in KS}
    out["labelled_error_px"] = {str(k): round(reports["labelled"].at(k)["error_px"], 4) for k in KS}
    out["oracle_error_px"] = {str(k): round(reports["oracle"].at(k)["error_px"], 4) for k in KS}
    out["copy_last_error_px"] = {str(k): round(reports["copy last frame"].at(k)["error_px"], 4) for k in KS}
    out["ratio_to_labelled_k10"] = round(out["error_px"]["10"] / out["labelled_error_px"]["10"], 3)
    return out


def run_study(name: str, model_config: LatentActionConfig, recipe: LatentActionRecipe, threads: int = 1) -> dict:
    """Train and measure one variant of the chapter's recipe (one thread: the variants run side by side)."""
    torch.set_num_threads(threads)
    seed_everything(0)
    change_model, change_recipe = STUDIES[name]
    model_config = dataclasses.replace(model_config, **change_model)
    recipe = dataclasses.replace(recipe, **change_recipe)
    model, history = train_latent_actions(model_config, recipe, CANONICAL, progress=False)
    report = code_report(model, recipe)
    return {"model_config_change": change_model, "recipe_change": {k: list(v) if isinstance(v, tuple) else v
                                                                   for k, v in change_recipe.items()},
            "train_seconds": round(history.seconds, 1), **report}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="store the run as the reference checkpoint + JSON record")
    parser.add_argument("--studies", action="store_true", help="also train and measure the chapter's variants")
    parser.add_argument("--jobs", type=int, default=1, help="variants trained side by side (processes of one thread)")
    parser.add_argument("--steps", type=int, default=None, help="override the number of training steps (testing only)")
    args = parser.parse_args(argv)
    seed = 0
    seed_everything(seed)
    optim = dataclasses.replace(CHAPTER_OPTIM, seed=seed)
    if args.steps is not None:
        optim = optim.with_steps(args.steps)
    model_config, recipe, world = LatentActionConfig(), LatentActionRecipe(optim=optim), CANONICAL
    cpu0 = time.process_time()
    model, history = train_latent_actions(model_config, recipe, world, progress=sys.stderr.isatty())
    cpu = time.process_time() - cpu0
    out = run_facts(history, cpu, model)
    if args.save:  # measure the stored (float16) weights, which the chapter loads
        registry.save("latent_actions", model, registry.get("latent_actions").reference)
        model = registry.load("latent_actions")
    out.update(measure(model, recipe))
    if args.save:  # the stored weights carry the mapping measured on the validation clips
        registry.save("latent_actions", model, registry.get("latent_actions").reference)
    if args.studies:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.starmap(run_study, [(name, model_config, recipe) for name in STUDIES])
        out["studies"] = dict(zip(STUDIES, results))
    if args.save:
        config = world_model_training.record_configs(model_config, recipe, world)
        record = registry.run_record("latent_actions", config, seed=seed, params=out["params"], evaluation=EVALUATION,
                                     metrics=out, loss_curve=[round(float(x), 2) for x in history.train_loss[::10]])
        registry.save_record(record, registry.get("latent_actions").reference.with_suffix(".json"))
    print(json.dumps({k: v for k, v in out.items() if k != "studies"} | ({"studies": list(out["studies"])} if "studies" in out else {})))
    return out


if __name__ == "__main__":
    main()
