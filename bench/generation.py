"""Benchmark of chapter 9 (Sora in miniature): text-to-video by diffusion, judged by physics.

Two generators. The second edition's track generator (worldmodels.track_generation: two or three colliding balls,
a decoder with no physics) gives the top-level keys; the first section's one-ball generator (physics built into its
decoder) is measured under "one_ball".

    python bench/generation.py                # load both reference runs, measure them, print one JSON object last
    python bench/generation.py --save-tracks  # train the track generator's reference recipe and store it as
                                              # worldmodels/checkpoints/track_generation.{pt,json}
    python bench/generation.py --measure-tracks  # measure the stored reference again (e.g. after chapter 7's object
                                              # model was re-recorded) and store the metrics in its JSON
    python bench/generation.py --save-prefix  # the short prefix run the reproduction test retrains
                                              # (worldmodels/checkpoints/track_generation_prefix.json)
    python bench/generation.py --scale-tracks # rerun the track generator's scale study (3 data sizes x 2 widths,
                                              # 2000 steps each, a second seed for the most clips, the reference
                                              # setting also for 6000 steps) and store it in
                                              # worldmodels/checkpoints/track_generation_scale.json
    python bench/generation.py --scale-tracks-missing  # the same, running only the settings its record lacks
    python bench/generation.py --variant per_frame  # train a variant of the reference recipe (a preset of
                                              # track_generation_training: per_frame, moves), measure it like the
                                              # reference (test split, w = 3) and store
                                              # worldmodels/checkpoints/track_generation_<variant>.json
    python bench/generation.py --train        # one-ball generator: train the reference recipe instead of loading it
    python bench/generation.py --save         # one-ball generator: train it and store it (video_diffusion.*)
    python bench/generation.py --scale        # one-ball generator: rerun its small scale table

Set-up: one ball, 32x32, radius 3 px, 2-3 px/frame, clips of 16 frames, test split (seed 0); the prompt
combination "downward leftward, fast" is held out of training (the "out" prompts).

`naive_patches` is the one-ball feasibility probe's recorded measurement (a per-frame autoencoder 32x32 -> 4x8x8
and a transformer over spacetime patches, 275 s of training); the chapter reruns a small version of it live.
`scale` is read from the stored JSON unless --scale-tracks reruns it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import torch

from worldmodels import captions, multiball
from worldmodels import registry
from worldmodels import track_generation as tg
from worldmodels import track_generation_training as tgt
from worldmodels import video_generation as vg
from worldmodels import video_generation_training as vgt
from worldmodels.diffusion import DiTConfig
from worldmodels.repro import seed_everything
from worldmodels.training import n_parameters

REFERENCE = registry.get("diffusion").reference  # the recorded run: video_diffusion.{pt,json}
SCALE_JSON = REFERENCE.with_name("video_diffusion_scale.json")
NAIVE_PATCHES = {
    "source": "an earlier one-ball probe, recorded only (its code is not in the package; the chapter does not state it)",
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


TRACKS = registry.CHECKPOINT_DIR / "track_generation.pt"
TRACKS_PREFIX = TRACKS.with_name("track_generation_prefix.json")
TRACKS_SCALE = TRACKS.with_name("track_generation_scale.json")
TRACK_SCALE_CLIPS = (1000, 4000, 16000)
TRACK_SCALE_WIDTHS = (48, 96)
TRACK_SCALE_STEPS = 2000  # the reference recipe's length (400 steps left every setting at chance)
TRACK_SCALE_SEEDS = {(16000, 48): (0, 1), (16000, 96): (0, 1)}  # a second seed shows the seed spread
TRACK_SCALE_LONGER = {(16000, 96): 3 * TRACK_SCALE_STEPS}  # the reference setting also trained three times as long
SCALE_COMMAND = "python bench/generation.py --scale-tracks"


def track_scale_row(n_clips: int, width: int, seed: int = 0, steps: int = TRACK_SCALE_STEPS) -> dict:
    """One setting of the scale study: the reference recipe with n_clips training clips, width and seed (which
    draws both the clips and the initial weights), trained `steps` steps and measured as the reference is
    (tg.reference_metrics: 256 test captions, w = 3; the guidance sweep cut to w = 3 on 16 prompts, unused here)."""
    base = tgt.RecipeConfig()
    recipe = dataclasses.replace(base, n_clips=n_clips, width=width,
                                 train=dataclasses.replace(base.train.with_steps(steps), seed=seed))
    seed_everything(seed)
    start = time.process_time()
    g, history = tgt.train_generator(recipe, progress=False)
    train_cpu = time.process_time() - start
    m = tg.reference_metrics(g, sweep_n=16, guidances=(3.0,))
    gen = m["law_pass"]["generated"]
    return {"clips": n_clips, "width": width, "seed": seed, "params": n_parameters(g), "steps": steps,
            "train_seconds": round(history.seconds, 1), "train_cpu_seconds": round(train_cpu, 1),
            "final_loss": round(float(sum(history.train_loss[-50:]) / 50), 5),
            "tolerance_ratio": {law: gen[law]["tolerance_ratio"] for law in gen},
            "strict_pass": {law: gen[law]["strict"]["rate"] for law in gen},
            "inside_box": m["inside_box"]["generated"], "speed_outside": m["speed_outside"]["generated"],
            "adherence": m["prompt_adherence"]["in"], "n_clips_measured": m["n_clips"]}


def track_scale_settings() -> list[tuple[int, int, int, int]]:
    """(clips, width, seed, steps) of every run of the scale study, in the order they are recorded."""
    runs = [(n, w, s, TRACK_SCALE_STEPS) for n in TRACK_SCALE_CLIPS for w in TRACK_SCALE_WIDTHS
            for s in TRACK_SCALE_SEEDS.get((n, w), (0,))]
    return runs + [(n, w, 0, steps) for (n, w), steps in TRACK_SCALE_LONGER.items()]


def track_scale_record(rows: list[dict]) -> dict:
    """The scale study's JSON record from its rows."""
    return {"command": SCALE_COMMAND, "steps": TRACK_SCALE_STEPS, "split": "test", "guidance": 3.0,
            "rows": rows, "load_average": [round(x, 2) for x in os.getloadavg()]}


def run_track_scale(rows: list[dict] = ()) -> dict:
    """Track generators trained on 3 data sizes x 2 widths (the reference recipe for 2000 steps, so 16000 clips at
    width 96 and seed 0 is the reference run), a second seed on the most clips and the reference setting trained
    three times as long, judged law by law. `rows`: runs already recorded (kept; only the missing ones run)."""
    done = {(r["clips"], r["width"], r["seed"], r["steps"]): r for r in rows}
    out = []
    for setting in track_scale_settings():
        if setting not in done:
            done[setting] = track_scale_row(*setting)
            print(done[setting], file=sys.stderr)
        out.append(done[setting])
    return track_scale_record(out)


def save_prefix() -> dict:
    """Train the `prefix` preset (the reproduction test's run) and record its loss and a few generated numbers."""
    recipe = tgt.presets()["prefix"]
    seed_everything(0)
    g, history = tgt.train_generator(recipe, progress=False)
    out = g.generate([multiball.caption(0, 1, 1, 1), ""], seed=0)
    record = {"command": "python bench/generation.py --save-prefix", "preset": "prefix",
              "recipe": dataclasses.asdict(recipe), "final_loss": float(sum(history.train_loss[-10:]) / 10),
              "loss_every_10": history.train_loss[::10], "first_track": out.tracks[0, :, 0].tolist(),
              "train_seconds": round(history.seconds, 1)}
    TRACKS_PREFIX.write_text(json.dumps(record, indent=2) + "\n")
    return record


VARIANTS = ("per_frame", "moves")


def variant_path(name: str):
    return TRACKS.with_name(f"track_generation_{name}.json")


def run_variant(name: str) -> dict:
    """Train the preset `name` (the reference recipe with another token layout or latent), measure it as the
    reference is measured (256 test captions, w = 3; no guidance sweep, no object model) and record it."""
    recipe = tgt.presets()[name]
    seed_everything(0)
    g, history = tgt.train_generator(recipe, progress=False)
    m = tg.reference_metrics(g, sweep_n=16, guidances=(3.0,))
    record = {"command": f"python bench/generation.py --variant {name}", "preset": name,
              "recipe": dataclasses.asdict(recipe), "params": n_parameters(g),
              "train_seconds": round(history.seconds, 1),
              "final_loss": round(float(sum(history.train_loss[-50:]) / 50), 5),
              "load_average": [round(x, 2) for x in os.getloadavg()],
              **{k: m[k] for k in ("n_clips", "law_pass", "inside_box", "speed_outside", "prompt_adherence")}}
    variant_path(name).write_text(json.dumps(record, indent=2) + "\n")
    return record


def track_benchmark(args) -> dict:
    """The track generator's measurements (the top-level keys of the benchmark)."""
    if args.save_tracks:
        recipe = tgt.RecipeConfig()
        seed_everything(0)
        g, history = tgt.train_generator(recipe, progress=False)
        tgt.save_run(g, recipe, history, TRACKS, command="python bench/generation.py --save-tracks",
                     load_average=[round(x, 2) for x in os.getloadavg()])
    g = tgt.load_run(TRACKS)
    record = json.loads(TRACKS.with_suffix(".json").read_text())
    torch.set_num_threads(2)
    prompts = [multiball.caption(c, d, -1, k) for c in range(2) for d in range(4) for k in range(2)]
    g.generate(prompts)  # warm-up
    start = time.perf_counter()
    g.generate(prompts, seed=1)
    sample_seconds = time.perf_counter() - start
    metrics = tg.reference_metrics(g, object_model=tg.load_object_model())
    if args.save_tracks or args.measure_tracks:
        record["metrics"] = metrics
        TRACKS.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    if args.save_prefix:
        save_prefix()
    if args.scale_tracks or args.scale_tracks_missing:
        kept = json.loads(TRACKS_SCALE.read_text())["rows"] if args.scale_tracks_missing else []
        TRACKS_SCALE.write_text(json.dumps(run_track_scale(kept), indent=2) + "\n")
    return {"train_seconds": record["train_seconds"], "params": record["params"],
            "sample_seconds_16": round(sample_seconds, 3), **metrics,
            "scale": json.loads(TRACKS_SCALE.read_text()) if TRACKS_SCALE.exists() else None,
            **{name: json.loads(variant_path(name).read_text()) for name in VARIANTS if variant_path(name).exists()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=VARIANTS, help="train, measure and record a variant of the track "
                        "generator's recipe (then stop)")
    parser.add_argument("--train", action="store_true", help="one-ball: train the reference recipe instead of loading it")
    parser.add_argument("--save", action="store_true", help="one-ball: train and store the reference run")
    parser.add_argument("--scale", action="store_true", help="one-ball: rerun the scale table and store it")
    parser.add_argument("--save-tracks", action="store_true", help="train and store the track generator's reference run")
    parser.add_argument("--measure-tracks", action="store_true", help="measure the stored track generator again and "
                        "store its metrics")
    parser.add_argument("--save-prefix", action="store_true", help="train and record the reproduction test's prefix run")
    parser.add_argument("--scale-tracks", action="store_true", help="rerun the track generator's scale study")
    parser.add_argument("--scale-tracks-missing", action="store_true", help="run only the settings of the scale "
                        "study that its record lacks and add them")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant)))
        return
    seed_everything(0)
    load_before = os.getloadavg()
    tracks = track_benchmark(args)
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
    print(json.dumps({**tracks, "one_ball": out, "load_average": [round(x, 2) for x in os.getloadavg()],
                      "load_average_at_start": [round(x, 2) for x in load_before]}))


if __name__ == "__main__":
    main()
