"""The course's recorded world-model run: weights and a JSON record, saved and loaded.

Chapter 6 and the benchmarks load the reference run instead of retraining it. `bench/world_model.py
--save` trains it with worldmodels.world_model_training and writes both files; the record holds the
seed, the three configs (world_model_training.configs_from_record rebuilds them), the training time and
the measured metrics, and tests/test_world_model.py checks that the weights reproduce them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from .world_model import WorldModel, WorldModelConfig

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
REFERENCE_CHECKPOINT = CHECKPOINT_DIR / "world_model.pt"
REFERENCE_RECORD = CHECKPOINT_DIR / "world_model.json"


def save(model: WorldModel, path=REFERENCE_CHECKPOINT, record: dict | None = None) -> None:
    """Write the weights as float16 (half the size; the stored model is the one the record measures) and,
    with `record`, a JSON file beside it with the same stem."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() for k, v in model.state_dict().items()}
    torch.save({"config": dataclasses.asdict(model.config), "state_dict": state}, path)
    if record is not None:
        path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")


def load(path=REFERENCE_CHECKPOINT) -> WorldModel:
    """Load a model written by `save` (the course's reference run by default), in eval mode, float32."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no checkpoint at {path}: train one with bench/world_model.py --save")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = WorldModel(WorldModelConfig(**blob["config"]))
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return model.eval()


def load_record(path=REFERENCE_RECORD) -> dict:
    """The JSON record of a run: seed, configs, training time and metrics."""
    return json.loads(Path(path).read_text())
