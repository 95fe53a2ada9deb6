"""What a served model does as the ``openai`` judge, on pairs whose answer is known.

Starts llama.cpp's server (``python -m llama_cpp.server``) on the embedded
base's GGUF (SmolLM2-135M-Instruct Q4_1) and asks the ``openai`` judge, with
its default rubric, about pairs where the house style says which answer is
better: the terse answers of ``dlm_core.testing.STYLE_PAIRS`` and of the
fixture's instruction records against chatty, hype-laden ones. Counts how
often the judge agrees (chosen scored higher), ties and disagrees, the
margins, the unreadable replies, pointwise and pairwise. Prints one JSON
object::

    .venv/bin/python bench/judge_openai.py [--model-gguf PATH] [--alias NAME]

Pass ``--base-url URL --alias NAME`` to measure a model some other server
already serves. Requires ``llama-cpp-python[server]`` for the default.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import FIXTURE, REJECTED

from dlm_core.context import PluginContext
from dlm_core.document.parser import parse
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.testing import STYLE_PAIRS, LlamaServer, embedded_gguf


def known_pairs() -> list[tuple[str, str, str]]:
    """(prompt, better, worse): the style pairs, then the fixture's answers against a chatty one."""
    fixture = parse(FIXTURE.read_text(encoding="utf-8"))
    records = [r for s in fixture.of_type("instruction") for r in s.records]
    return list(STYLE_PAIRS) + [(r["Q"], r["A"], REJECTED) for r in records]


def judge_pairs(
    host: PluginHost, context: PluginContext, model: str, pairs: list[tuple[str, str, str]]
) -> dict[str, Any]:
    judge = host.judge(f"openai:{model}", context)
    margins: list[float] = []
    unscored = agree = disagree = ties = 0
    clock = time.perf_counter()
    for prompt, better, worse in pairs:
        good, bad = judge.score(prompt, [better, worse])
        if math.isnan(good) or math.isnan(bad):
            unscored += 1
            continue
        margin = good - bad
        margins.append(margin)
        agree += margin > 0
        disagree += margin < 0
        ties += margin == 0
    seconds = time.perf_counter() - clock
    return {
        "pairs": len(pairs),
        "agree": agree,
        "ties": ties,
        "disagree": disagree,
        "unscored_pairs": unscored,
        "agreement": round(agree / len(pairs), 3),
        "margins": sorted(margins),
        "mean_margin": round(statistics.fmean(margins), 3) if margins else None,
        "pairs_at_default_threshold": sum(1 for m in margins if m >= judge.default_threshold),
        "default_threshold": judge.default_threshold,
        "retried_replies": judge.retried,
        "requests": judge.requests,
        "response_format": judge.response_format,
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model-gguf", type=Path, help="GGUF to serve (default: the embedded base's)"
    )
    parser.add_argument("--base-url", help="measure a model already served here instead")
    parser.add_argument("--alias", default="smollm2-135m", help="the served model's name")
    args = parser.parse_args()
    host = PluginHost.discover()
    pairs = known_pairs()
    threads = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as scratch:
        server = None
        base_url = args.base_url
        if base_url is None:
            gguf = args.model_gguf or embedded_gguf()
            server = LlamaServer(gguf, Path(scratch) / "server.log", threads=threads)
            base_url = server.base_url
        try:
            report: dict[str, Any] = {
                "judge_model": args.alias,
                "server": base_url if server is None else f"llama-cpp-python, {threads} threads",
            }
            for mode in ("pointwise", "pairwise"):
                context = PluginContext(
                    document=parse("---\nsystem_prompt: You are concise.\n---\nNotes.\n"),
                    document_path=None,
                    base=parse_base("smollm2-135m"),
                    adapter_path=None,
                    home=Path(scratch),
                    options={"judge_options": {"base_url": base_url, "mode": mode}},
                    say=lambda _m: None,
                )
                report[mode] = judge_pairs(host, context, args.alias, pairs)
        finally:
            if server is not None:
                server.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
