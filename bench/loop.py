"""The seed's rhythm, timed step by step through the real `dlm` command line.

On a fresh copy of the fixture with the embedded default base (already
converted): ``dlm train``, ``dlm preference mine --samples 4 --max-pairs 6
--apply``, ``dlm train --phase preference``, ``dlm prompt``. Each step is a
separate process, as a user runs it, so the seconds include start-up and
model loading. Prints one JSON object::

    .venv/bin/python bench/loop.py [--home DIR]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import arguments, cleanup, fresh_fixture, warm_base

DLM = str(Path(sys.executable).with_name("dlm"))


def main() -> None:
    args = arguments(__doc__ or "").parse_args()
    warm_base(args.home)
    path = fresh_fixture(args.home)
    env = {**os.environ, "DLM_HOME": str(args.home), "HF_HUB_OFFLINE": "1"}
    steps = [
        ("train", ["train", str(path)]),
        (
            "mine",
            [
                "preference",
                "mine",
                str(path),
                "--samples",
                "4",
                "--max-pairs",
                "6",
                "--apply",
                "--seed",
                "1",
            ],
        ),
        ("train_preference", ["train", str(path), "--phase", "preference"]),
        ("prompt", ["prompt", str(path), "Write this week's changelog intro."]),
    ]
    seconds: dict[str, float] = {}
    outputs: dict[str, str] = {}
    for name, command in steps:
        clock = time.perf_counter()
        result = subprocess.run([DLM, *command], env=env, capture_output=True, text=True)
        seconds[name] = round(time.perf_counter() - clock, 2)
        if result.returncode != 0:
            print(json.dumps({"failed": name, "stderr": result.stderr[-2000:]}, indent=2))
            sys.exit(1)
        outputs[name] = result.stdout.strip()[:300]
    mined = path.read_text(encoding="utf-8").count("<!-- dlm-auto-mined:")
    print(
        json.dumps(
            {
                "base_model": "smollm2-135m",
                "seconds": seconds,
                "total_seconds": round(sum(seconds.values()), 2),
                "mined_sections": mined,
                "answer": outputs["prompt"],
            },
            indent=2,
        )
    )
    cleanup(path)


if __name__ == "__main__":
    main()
