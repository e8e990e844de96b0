"""Benchmark chapter 4's next-frame predictor: train it as the chapter does, measure it with the harness.

Trains `worldmodels.next_frame.ConvPredictor` with the chapter's recipe (worldmodels.next_frame_training:
teacher forcing, then multi-step rollout training, `TEACHER_FORCING` then `CONTINUE_ROLLOUT`), on the chapter's data
(canonical world: 1 ball, 32x32, radius 3 px, 2-3 px/frame; 10 context frames, 20 predicted), and
evaluates it and the baselines on the same test sequences with `worldmodels.evaluation.evaluate`.

Prints one JSON object as its last line:
    {"train_seconds": ..., "params": ..., "n_test": ...,
     "k1": {"model_error_px", "oracle_error_px", "copy_last_error_px", "model_wrong_pixel_frac",
            "empty_frame_wrong_pixel_frac", "teacher_forcing_error_px", "model_mse", "empty_frame_mse"},
     "k5": {...}, "k10": {...}, "k20": {...}}
"model" is the final predictor (after rollout training); "teacher_forcing" the same model before it.

    .venv/bin/python bench/next_frame.py
    .venv/bin/python bench/next_frame.py --save   # record the reference run instead (next_frame_training.record_next_frame)
"""

import json
import os
import sys
import time

# OpenMP threads that spin while waiting for work slow torch down badly when other processes share the
# cores; sleeping threads cost nothing on an idle machine. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from worldmodels import evaluation as ev  # noqa: E402
from worldmodels import next_frame as nf  # noqa: E402
from worldmodels import next_frame_training as nft  # noqa: E402
from worldmodels.data import CANONICAL, make_split  # noqa: E402
from worldmodels.repro import seed_everything  # noqa: E402
from worldmodels.training import n_parameters  # noqa: E402

CONTEXT, HORIZON, KS = 10, 20, (1, 5, 10, 20)


def main() -> dict:
    seed_everything(0)
    d = nft.CHAPTER_DATA
    train = make_split("train", d["train_sequences"], d["n_frames"], CANONICAL, seed=d["seed"])
    test = make_split("test", d["test_sequences"], d["n_frames"], CANONICAL, seed=d["seed"])

    model = nf.ConvPredictor(nft.CHAPTER_MODEL)
    start = time.perf_counter()
    nft.fit(model, train.frames, nft.TEACHER_FORCING)
    tf_seconds = time.perf_counter() - start
    tf_report = ev.evaluate({"tf": nf.as_predictor(model)}, test, CONTEXT, HORIZON, baselines=False)["tf"]
    start = time.perf_counter()
    nft.fit(model, train.frames, nft.CONTINUE_ROLLOUT)
    train_seconds = tf_seconds + time.perf_counter() - start

    reports = ev.evaluate({"model": nf.as_predictor(model)}, test, CONTEXT, HORIZON)
    print(ev.report_table({"teacher forcing only": tf_report, **reports}, ks=KS))
    result = {"train_seconds": round(train_seconds, 1), "params": n_parameters(model), "n_test": len(test)}
    for k in KS:
        result[f"k{k}"] = {
            "model_error_px": round(reports["model"].at(k)["error_px"], 3),
            "oracle_error_px": round(reports[ev.ORACLE].at(k)["error_px"], 3),
            "copy_last_error_px": round(reports[ev.COPY_LAST].at(k)["error_px"], 3),
            "model_wrong_pixel_frac": round(reports["model"].at(k)["wrong_pixel_frac"], 4),
            "empty_frame_wrong_pixel_frac": round(reports[ev.EMPTY].at(k)["wrong_pixel_frac"], 4),
            "teacher_forcing_error_px": round(tf_report.at(k)["error_px"], 3),
            "model_mse": round(reports["model"].at(k)["mse"], 4),
            "empty_frame_mse": round(reports[ev.EMPTY].at(k)["mse"], 4),
        }
    return result


if __name__ == "__main__":
    if "--save" in sys.argv[1:]:  # the recorded run: worldmodels/checkpoints/next_frame.{pt,json}
        print(json.dumps(nft.record_next_frame(progress=sys.stderr.isatty())[1]))
    else:
        print(json.dumps(main()))
