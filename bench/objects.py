"""Benchmark of chapter 7: train the object model on three balls and measure it against the targets.

    python bench/objects.py            # train, evaluate, print one JSON object as the last line
    python bench/objects.py --save     # ... and store it as the reference run object_model.{pt,json}
                                       #     (with its reproduction prefix, a shorter run of the same recipe)
    python bench/objects.py --save --keep-unstructured   # ... reusing the record's unstructured model

Setting: THREE_BALLS (3 balls, 32x32, radius 3 px, 2-3 px/frame), 10 context frames, 20 imagined, test
split. Errors are the harness's matched centroid error (worldmodels.evaluation: each predicted frame is
decoded to N centroids and paired with the N true balls by the one-to-one pairing of least mean distance).
The unstructured model is chapter 5's architecture trained on the same three-ball pool for the same
wall-clock time as the object model (--unstructured-seconds overrides it).

error_by_case: the model and the no-collision oracle on test videos sorted by what happens in the 10 frames
after the context (objects.case_splits: no_collision, near_miss, grazing, head_on; 128 each), per k.
more_balls: the same weights on 2 to 7 balls (6 and 7 through objects.crowded_world: WorldConfig's
placement rule refuses more than 5 balls of this size; the harness pairs up to 12 balls exactly).
reproduction: the recipe stretched to a sixth of its steps (worldmodels.reference_run.reproduce_prefix), trained on
one thread and measured like the full run: what tests/test_objects.py retrains.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import numpy as np
import torch

from worldmodels import registry
from worldmodels.data import CANONICAL, THREE_BALLS, make_split
from worldmodels.evaluation import COPY_LAST, ORACLE, evaluate
from worldmodels.objects import CASES, ObjectModelConfig, as_predictor, case_splits, crowded_world
from worldmodels.objects_training import OBJECT_RECIPE, record_configs, stages, train_object_model
from worldmodels.reference_run import reproduce_prefix
from worldmodels.physics_checks import collision_metrics
from worldmodels.repro import seed_everything
from worldmodels.training import n_parameters
from worldmodels import world_model
from worldmodels.world_model_training import CHAPTER_OPTIM, TrainingRecipe, train_world_model

KS = (1, 5, 10, 20)
CONTEXT, HORIZON = 10, 20
EVALUATION = {"split": "test", "n_sequences": 256, "seed": 0, "context": CONTEXT, "horizon": HORIZON}
CASE_KS, CASE_FUTURE, CASE_N = (1, 5, 10), 10, 128  # error_by_case: k, frames after the context, videos per case
MORE_BALLS = (2, 4, 5, 6, 7)


def per_k(report) -> dict:
    return {str(k): round(report.at(k)["error_px"], 4) for k in KS}


def measure(model, unstructured=None) -> dict:
    """Every figure of the benchmark for a trained object model (and optionally the unstructured one)."""
    predictor = as_predictor(model)
    n, seed = EVALUATION["n_sequences"], EVALUATION["seed"]
    videos = make_split(EVALUATION["split"], n, CONTEXT + HORIZON, THREE_BALLS, seed=seed)
    predictors = {"objects": predictor}
    if unstructured is not None:
        predictors["unstructured"] = world_model.as_predictor(unstructured)
    reports = evaluate(predictors, videos, CONTEXT, HORIZON)
    out = {"model_error_px": per_k(reports["objects"]), "no_collision_oracle_error_px": per_k(reports[ORACLE]),
           "copy_last_error_px": per_k(reports[COPY_LAST])}
    if unstructured is not None:
        out["unstructured_error_px"] = per_k(reports["unstructured"])
    base = out["model_error_px"]["10"]
    out["below_oracle_at_every_k_from_5"] = bool(all(
        reports["objects"].error_px[k - 1] < reports[ORACLE].error_px[k - 1] for k in range(5, HORIZON + 1)))

    with torch.no_grad():  # the laws, on the slots' own positions (identity kept by the tracker)
        _, slots = model.predict(torch.from_numpy(videos.frames[:, :CONTEXT]), HORIZON)
    laws = collision_metrics(slots.numpy(), THREE_BALLS.radius, THREE_BALLS.size)
    truth = collision_metrics(videos.positions[:, CONTEXT:], THREE_BALLS.radius, THREE_BALLS.size)
    out["laws"] = {"model": {k: round(float(v), 4) for k, v in vars(laws).items()},
                   "truth": {k: round(float(v), 4) for k, v in vars(truth).items()}}

    cases = case_splits(THREE_BALLS, CASE_N, CONTEXT, CASE_FUTURE, seed=seed)
    by_case = {}
    for name in CASES:
        rep = evaluate({"objects": predictor}, cases[name], CONTEXT, CASE_FUTURE)
        by_case[name] = {"n_sequences": len(cases[name]),
                         "model": {str(k): round(rep["objects"].at(k)["error_px"], 4) for k in CASE_KS},
                         "oracle": {str(k): round(rep[ORACLE].at(k)["error_px"], 4) for k in CASE_KS}}
    out["error_by_case"] = by_case

    more = {}
    for balls in MORE_BALLS:
        split = make_split("test", n, CONTEXT + HORIZON, crowded_world(balls, THREE_BALLS), seed=seed)
        rep = evaluate({"objects": predictor}, split, CONTEXT, HORIZON)
        more[str(balls)] = {"error_px_k10": round(rep["objects"].at(10)["error_px"], 4),
                            "ratio_to_3_balls": round(rep["objects"].at(10)["error_px"] / base, 3),
                            "oracle_error_px_k10": round(rep[ORACLE].at(10)["error_px"], 4),
                            "copy_last_error_px_k10": round(rep[COPY_LAST].at(10)["error_px"], 4)}
    out["more_balls"] = more
    ood = {}
    for name in ("slower", "faster", "smaller_radius"):  # three balls of radius 4.5 px do not fit the box
        split = make_split(name, n, CONTEXT + HORIZON, THREE_BALLS, seed=seed)
        rep = evaluate({"objects": predictor}, split, CONTEXT, HORIZON)
        ood[name] = {"error_px_k10": round(rep["objects"].at(10)["error_px"], 4),
                     "ratio_to_in_distribution": round(rep["objects"].at(10)["error_px"] / base, 3),
                     "oracle_error_px_k10": round(rep[ORACLE].at(10)["error_px"], 4)}
    out["ood_three_balls"] = ood
    one = make_split("test", 512, CONTEXT + HORIZON, CANONICAL, seed=seed)
    rep = evaluate({"objects": predictor}, one, CONTEXT, HORIZON)
    out["one_ball_error_px"] = per_k(rep["objects"])
    out["one_ball_chapter5_error_px"] = registry.load_record("world_model")["metrics"]["model_error_px"]
    return out


def train_unstructured(seconds: float, seed: int):
    """Chapter 5's world model on the three-ball world (no pushes), trained for about `seconds` of wall-clock."""
    recipe = TrainingRecipe(optim=dataclasses.replace(CHAPTER_OPTIM, steps=10, warmup_steps=2, seed=seed), action_fraction=0.0)
    _, trial = train_world_model(world_model.WorldModelConfig(), recipe, THREE_BALLS, progress=False)
    steps = max(20, int(seconds / (trial.seconds / 10)))
    optim = dataclasses.replace(CHAPTER_OPTIM, steps=steps, warmup_steps=min(100, steps // 10), seed=seed)
    model, history = train_world_model(world_model.WorldModelConfig(), dataclasses.replace(recipe, optim=optim), THREE_BALLS,
                                       progress=sys.stderr.isatty())
    return model, history, steps


def reproduction(configs: dict) -> dict:
    """The reproduction prefix (worldmodels.reference_run.reproduce_prefix): the run's recipe stretched to
    PREFIX_STEPS["object_model"] steps, trained on one thread as tests/test_objects.py retrains it, and its
    errors measured as the record's."""
    record = {**configs, "evaluation": EVALUATION, "metrics": {"model_error_px": {str(k): 0.0 for k in KS}}}
    return reproduce_prefix("object_model", record=record)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="store the run as the reference checkpoint + JSON record")
    parser.add_argument("--steps", type=int, default=None, help="override the number of training steps (testing only)")
    parser.add_argument("--reproduction", action="store_true", help="also train and measure the reproduction prefix")
    parser.add_argument("--keep-unstructured", action="store_true",
                        help="reuse the unstructured model's entries of the current record instead of retraining it")
    parser.add_argument("--unstructured-seconds", type=float, default=None, help="wall-clock budget of the unstructured model")
    args = parser.parse_args(argv)
    seed = 0
    seed_everything(seed)
    renderer, optim = (dataclasses.replace(stage, seed=seed) for stage in stages(OBJECT_RECIPE))
    if args.steps is not None:
        renderer, optim = registry.stretch([renderer, optim], args.steps)
    recipe = dataclasses.replace(OBJECT_RECIPE, renderer=renderer, optim=optim)
    model_config, world = ObjectModelConfig(), THREE_BALLS
    load0 = os.getloadavg()[0]
    model, history = train_object_model(model_config, recipe, world, progress=sys.stderr.isatty())
    out = {"train_seconds": round(history.seconds, 1), "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
           "torch_threads": torch.get_num_threads(), "params": n_parameters(model),
           "final_train_loss": round(float(np.mean(history.train_loss[-25:])), 3)}
    if args.save:  # measure the stored (float16) weights, which the chapter loads
        registry.save("object_model", model, registry.get("object_model").reference)
        model = registry.load("object_model")
    if args.keep_unstructured:  # chapter 5's model on the same pool: its record does not depend on the object model
        kept = registry.load_record("object_model")["metrics"]
        out.update(measure(model))
        out["unstructured"], out["unstructured_error_px"] = kept["unstructured"], kept["unstructured_error_px"]
    else:
        budget = history.seconds if args.unstructured_seconds is None else args.unstructured_seconds
        unstructured, u_history, u_steps = train_unstructured(budget, seed)
        out["unstructured"] = {"train_seconds": round(u_history.seconds, 1), "steps": u_steps, "params": n_parameters(unstructured)}
        out.update(measure(model, unstructured))
    configs = record_configs(model_config, recipe, world)
    if args.save or args.reproduction:
        out["reproduction"] = reproduction(configs)
    if args.save:
        record = registry.run_record("object_model", configs, seed=seed, params=out["params"], evaluation=EVALUATION,
                                     metrics=out)
        registry.save_record(record, registry.get("object_model").reference.with_suffix(".json"))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
