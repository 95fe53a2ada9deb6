"""Shared set-up for the benchmark scripts: a warm default base and fresh copies of the fixture.

The default base is converted once into ``--home`` (default
``~/.cache/dlm-bench/home``) and reused; each benchmark works on its own
copy of ``examples/release-notes.dlm`` in a scratch folder under that home,
so timings exclude the one-time download and conversion.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from dlm_core.models import embedded

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "examples" / "release-notes.dlm"
DEFAULT_HOME = Path.home() / ".cache" / "dlm-bench" / "home"

# Verbose alternatives to the fixture's terse answers: preference pairs for the DPO benchmark.
REJECTED = (
    "Release notes are a wonderful opportunity to celebrate everything the team has shipped, so "
    "they should be long, enthusiastic and full of exciting details about every single change!"
)


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--home", type=Path, default=DEFAULT_HOME, help="dlm home with the converted base"
    )
    return parser


def warm_base(home: Path) -> float:
    """Seconds spent making the default base ready (0 when it already was)."""
    if embedded.is_ready(home):
        return 0.0
    clock = time.perf_counter()
    embedded.build_from_wheel(home, say=lambda _m: None)
    return time.perf_counter() - clock


def fresh_fixture(home: Path, *, with_pairs: bool = False) -> Path:
    """A new copy of the fixture (a new dlm_id on first train) in a scratch folder."""
    folder = Path(tempfile.mkdtemp(prefix="bench-", dir=home))
    path = folder / "release-notes.dlm"
    text = FIXTURE.read_text(encoding="utf-8")
    if with_pairs:
        from dlm_core.document.parser import parse

        questions = [r["Q"] for s in parse(text).of_type("instruction") for r in s.records]
        answers = [r["A"] for s in parse(text).of_type("instruction") for r in s.records]
        records = "\n".join(
            f"### Prompt\n{q}\n### Chosen\n{a}\n### Rejected\n{REJECTED}\n"
            for q, a in zip(questions, answers, strict=True)
        )
        text += f"\n::preference::\n{records}"
    path.write_text(text, encoding="utf-8")
    return path


def cleanup(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)
