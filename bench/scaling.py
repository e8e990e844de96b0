"""Benchmark of the appendix "Scaling up": data parallelism on CPU, resuming, and the chapter-5 training time.

    python bench/scaling.py                    # everything (about 6 minutes on 2 quiet cores)
    python bench/scaling.py --skip-reference   # without retraining the chapter-5 reference run

Measures, each with the 1-minute load average at the time (timings on a shared machine are inflated):
- steps_per_s: training steps per second of the chapter-5 world model with `python -m worldmodels.train`
  on 1 process (2 threads) and under `torchrun --nproc-per-node 2` (2 processes x 1 thread, gloo), same
  global batch of 128 windows, training loop only (the data pool is simulated before it); and the 1-process
  run again with OMP_WAIT_POLICY=PASSIVE ("1_passive": idle threads sleep instead of spinning);
- ddp_equivalence_max_abs_diff: largest weight difference between 1 and 2 processes after 6 steps (tiny preset);
- resume_equivalence_max_abs_diff: the same between an uninterrupted run and one stopped after 3 steps and resumed;
- world_model_train_seconds: the chapter-5 reference training (world_model_training.train_world_model with the
  recorded configs, 2 threads, OpenMP's default waiting) and its k = 10 error against the recorded one; with
  "passive", the same training with OMP_WAIT_POLICY=PASSIVE (the same weights, another speed);
- gpu: figures of the GPU path, or null with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from worldmodels.train import max_weight_difference, process_env, run_command

ROOT = Path(__file__).resolve().parents[1]


def _train(out: Path, *args: str, processes: int = 1, threads: int = 2, passive: bool = False) -> dict:
    """The chapter-5 world model through worldmodels.train in a fresh process (train.run_command)."""
    return run_command("world_model", *args, out=out, processes=processes, threads=threads, passive=passive, cwd=ROOT)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def throughput(tmp: Path, steps: int) -> dict:
    out = {}
    for name, processes, threads, passive in (("1", 1, 2, False), ("2", 2, 1, False), ("1_passive", 1, 2, True)):
        load = _load()
        run = _train(tmp / f"speed{name}", "--steps", str(steps), processes=processes, threads=threads, passive=passive)
        out[name] = {"steps_per_s": run["steps_per_s"], "threads_per_process": threads, "passive": passive,
                     "loop_seconds": run["loop_seconds"], "load_average_1min": load}
    return out


def equivalence(tmp: Path) -> tuple[float, float]:
    tiny = ("--config", "tiny", "--steps", "6")
    _train(tmp / "one", *tiny, threads=1)
    _train(tmp / "two", *tiny, processes=2, threads=1)
    _train(tmp / "resumed", *tiny, "--stop-after", "3", threads=1)
    _train(tmp / "resumed", *tiny, "--resume", threads=1)
    return max_weight_difference(tmp / "one", tmp / "two"), max_weight_difference(tmp / "one", tmp / "resumed")


def reference_training(passive: bool = False) -> dict:
    """Retrain the recorded chapter-5 run in a fresh process (the wait policy is fixed when torch loads)."""
    done = subprocess.run([sys.executable, __file__, "--reference-only"], env=process_env(passive), capture_output=True,
                          text=True, timeout=3600, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"reference training failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _reference_training() -> dict:
    """Retrain the recorded chapter-5 run as tests/test_world_model.py's WM_SLOW test does; time and score it."""
    from worldmodels.data import CANONICAL
    from worldmodels.reference_run import recorded_errors
    from worldmodels.registry import load_record
    from worldmodels.repro import seed_everything
    from worldmodels.world_model import as_predictor
    from worldmodels.world_model_training import configs_from_record, train_world_model

    record = load_record("world_model")
    model_config, recipe, world = configs_from_record(record)
    seed_everything(record["seed"])
    torch.set_num_threads(2)
    load = _load()
    start = time.perf_counter()
    model, history = train_world_model(model_config, recipe, world, progress=False)
    seconds = time.perf_counter() - start
    errors = recorded_errors(as_predictor(model), record, CANONICAL)
    return {"seconds": round(seconds, 1), "loop_seconds": round(history.seconds, 1),
            "error_px_k10": round(errors["10"], 4),
            "recorded_error_px_k10": record["metrics"]["model_error_px"]["10"],
            "load_average_1min_start": load, "load_average_1min_end": _load(), "torch_threads": 2,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default")}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="steps of the throughput runs (default 100)")
    parser.add_argument("--skip-reference", action="store_true", help="do not retrain the chapter-5 reference run")
    parser.add_argument("--reference-only", action="store_true", help=argparse.SUPPRESS)  # one retraining, in this process
    args = parser.parse_args(argv)
    if args.reference_only:
        out = _reference_training()
        print(json.dumps(out))
        return out
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        speed = throughput(tmp, args.steps)
        ddp_diff, resume_diff = equivalence(tmp)
    out = {
        "steps_per_s": {k: v["steps_per_s"] for k, v in speed.items()},
        "throughput": speed,
        "ddp_equivalence_max_abs_diff": ddp_diff,
        "resume_equivalence_max_abs_diff": resume_diff,
        "world_model_train_seconds": None if args.skip_reference else {**reference_training(),
                                                                       "passive": reference_training(passive=True)},
        "gpu": None,
        "gpu_reason": ("no GPU machine was lent to this task; the GPU path (--device cuda, NCCL, bfloat16 "
                       "autocast) is written but was not run") if not torch.cuda.is_available() else None,
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():  # where one is present: the big config on one GPU for a few hundred steps
        with tempfile.TemporaryDirectory() as tmp:
            run = subprocess.run([sys.executable, "-m", "worldmodels.train", "world_model", "--config", "big",
                                  "--device", "cuda", "--steps", "300", "--out", tmp], env=process_env(), capture_output=True,
                                 text=True, timeout=1800, cwd=ROOT)
            out["gpu"] = json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 else {"error": run.stderr[-500:]}
            out["gpu_reason"] = None
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
