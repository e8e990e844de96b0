"""Benchmark of chapter 9 (Sora in miniature): text-to-video by diffusion, judged by physics.

    python bench/generation.py              # load the reference run, measure it, print one JSON object last
    python bench/generation.py --train      # train the reference recipe from scratch instead of loading it
    python bench/generation.py --save       # train it and store it as worldmodels/checkpoints/video_diffusion.*
    python bench/generation.py --scale      # also rerun the small scale table (~5-10 min on 2 busy cores)
                                            # and store it in worldmodels/checkpoints/video_diffusion_scale.json

Set-up: one ball, 32x32, radius 3 px, 2-3 px/frame, clips of 16 frames, test split (seed 0); the prompt
combination "downward leftward, fast" is held out of training (the "out" prompts).

`naive_patches` is NOT rerun here: it is the feasibility probe's measurement recorded in issue 12 (a
per-frame autoencoder 32x32 -> 4x8x8 and a transformer over spacetime patches, 275 s of training), labelled
as such. `scale` is read from the stored JSON unless --scale reruns it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import torch

from worldmodels import captions
from worldmodels import registry
from worldmodels import video_generation as vg
from worldmodels import video_generation_training as vgt
from worldmodels.diffusion import DiTConfig
from worldmodels.repro import seed_everything
from worldmodels.training import n_parameters

REFERENCE = registry.get("diffusion").reference  # the recorded run: video_diffusion.{pt,json}
SCALE_JSON = REFERENCE.with_name("video_diffusion_scale.json")
NAIVE_PATCHES = {
    "source": "feasibility probe recorded in issue 12, not rerun by this benchmark",
    "design": "per-frame autoencoder 32x32 -> 4x8x8, 4-block DiT over spacetime patches, flow matching, 275 s",
    "lawful_clips": "0-3 %", "direction_adherence": "chance (about 25 %)", "speed_adherence": "chance (about 50 %)",
}
SCALE_WIDTHS = (32, 96)
SCALE_CLIPS = (1000, 16000)
SCALE_STEPS = 400


def run_scale(g: vg.Generator) -> list[dict]:
    """Denoisers of two widths x two data sizes, short trainings on the reference compression network."""
    rows = []
    for n_clips in SCALE_CLIPS:
        videos, parts = vg.training_clips(n_clips, "train", seed=0)
        for width in SCALE_WIDTHS:
            config = vgt.RecipeConfig(n_clips=n_clips, denoiser=dataclasses.replace(vgt.DENOISER, steps=SCALE_STEPS))
            start = time.perf_counter()
            small, _ = vgt.train_denoiser(g.autoencoder, videos, parts, config, DiTConfig(width=width), progress=False)
            seconds = time.perf_counter() - start
            m = vg.reference_metrics(small, n=128)
            rows.append({"width": width, "params": n_parameters(small.dit), "clips": len(videos), "steps": SCALE_STEPS,
                         "train_seconds": round(seconds, 1),
                         "law_in": m["law_pass_rate"]["in"], "law_out": m["law_pass_rate"]["out"],
                         "direction_in": m["prompt_adherence"]["in"]["direction"],
                         "direction_out": m["prompt_adherence"]["out"]["direction"]})
            print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train the reference recipe instead of loading it")
    parser.add_argument("--save", action="store_true", help="train and store the reference run (checkpoint + JSON)")
    parser.add_argument("--scale", action="store_true", help="rerun the scale table and store it")
    args = parser.parse_args()
    seed_everything(0)
    load_before = os.getloadavg()
    if args.train or args.save:
        recipe = vgt.RecipeConfig()
        g, train_seconds = vgt.train_reference(recipe, progress=False)
        load_train = os.getloadavg()
    else:
        g = registry.load("diffusion")
        record = registry.load_record("diffusion")
        recipe = registry.config_from_dict(vgt.RecipeConfig, record["recipe"], "recipe")
        train_seconds, load_train = record["train_seconds"], record.get("load_average")
    torch.set_num_threads(2)
    prompts = [captions.caption(d, s, -1) for d in range(4) for s in range(2)] * 2
    g.generate(prompts)  # warm-up
    start = time.perf_counter()
    g.generate(prompts, seed=1)
    sample_seconds = time.perf_counter() - start
    metrics = vg.reference_metrics(g)
    out = {
        "train_seconds": round(train_seconds, 1),
        "train_load_average": load_train,
        "params": n_parameters(g),
        "params_autoencoder": n_parameters(g.autoencoder),
        "params_denoiser": n_parameters(g.dit),
        "sample_seconds_16": round(sample_seconds, 3),
        "compression_ratio": g.autoencoder.config.compression_ratio,
        **metrics,
        "naive_patches": NAIVE_PATCHES,
    }
    if args.save:
        config = {"recipe": dataclasses.asdict(recipe), "dit_config": dataclasses.asdict(g.dit.config),
                  "ae_config": dataclasses.asdict(g.autoencoder.config)}
        record = registry.run_record("diffusion", config, seed=recipe.autoencoder.seed, params=n_parameters(g), metrics=metrics,
                                     train_seconds=round(train_seconds, 1), load_average=load_train)
        registry.save("diffusion", g, REFERENCE, record=record)
    if args.scale:
        SCALE_JSON.write_text(json.dumps({"rows": run_scale(g), "load_average": os.getloadavg()}, indent=2) + "\n")
    out["scale"] = json.loads(SCALE_JSON.read_text())["rows"] if SCALE_JSON.exists() else None
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    out["load_average_at_start"] = [round(x, 2) for x in load_before]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
