"""Time the ``.dlm`` reader and writer on a generated ~10 MB document.

The document holds prose (with code blocks), many ``::instruction::``
sections and many ``::preference::`` sections, a third of them auto-mined,
with texts that need escaping. It is generated from a fixed seed, parsed
and written back three times, and the best times are printed as one JSON
object::

    .venv/bin/python bench/parse.py [--megabytes 10]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from dlm_core.document.model import Document, Section
from dlm_core.document.parser import parse
from dlm_core.document.provenance import MinedProvenance
from dlm_core.document.serializer import serialize

T = TypeVar("T")

WORDS = [
    "the",
    "adapter",
    "learns",
    "vocabulary",
    "style",
    "release",
    "notes",
    "short",
    "factual",
    "low",
    "drama",
    "change",
    "reason",
    "user",
    "must",
    "breaking",
    "heading",
    "plainly",
    "crash",
    "empty",
    "input",
    "flag",
    "rename",
    "script",
    "changelog",
    "intro",
    "sentence",
    "describe",
    "instead",
    "élan",
    "naïve",
    "日本",
    "✓",
]


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _paragraphs(rng: random.Random, count: int) -> str:
    lines: list[str] = []
    for index in range(count):
        if index:
            lines.append("")
        for _ in range(rng.randint(1, 4)):
            lines.append(_sentence(rng, rng.randint(6, 14)))
    return "\n".join(lines)


def _record_text(rng: random.Random) -> str:
    text = _paragraphs(rng, rng.randint(1, 3))
    roll = rng.random()
    if roll < 0.05:
        text += "\n### A\n::preference::"  # grammar-like lines that get escaped
    elif roll < 0.10:
        text += "\n```python\nprint('hi')\n```"
    return text


def _prose(rng: random.Random) -> str:
    text = _paragraphs(rng, rng.randint(2, 6))
    if rng.random() < 0.3:
        text += "\n\n```\n::instruction::\n### Q\n```"
    return text


def build(target_bytes: int, seed: int = 0) -> Document:
    """A document of about ``target_bytes`` once written."""
    rng = random.Random(seed)
    sections: list[Section] = [Section.prose(_prose(rng))]
    size = 0
    run_id = 0
    while size < target_bytes:
        roll = rng.random()
        if roll < 0.2:
            section = Section.prose(_prose(rng), fenced=True)
        elif roll < 0.6:
            pairs = [(_record_text(rng), _record_text(rng)) for _ in range(rng.randint(1, 8))]
            section = Section.instruction(pairs)
        else:
            triples = [
                (_record_text(rng), _record_text(rng), _record_text(rng))
                for _ in range(rng.randint(1, 3))
            ]
            provenance = None
            if rng.random() < 0.33:
                run_id += 1
                provenance = MinedProvenance(
                    "sway", rng.random(), rng.random(), "2026-04-23T18:42:11Z", run_id
                )
            section = Section.preference(triples, provenance)
        sections.append(section)
        size += (
            sum(len(f.text) + 8 for r in section.records for f in r.fields) + len(section.text) + 20
        )
    return Document(sections=tuple(sections))


def _best(fn: Callable[[], T], runs: int) -> tuple[float, T]:
    """The fastest of ``runs`` wall-clock timings, and the last result."""
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    text = serialize(build(int(args.megabytes * 1_000_000)))
    parse_seconds, document = _best(lambda: parse(text), args.runs)
    serialize_seconds, written = _best(lambda: serialize(document), args.runs)
    if written != text:
        print("error: the parsed document did not write back byte for byte", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "bytes": len(text.encode("utf-8")),
                "sections": len(document.sections),
                "parse_seconds": round(parse_seconds, 3),
                "serialize_seconds": round(serialize_seconds, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
