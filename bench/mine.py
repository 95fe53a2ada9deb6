"""Mining throughput on the fixture: batched sampling vs one sample per call.

Trains the fixture with the defaults, then times a whole mine run (default
base, 4 samples, 256 max new tokens, sway judge, the hf sampler) through
dlm's own mining loop, and, in the same process and on the same adapter,
the same sampler driven one prompt and one sample per call. Prints one JSON
object::

    .venv/bin/python bench/mine.py [--home DIR] [--seed 1]
"""

from __future__ import annotations

import json
import time

from common import arguments, cleanup, fresh_fixture, warm_base

from dlm_core.context import PluginContext
from dlm_core.document.io import read_document
from dlm_core.mining.prompts import mining_prompts
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store
from dlm_core.training.phases import TrainOptions, train_document

SAMPLES, MAX_NEW_TOKENS, TEMPERATURE = 4, 256, 0.7


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    warm_base(args.home)
    host = PluginHost.discover()
    path = fresh_fixture(args.home)
    train_document(path, TrainOptions(phase="sft", progress=False), home=args.home, host=host, say=lambda _m: None)

    options = MineOptions(samples=SAMPLES, max_new_tokens=MAX_NEW_TOKENS, temperature=TEMPERATURE, seed=args.seed, progress=False)
    clock = time.perf_counter()
    outcome = mine_document(path, options, home=args.home, host=host, say=lambda _m: None)
    mine_seconds = time.perf_counter() - clock

    document = read_document(path)
    store = Store(args.home, document.dlm_id)  # type: ignore[arg-type]
    context = PluginContext(
        document=document,
        document_path=path,
        base=parse_base("smollm2-135m"),
        adapter_path=store.current().path,  # type: ignore[union-attr]
        home=args.home,
        say=lambda _m: None,
    )
    sampler = host.sampler("hf", context)
    prompts = mining_prompts(document)
    sampler.sample(prompts[:1], 1, temperature=TEMPERATURE, top_p=None, max_new_tokens=8, seed=0)  # load the model
    clock = time.perf_counter()
    batched = sampler.sample(prompts, SAMPLES, temperature=TEMPERATURE, top_p=None, max_new_tokens=MAX_NEW_TOKENS, seed=args.seed)
    batched_seconds = time.perf_counter() - clock
    batched_tokens = sampler.generated_tokens
    single_seconds, single_tokens, single_candidates = 0.0, 0, 0
    for prompt in prompts:
        for sample in range(SAMPLES):
            clock = time.perf_counter()
            sampler.sample([prompt], 1, temperature=TEMPERATURE, top_p=None, max_new_tokens=MAX_NEW_TOKENS, seed=args.seed + sample)
            single_seconds += time.perf_counter() - clock
            single_tokens += sampler.generated_tokens
            single_candidates += 1
    candidates = sum(len(c) for c in batched)
    report = {
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
            "pairs": len(outcome.pairs),
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
        report["sampler_batched"]["candidates_per_second"] / report["sampler_one_at_a_time"]["candidates_per_second"], 2
    )
    print(json.dumps(report, indent=2))
    cleanup(path)


if __name__ == "__main__":
    main()
