"""Mining throughput on the fixture: batched sampling vs one sample per call.

Trains the fixture with the defaults, then times a whole mine run (default
base, 4 samples, 256 max new tokens, sway judge, the hf sampler) through
dlm's own mining loop, and, in the same process and on the same adapter,
the same sampler driven one prompt and one sample per call. Prints one JSON
object::

    .venv/bin/python bench/mine.py [--home DIR] [--seed 1]

With ``--sampler openai`` the same figures are measured a second time for
the served path, in the same run and on the same adapter version: a
llama.cpp server (``python -m llama_cpp.server``, started here on a free
port, as many threads as the CPU has) serving the embedded base's GGUF
(SmolLM2-135M-Instruct Q4_1), reached through the ``openai`` sampler. The
JSON then holds ``{"hf": {...}, "openai": {...}}``, each object shaped as
above. The served model is the base, not the trained adapter (serving the
adapter needs it exported to GGUF), so its candidates differ; the figures
are about throughput. Requires ``llama-cpp-python[server]``.
``--served-only`` skips the hf figures (for a machine too busy to wait for both).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from common import arguments, cleanup, fresh_fixture, warm_base

from dlm_core.context import PluginContext
from dlm_core.document.io import read_document
from dlm_core.mining.prompts import mining_prompts
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

SAMPLES, MAX_NEW_TOKENS, TEMPERATURE = 4, 256, 0.7


def measure(
    path: Path,
    home: Path,
    host: PluginHost,
    seed: int,
    sampler_name: str,
    sampler_options: dict[str, str],
) -> dict[str, Any]:
    """Today's figures for one sampler: a whole mine run, then batched vs one at a time."""
    options = MineOptions(
        samples=SAMPLES,
        max_new_tokens=MAX_NEW_TOKENS,
        temperature=TEMPERATURE,
        seed=seed,
        sampler=sampler_name,
        sampler_options=sampler_options,
        progress=False,
    )
    clock = time.perf_counter()
    outcome = mine_document(Workspace(home, host, say=lambda _m: None), path, options)
    mine_seconds = time.perf_counter() - clock

    document = read_document(path)
    store = Store(home, document.dlm_id)  # type: ignore[arg-type]
    if outcome.staged_plan:
        store.drop_plan(outcome.run_id)  # the next run starts clean
    context = PluginContext(
        document=document,
        document_path=path,
        base=parse_base("smollm2-135m"),
        adapter_path=store.current().path,  # type: ignore[union-attr]
        home=home,
        options={"sampler_options": sampler_options},
        say=lambda _m: None,
        show_progress=False,
    )
    sampler = host.sampler(sampler_name, context)
    prompts = mining_prompts(document)
    sampler.sample(
        prompts[:1], 1, temperature=TEMPERATURE, top_p=None, max_new_tokens=8, seed=0
    )  # load the model
    clock = time.perf_counter()
    batched = sampler.sample(
        prompts,
        SAMPLES,
        temperature=TEMPERATURE,
        top_p=None,
        max_new_tokens=MAX_NEW_TOKENS,
        seed=seed,
    )
    batched_seconds = time.perf_counter() - clock
    batched_tokens = sampler.generated_tokens
    single_seconds, single_tokens, single_candidates = 0.0, 0, 0
    for prompt in prompts:
        for sample in range(SAMPLES):
            clock = time.perf_counter()
            sampler.sample(
                [prompt],
                1,
                temperature=TEMPERATURE,
                top_p=None,
                max_new_tokens=MAX_NEW_TOKENS,
                seed=seed + sample,
            )
            single_seconds += time.perf_counter() - clock
            single_tokens += sampler.generated_tokens
            single_candidates += 1
    candidates = sum(len(c) for c in batched)
    report: dict[str, Any] = {
        "base_model": "smollm2-135m",
        "prompts": len(prompts),
        "samples": SAMPLES,
        "max_new_tokens": MAX_NEW_TOKENS,
        "mine": {
            "wall_seconds": round(mine_seconds, 2),
            "sampling_seconds": round(outcome.sampling_seconds, 2),
            "judging_seconds": round(outcome.judging_seconds, 2),
            "candidates_per_second": round(outcome.candidates / mine_seconds, 3),
            "generated_tokens_per_second": round(outcome.tokens_per_second or 0.0, 1),
            "pairs": outcome.pairs,
            "skipped": outcome.skipped,
            "truncated_candidates": outcome.truncated_candidates,
        },
        "sampler_batched": {
            "seconds": round(batched_seconds, 2),
            "candidates_per_second": round(candidates / batched_seconds, 3),
            "generated_tokens_per_second": round(batched_tokens / batched_seconds, 1),
        },
        "sampler_one_at_a_time": {
            "seconds": round(single_seconds, 2),
            "candidates_per_second": round(single_candidates / single_seconds, 3),
            "generated_tokens_per_second": round(single_tokens / single_seconds, 1),
        },
    }
    report["batched_over_one_at_a_time"] = round(
        report["sampler_batched"]["candidates_per_second"]
        / report["sampler_one_at_a_time"]["candidates_per_second"],
        2,
    )
    if sampler_name == "openai":
        report["served_model"] = sampler.served_model
    return report


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--sampler",
        choices=("hf", "openai"),
        default="hf",
        help="openai: also measure the served path (a llama.cpp server started here)",
    )
    parser.add_argument(
        "--served-only", action="store_true", help="with --sampler openai: skip the hf figures"
    )
    args = parser.parse_args()
    warm_base(args.home)
    host = PluginHost.discover()
    path = fresh_fixture(args.home)
    train_document(
        Workspace(args.home, host, say=lambda _m: None),
        path,
        TrainOptions(phase="sft", progress=False),
    )
    report = {} if args.served_only else measure(path, args.home, host, args.seed, "hf", {})
    if args.sampler == "openai":
        from dlm_core.testing import LlamaServer, embedded_gguf

        threads = len(os.sched_getaffinity(0))
        with tempfile.TemporaryDirectory() as scratch:
            server = LlamaServer(embedded_gguf(), Path(scratch) / "server.log", threads=threads)
            try:
                served = measure(
                    path, args.home, host, args.seed, "openai", {"base_url": server.base_url}
                )
            finally:
                server.stop()
        served["server"] = (
            f"llama-cpp-python server, {threads} threads, {Path(embedded_gguf()).name}"
        )
        report = {"openai": served} if args.served_only else {"hf": report, "openai": served}
    print(json.dumps(report, indent=2))
    cleanup(path)


if __name__ == "__main__":
    main()
