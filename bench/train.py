"""SFT and DPO throughput on the fixture with the embedded default base.

Trains ``examples/release-notes.dlm`` (prose + 8 Q/A) with the document
defaults, then a DPO phase on 8 pairs (each fixture answer chosen over a
verbose rejected one), through dlm's own orchestration and the installed
TRL trainer plugin. Prints one JSON object; tokens/s counts the non-padding
tokens trained per second of training::

    .venv/bin/python bench/train.py [--home DIR] [--repeat 3]
"""

from __future__ import annotations

import json
import statistics
import time

from common import arguments, cleanup, fresh_fixture, warm_base

from dlm_core.plugins import PluginHost
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each phase (the median is reported)"
    )
    args = parser.parse_args()
    base_seconds = warm_base(args.home)
    host = PluginHost.discover()
    runs = []
    for _ in range(args.repeat):
        path = fresh_fixture(args.home, with_pairs=True)
        clock = time.perf_counter()
        sft, dpo = train_document(
            Workspace(args.home, host, say=lambda _m: None), path, TrainOptions(progress=False)
        )
        runs.append({"sft": sft, "dpo": dpo, "command_seconds": time.perf_counter() - clock})
        cleanup(path)

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 2)

    report = {
        "base_model": "smollm2-135m",
        "repeat": args.repeat,
        "base_setup_seconds": round(base_seconds, 1),
        "sft": {
            "tokens_per_second": median([r["sft"].tokens_per_second for r in runs]),
            "seconds": median([r["sft"].wall_seconds for r in runs]),
            "steps": runs[0]["sft"].steps,
            "tokens": runs[0]["sft"].tokens,
        },
        "dpo": {
            "tokens_per_second": median([r["dpo"].tokens_per_second for r in runs]),
            "seconds": median([r["dpo"].wall_seconds for r in runs]),
            "steps": runs[0]["dpo"].steps,
            "tokens": runs[0]["dpo"].tokens,
        },
        "both_phases_command_seconds": median([r["command_seconds"] for r in runs]),
    }
    report["dpo_over_sft"] = round(
        report["dpo"]["tokens_per_second"] / report["sft"]["tokens_per_second"], 2
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
