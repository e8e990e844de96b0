"""Benchmark of chapter 10: how well can generated clips be told from real ones, and what can provenance do?

    python bench/verification.py

On the shared test bed (worldmodels.testbed: 512 real clips per part, 20 frames after 10 shared start
frames; detectors train on the "val" split and are tested on the "test" split) it measures

- the physics detector (no training) against every generator: AUC with a bootstrap 95 % interval;
- the learned detector, trained on real vs one generator and tested against each: the AUC matrix;
- the arms race: the physics detector against the exact simulator with state noise of falling size;
- post-processing (noise, blur, down/up scaling, dropped frames) applied to real and generated clips;
- the keyed watermark on the generators' clips: TPR at a 1 % false-positive rate, per post-processing,
  the false-positive rate measured on unmarked clips and with a wrong key, and the PSNR it costs.

- the context-aware detector (detection.context_score: the clip read together with its start frames) against
  lawful clips of the wrong world (testbed.wrong_world_clips), next to the clip-only physics score;

Prints one JSON object as its last line with the keys physics_auc, learned_auc_matrix, arms_race,
context_auc, post_processing, watermark.
"""

from __future__ import annotations

import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

from worldmodels import detection as det  # noqa: E402
from worldmodels import stats  # noqa: E402
from worldmodels import testbed as tb  # noqa: E402
from worldmodels import watermark as wm  # noqa: E402
from worldmodels.repro import seed_everything  # noqa: E402

LADDER = (0.3, 0.1, 0.03, 0.01, 0.0)  # state noise of the simulator generators (px/frame per frame)
LEARNED_ON = (*tb.GENERATORS, "simulator, noise 0.1")  # a detector trained on each learned generator, as in chapter 10
KEY = 2026  # the generators' secret watermark key
WRONG_KEY = 7


def sim_name(sigma: float) -> str:
    return f"simulator, noise {sigma:g}"


def main() -> dict:
    start = time.perf_counter()
    seed_everything(0)
    cfg = tb.TestBedConfig()
    videos = {part: tb.real_videos(part, cfg) for part in tb.PARTS}
    real = {part: tb.real_clips(v, cfg) for part, v in videos.items()}
    generators = {name: load() for name, load in tb.GENERATORS.items()}
    generators.update({sim_name(s): tb.noisy_simulator(s) for s in LADDER})
    gen = {name: {part: tb.generated_clips(g, videos[part], cfg) for part in tb.PARTS} for name, g in generators.items()}
    learned = [n for n in generators if n in tb.GENERATORS]  # the recorded (learned) generators

    out: dict = {"n_test": len(real["test"]), "clip_frames": cfg.length}
    physics_real = det.physics_score(real["test"])
    physics = {}
    for name in generators:
        s = det.physics_score(gen[name]["test"])
        lo, hi = stats.bootstrap_auc(physics_real, s)
        physics[name] = {"auc": round(stats.auc(physics_real, s), 4), "ci95": [round(lo, 4), round(hi, 4)]}
    out["physics_auc"] = {n: physics[n] for n in learned}
    # chapter 9's text-to-video model: same prompt (the caption of each real 16-frame clip), not same start
    prompted_real, prompted_fake, _ = tb.prompted_clips("test", cfg, seed=0)
    s_real, s_fake = det.physics_score(prompted_real), det.physics_score(prompted_fake)
    lo, hi = stats.bootstrap_auc(s_real, s_fake)
    out["physics_auc"]["diffusion (ch9), same prompt"] = {"auc": round(stats.auc(s_real, s_fake), 4),
                                                          "ci95": [round(lo, 4), round(hi, 4)], "clip_frames": 16}
    out["arms_race"] = {n: physics[n] for n in generators if n not in learned}

    # Lawful clips of the wrong world (another speed, a larger ball, played backwards, frozen, the naive oracle):
    # the clip-only physics score against the context-aware score, which reads the start frames too.
    context = videos["test"].frames[:, : cfg.context]
    s_real_ctx = det.context_score(context, real["test"])
    context_auc = {}
    for name, clips in tb.wrong_world_clips(videos["test"], cfg).items():
        s_ctx, s_phys = det.context_score(context, clips), det.physics_score(clips)
        lo, hi = stats.bootstrap_auc(s_real_ctx, s_ctx)
        context_auc[name] = {"auc": round(stats.auc(s_real_ctx, s_ctx), 4), "ci95": [round(lo, 4), round(hi, 4)],
                             "clip_only_auc": round(stats.auc(physics_real, s_phys), 4)}
    out["context_auc"] = context_auc

    detectors, matrix = {}, {}
    for name in LEARNED_ON:
        seed_everything(0)
        model = det.ClipClassifier()
        det.fit_detector(model, real["train"], gen[name]["train"], progress=False)
        detectors[name] = model
        s_real = det.detector_scores(model, real["test"])
        matrix[name] = {test: round(stats.auc(s_real, det.detector_scores(model, gen[test]["test"])), 3) for test in LEARNED_ON}
    out["learned_auc_matrix"] = {"rows": "trained on", "columns": "tested on", "auc": matrix}

    post = {}
    for transform in tb.POST_PROCESSING:
        r = tb.post_process(real["test"], transform, seed=1)
        row = {}
        for name in learned:
            g = tb.post_process(gen[name]["test"], transform, seed=2)
            row[f"physics vs {name}"] = round(stats.auc(det.physics_score(r), det.physics_score(g)), 3)
            row[f"learned vs {name}"] = round(stats.auc(det.detector_scores(detectors[name], r), det.detector_scores(detectors[name], g)), 3)
        post[transform] = row
    out["post_processing"] = post

    clean = np.concatenate([gen[n]["test"] for n in learned])
    marked = wm.embed(clean, KEY)
    unmarked = np.concatenate([real["test"], clean])
    thr = wm.threshold(0.01)
    robust = {}
    for transform in tb.POST_PROCESSING:
        z = wm.score(tb.post_process(marked, transform, seed=3), KEY)
        z0 = wm.score(tb.post_process(unmarked, transform, seed=4), KEY)
        robust[transform] = {"tpr": round(float((z > thr).mean()), 4), "fpr": round(float((z0 > thr).mean()), 4)}
    out["watermark"] = {
        "tpr_at_1pct_fpr": robust["none"]["tpr"],
        "fpr_measured": robust["none"]["fpr"],
        "fpr_wrong_key": round(float(wm.detect(marked, WRONG_KEY).mean()), 4),
        "robustness": robust,
        "psnr_db": round(wm.psnr(marked, clean), 2),
        "strength": wm.WatermarkConfig().strength,
        "n_marked": len(marked),
    }
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
