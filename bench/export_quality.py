"""What GGUF quantization costs on the fixture: agreement with transformers, size, export time.

Trains the fixture with the defaults, exports the adapter as ``hf`` and as
GGUF at f16, q8_0 and q4_k_m, and compares llama.cpp with the transformers
reload of the ``hf`` export on the fixture's 8 prompts: the share of
positions of transformers' greedy answers (up to 64 tokens, teacher-forced)
where llama.cpp's top-1 token is the same, and how many prompts give the
same first 32 greedy tokens. Prints one JSON object::

    .venv/bin/python bench/export_quality.py [--home DIR]
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from common import arguments, cleanup, fresh_fixture, warm_base

from dlm_core.document.io import read_document
from dlm_core.export import ExportOptions, export_document
from dlm_core.mining.prompts import mining_prompts
from dlm_core.plugins import PluginHost
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

ANSWER_TOKENS, GREEDY_TOKENS = 64, 32


def reference(
    hf_dir: Path, prompts: list[str]
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Prompt ids and transformers' greedy answer ids (float32), per prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    ids, answers = {}, {}
    for prompt in prompts:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        ids[prompt] = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            out = model.generate(
                torch.tensor([ids[prompt]]), max_new_tokens=ANSWER_TOKENS, do_sample=False
            )
        answers[prompt] = out[0, len(ids[prompt]) :].tolist()
    return ids, answers


def agreement(
    gguf: Path, ids: dict[str, list[int]], answers: dict[str, list[int]]
) -> dict[str, Any]:
    import numpy as np
    from llama_cpp import Llama

    from dlm_core.export.llamacpp import without_extra_buffers

    with without_extra_buffers():
        model = Llama(model_path=str(gguf), n_ctx=512, logits_all=True, verbose=False)
    agree = total = same_prefix = 0
    for prompt, answer in answers.items():
        model.reset()
        model.eval(ids[prompt] + answer[:-1])
        start = len(ids[prompt]) - 1
        top1 = np.argmax(model.scores[start : start + len(answer)], axis=-1)
        agree += int((top1 == np.array(answer)).sum())
        total += len(answer)
        # Greedy from llama.cpp's own choices: the first disagreement ends the shared prefix.
        first = answer[:GREEDY_TOKENS]
        same_prefix += int(bool((top1[: len(first)] == np.array(first)).all()))
    return {
        "top1_agreement": round(agree / total, 4),
        "positions": total,
        "prompts_with_same_first_32_greedy_tokens": same_prefix,
        "megabytes": round(gguf.stat().st_size / 1e6, 1),
    }


def main() -> None:
    args = arguments(__doc__ or "").parse_args()
    warm_base(args.home)
    host = PluginHost.discover()
    path = fresh_fixture(args.home)
    train_document(
        Workspace(args.home, host, say=lambda _m: None),
        path,
        TrainOptions(phase="sft", progress=False),
    )
    prompts = mining_prompts(read_document(path))

    def export(**options: Any) -> tuple[Path, float]:
        clock = time.perf_counter()
        result = export_document(
            Workspace(args.home, host, say=lambda _m: None),
            path,
            ExportOptions(progress=False, **options),
        )
        return result.out, time.perf_counter() - clock

    export(target="gguf", quant="f16", out=path.parent / "warm")  # fetch the converters once
    hf_dir, hf_seconds = export(target="hf")
    ids, answers = reference(hf_dir, prompts)
    report: dict[str, Any] = {
        "base_model": "smollm2-135m",
        "prompts": len(prompts),
        "hf_export_seconds": round(hf_seconds, 1),
        "mean_answer_tokens": round(sum(map(len, answers.values())) / len(answers), 1),
    }
    for quant in ("f16", "q8_0", "q4_k_m"):
        out, seconds = export(target="gguf", quant=quant)
        [gguf] = out.glob("*.gguf")
        report[quant] = {"export_seconds": round(seconds, 1), **agreement(gguf, ids, answers)}
    print(json.dumps(report, indent=2))
    cleanup(path)


if __name__ == "__main__":
    main()
