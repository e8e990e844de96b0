"""Benchmark of Part 3: train the chapter's world model from scratch and measure it against the targets.

    python bench/world_model.py            # train, evaluate, print one JSON object as the last line
    python bench/world_model.py --save     # ... and store it as the reference run in worldmodels/checkpoints/

Canonical setting: 1 ball, 32x32, radius 3 px, 2-3 px/frame, 10 context frames, 20 imagined, test split.
Two oracles are reported (worldmodels.oracle): the harness's (velocity from the last three true positions,
bounces accounted for: exact without pushes) and the naive one of the course's reference figures (velocity
from the last two positions, then exact reflection), which the issue's "1.5x the oracle" target was written
against.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np

from worldmodels import registry
from worldmodels.data import CANONICAL, THREE_BALLS, TRAIN_WORLD, generalization_splits, make_split
from worldmodels.evaluation import COPY_LAST, ORACLE, evaluate, score_frames
from worldmodels.oracle import naive_oracle_positions
from worldmodels.physics_checks import check_rollouts
from worldmodels.render import render
from worldmodels.repro import seed_everything
from worldmodels.training import run_facts
from worldmodels.world_model import WorldModelConfig, as_predictor
from worldmodels.world_model_training import CHAPTER_OPTIM, TrainingRecipe, record_configs, train_world_model

KS = (1, 5, 10, 20)
CONTEXT, HORIZON = 10, 20
EVALUATION = {"split": "test", "n_sequences": 512, "seed": 0, "context": CONTEXT, "horizon": HORIZON}


def naive_oracle(videos):
    """Constant velocity from the last two true positions, exact wall reflection (reference figures)."""
    future = naive_oracle_positions(videos.positions[:, :CONTEXT], HORIZON, videos.world)
    frames = render(future, videos.world.radius, videos.world.size)
    return score_frames("naive oracle", frames, videos.frames[:, CONTEXT:CONTEXT + HORIZON], videos.positions[:, CONTEXT:CONTEXT + HORIZON])


def _clean(value):
    """JSON has no NaN: a law with no qualifying step (e.g. no clean bounce) is null."""
    if isinstance(value, float):
        return None if not np.isfinite(value) else round(value, 4)
    return value


def measure(model) -> dict:
    predictor = as_predictor(model)
    out: dict = {}
    videos = make_split(EVALUATION["split"], EVALUATION["n_sequences"], CONTEXT + HORIZON, CANONICAL, seed=EVALUATION["seed"])
    reports = evaluate({"world model": predictor}, videos, CONTEXT, HORIZON)
    naive = naive_oracle(videos)
    for name, key in (("world model", "model_error_px"), (ORACLE, "oracle_error_px"), (COPY_LAST, "copy_last_error_px")):
        out[key] = {str(k): round(reports[name].at(k)["error_px"], 4) for k in KS}
    out["naive_oracle_error_px"] = {str(k): round(naive.at(k)["error_px"], 4) for k in KS}
    out["model_wrong_pixel_frac"] = {str(k): round(reports["world model"].at(k)["wrong_pixel_frac"], 5) for k in KS}

    pushed = make_split(EVALUATION["split"], EVALUATION["n_sequences"], CONTEXT + HORIZON, CANONICAL, with_actions=True, seed=EVALUATION["seed"])
    reports = evaluate({"world model": predictor}, pushed, CONTEXT, HORIZON)
    out["with_actions"] = {
        "model_error_px": {str(k): round(reports["world model"].at(k)["error_px"], 4) for k in KS},
        "oracle_error_px": {str(k): round(reports[ORACLE].at(k)["error_px"], 4) for k in KS},
    }

    ood, laws = {}, {}
    for name, split in generalization_splits(256, CONTEXT + HORIZON, seed=0).items():
        rep = evaluate({"world model": predictor}, split, CONTEXT, HORIZON, baselines=False)["world model"]
        ood[name] = {"error_px_k10": round(rep.at(10)["error_px"], 4)}
        if split.positions.shape[2] == 1:
            pred = predictor(split.frames[:, :CONTEXT], None, HORIZON)
            laws[name] = {k: _clean(v) for k, v in vars(check_rollouts(pred, split, CONTEXT)["model"]).items()}
    base = ood["in-distribution"]["error_px_k10"]
    for name in ood:
        ood[name]["ratio_to_in_distribution"] = round(ood[name]["error_px_k10"] / base, 3)
    out["ood"], out["laws"] = ood, laws

    three = make_split("test", 256, CONTEXT + HORIZON, THREE_BALLS, seed=0)
    reports = evaluate({"world model": predictor}, three, CONTEXT, HORIZON)
    out["three_balls_error_px_k10"] = round(reports["world model"].at(10)["error_px"], 4)
    out["three_balls_oracle_error_px_k10"] = round(reports[ORACLE].at(10)["error_px"], 4)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="store the run as the reference checkpoint + JSON record")
    parser.add_argument("--steps", type=int, default=None, help="override the number of training steps (testing only)")
    args = parser.parse_args(argv)
    seed = 0
    seed_everything(seed)
    optim = dataclasses.replace(CHAPTER_OPTIM, seed=seed)
    if args.steps is not None:
        optim = optim.with_steps(args.steps)
    model_config, recipe, world = WorldModelConfig(), TrainingRecipe(optim=optim), TRAIN_WORLD
    cpu0 = time.process_time()
    model, history = train_world_model(model_config, recipe, world, progress=sys.stderr.isatty())
    cpu = time.process_time() - cpu0
    if args.save:  # measure the stored (float16) weights, which later chapters load
        registry.save("world_model", model, registry.get("world_model").reference)
        model = registry.load("world_model")
    out = run_facts(history, cpu, model)
    out.update(measure(model))
    if args.save:
        record = registry.run_record("world_model", record_configs(model_config, recipe, world), seed=seed,
                                     params=out["params"], evaluation=EVALUATION, metrics=out)
        registry.save_record(record, registry.get("world_model").reference.with_suffix(".json"))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
