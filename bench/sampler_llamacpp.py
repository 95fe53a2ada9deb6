"""Sampling throughput on the mining fixture: the llamacpp sampler against the hf sampler.

Trains the fixture with the defaults (as bench/mine.py does), then, in one
process and on the same adapter, samples its 8 prompts x 4 candidates at
256 new tokens (temperature 0.7, one seed) with the ``hf`` sampler and with
the ``llamacpp`` sampler at each ``--quant``. The GGUF conversion (once per
adapter version) and a warm-up call are timed apart. Prints one JSON object::

    .venv/bin/python bench/sampler_llamacpp.py [--home DIR] [--seed 1] [--quant f16,q8_0] [--threads 1,2]
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from common import arguments, cleanup, fresh_fixture, warm_base

from dlm_core.api import is_truncated
from dlm_core.context import PluginContext
from dlm_core.document.io import read_document
from dlm_core.mining.prompts import mining_prompts
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

SAMPLES, MAX_NEW_TOKENS, TEMPERATURE = 4, 256, 0.7


def timed(sampler: Any, prompts: list[str], seed: int) -> dict[str, Any]:
    clock = time.perf_counter()
    candidates = sampler.sample(
        prompts,
        SAMPLES,
        temperature=TEMPERATURE,
        top_p=None,
        max_new_tokens=MAX_NEW_TOKENS,
        seed=seed,
    )
    seconds = time.perf_counter() - clock
    tokens = sampler.generated_tokens
    flat = [c for row in candidates for c in row]
    return {
        "seconds": round(seconds, 2),
        "candidates": len(flat),
        "generated_tokens": tokens,
        "generated_tokens_per_second": round(tokens / seconds, 1),
        "truncated_candidates": sum(map(is_truncated, flat)),
        "mean_answer_tokens": round(tokens / len(flat), 1),
    }


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quant", default="f16,q8_0", help="llamacpp GGUF precisions to time")
    parser.add_argument("--threads", default="1,2", help="llamacpp CPU thread counts to time")
    args = parser.parse_args()
    warm_base(args.home)
    host = PluginHost.discover()
    path = fresh_fixture(args.home)
    clock = time.perf_counter()
    train_document(
        Workspace(args.home, host, say=lambda _m: None),
        path,
        TrainOptions(phase="sft", progress=False),
    )
    train_seconds = time.perf_counter() - clock
    document = read_document(path)
    store = Store(args.home, document.dlm_id)  # type: ignore[arg-type]
    adapter = store.current().path  # type: ignore[union-attr]
    prompts = mining_prompts(document)

    def context() -> PluginContext:
        return PluginContext(
            document=document,
            document_path=path,
            base=parse_base("smollm2-135m"),
            adapter_path=adapter,
            home=args.home,
            say=lambda _m: None,
            show_progress=False,
        )

    report: dict[str, Any] = {
        "base_model": "smollm2-135m",
        "prompts": len(prompts),
        "samples": SAMPLES,
        "max_new_tokens": MAX_NEW_TOKENS,
        "temperature": TEMPERATURE,
        "train_seconds": round(train_seconds, 1),
    }
    import torch

    report["torch_threads"] = torch.get_num_threads()
    report["load_average_at_start"] = [round(x, 1) for x in os.getloadavg()]
    hf = host.sampler("hf", context())
    hf.sample(prompts[:1], 1, temperature=TEMPERATURE, top_p=None, max_new_tokens=8, seed=0)
    report["hf"] = timed(hf, prompts, args.seed)
    del hf

    for quant in args.quant.split(","):
        from dlm_sampler_llamacpp.sampler import LlamaCppSampler

        sampler = LlamaCppSampler(context(), quant=quant)
        clock = time.perf_counter()
        sampler.sample(
            prompts[:1], 1, temperature=TEMPERATURE, top_p=None, max_new_tokens=8, seed=0
        )
        first_call = time.perf_counter() - clock  # conversion to GGUF (once per version) and load
        result = timed(sampler, prompts, args.seed)
        result["threads"] = sampler.threads
        result["first_call_seconds_with_conversion"] = round(first_call, 1)
        result["over_hf"] = round(
            result["generated_tokens_per_second"] / report["hf"]["generated_tokens_per_second"], 2
        )
        report[f"llamacpp_{quant}"] = result
        sampler.close()
    print(json.dumps(report, indent=2))
    cleanup(path)


if __name__ == "__main__":
    main()
