"""Checking a recorded reference run against its record.

The recorded runs themselves (weights and JSON records in worldmodels/checkpoints/) are saved and loaded
through worldmodels.registry: `registry.load("world_model")`, `registry.load_record("world_model")`.
`recorded_errors` measures a predictor the way a record says its metrics were measured, which is what a
reproduction test compares with the record.
"""

from __future__ import annotations

from . import registry


def recorded_errors(predictor, record: dict, world) -> dict[str, float]:
    """A harness predictor's centroid error (px) at each horizon of record["metrics"]["model_error_px"],
    measured as the record says (record["evaluation"]: split, sequences, seed, context, horizon) in `world`:
    what a reproduction compares with the record."""
    from .data import make_split
    from .evaluation import evaluate

    ev = record["evaluation"]
    videos = make_split(ev["split"], ev["n_sequences"], ev["context"] + ev["horizon"], world, seed=ev["seed"])
    report = evaluate({"model": predictor}, videos, context=ev["context"], horizon=ev["horizon"], baselines=False)["model"]
    return {k: float(report.at(int(k))["error_px"]) for k in record["metrics"]["model_error_px"]}



# ------------------------------------------------------------------------------ reproduction prefixes
# A reference run that takes minutes is reproduced by a prefix: its recipe stretched to fewer steps
# (registry.stretch), trained on one thread and measured as the full run was. bench/reproduction.py records
# the prefix in the run's record (metrics.reproduction); the reproduction tests retrain it and compare.

PREFIX_STEPS = {"world_model": 375, "diffusion": 1000, "object_model": 250}  # a quarter to a sixth of each run's steps


def measure_prefix(name: str, model, record: dict) -> dict:
    """What a reproduction test compares for model `name`, measured as its full run's record was."""
    if name == "world_model":
        from .data import CANONICAL
        from .world_model import as_predictor

        errors = recorded_errors(as_predictor(model), record, CANONICAL)
        return {"model_error_px": {k: round(v, 4) for k, v in errors.items()}}
    if name == "object_model":
        from .data import THREE_BALLS
        from .objects import as_predictor

        errors = recorded_errors(as_predictor(model), record, THREE_BALLS)
        return {"model_error_px": {k: round(v, 4) for k, v in errors.items()}}
    if name == "diffusion":
        from .video_generation import reference_metrics

        m = reference_metrics(model)
        return {key: m[key] for key in ("real_law_pass_rate", "roundtrip_law_pass_rate", "law_pass_rate", "prompt_adherence")}
    raise ValueError(f"no reproduction prefix is defined for {name!r}; known: {sorted(PREFIX_STEPS)}")


def reproduce_prefix(name: str, steps: int | None = None, record: dict | None = None) -> dict:
    """Train `name`'s recorded recipe stretched to `steps` (default PREFIX_STEPS[name]) on one thread and
    measure it: {"steps", "threads", "train_cpu_seconds", measure_prefix's keys}. `record`: the run's record
    (default: the recorded one, registry.load_record), for a benchmark that records a new run."""
    import time

    import torch

    if name not in PREFIX_STEPS:
        raise ValueError(f"no reproduction prefix is defined for {name!r}; known: {sorted(PREFIX_STEPS)}")
    steps = PREFIX_STEPS[name] if steps is None else steps
    record = registry.load_record(name) if record is None else record
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.process_time()
        model, _ = registry.get(name).train(record, steps=steps, progress=False)
        seconds = time.process_time() - start
        return {"steps": steps, "threads": 1, "train_cpu_seconds": round(seconds, 1), **measure_prefix(name, model, record)}
    finally:
        torch.set_num_threads(threads)
