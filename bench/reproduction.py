"""Record the reproduction prefix of a reference run: its recipe stretched to fewer steps (registry.stretch),
trained on one thread and measured as the full run was (worldmodels.reference_run.reproduce_prefix). The
reproduction tests retrain that prefix and compare with what this stores: the same code, seed and thread
count retrained from scratch in a quarter to a sixth of the full run's time (chapter 5 retrains its full run
in the book's checks).

    python bench/reproduction.py world_model           # train the prefix, print one JSON object last
    python bench/reproduction.py diffusion --save      # ... and store it in the record as metrics.reproduction

bench/objects.py --save records the object model's prefix the same way with its run; JEPA and the latent-action
model record theirs in their own benchmarks (bench/jepa.py, bench/latent_actions.py).
"""

from __future__ import annotations

import argparse
import json

from worldmodels import registry
from worldmodels.reference_run import PREFIX_STEPS, reproduce_prefix


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(PREFIX_STEPS))
    parser.add_argument("--save", action="store_true", help="store the result in the record as metrics.reproduction")
    args = parser.parse_args(argv)
    out = {"model": args.name, **reproduce_prefix(args.name)}
    if args.save:
        record = registry.load_record(args.name)
        record["metrics"]["reproduction"] = {**{k: v for k, v in out.items() if k != "model"},
                                             "command": f"python bench/reproduction.py {args.name} --save"}
        registry.save_record(record, registry.get(args.name).reference.with_suffix(".json"))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
