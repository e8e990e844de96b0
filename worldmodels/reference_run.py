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

