"""Mining with a terseness-preferring cli judge, then the preference phase, wins the A/B.

On examples/release-notes.dlm with held-out ::eval:: prompts: SFT (v0001), mine with a
cli judge that prefers shorter answers, DPO (v0002), then `dlm compare --a 1 --b 2` with that
judge rates v0002 above v0001 on prompts it never trained on (3 sampled answers a prompt
and side, 24 comparisons). Mining leaves out answers cut off at --max-new-tokens, so every
rejected answer is complete. The preference phase needs a strong step to move a 135M model
on 8 pairs; this test writes its own (DPO, lr 3e-4, 8 epochs), which a document's
written values get exactly (tests/e2e/test_loop.py runs the defaults).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FRONTMATTER = """---
base_model: smollm2-135m
training:
  preference:
    method: dpo
    hyperparams: {learning_rate: 3.0e-4, num_epochs: 8}
---
"""


def test_preference_training_on_terse_pairs_beats_sft_on_held_out_prompts(
    cli, release_notes: Path, terse_judge: str, held_out: str
) -> None:  # type: ignore[no-untyped-def]
    release_notes.write_text(
        FRONTMATTER + release_notes.read_text(encoding="utf-8") + held_out, encoding="utf-8"
    )
    judge = terse_judge

    cli("train", str(release_notes))
    mine = cli.json(
        "preference",
        "mine",
        str(release_notes),
        "--samples",
        "4",
        "--max-pairs",
        "8",
        "--apply",
        "--seed",
        "1",
        "--judge",
        judge,
    )
    assert len(mine["pairs"]) >= 4
    assert all(p["score_chosen"] > p["score_rejected"] for p in mine["pairs"])
    cli("train", str(release_notes), "--phase", "preference")

    report = cli.json(
        "compare",
        str(release_notes),
        "--a",
        "1",
        "--b",
        "2",
        "--judge",
        judge,
        "--max-new-tokens",
        "192",
        "--samples",
        "3",
        "--temp",
        "0.7",
    )
    print(
        f"\ncompare v0002 vs v0001 on {report['prompts']} held-out prompts: win rate {report['win_rate']:.2f} "
        f"(95% CI {report['ci_low']:.2f}-{report['ci_high']:.2f}; {report['wins']} wins, {report['losses']} losses, "
        f"{report['ties']} ties), mean score {report['mean_score_a']:.1f} -> {report['mean_score_b']:.1f}"
    )
    assert (report["prompts"], report["comparisons"]) == (8, 24)
    assert report["mean_score_b"] > report["mean_score_a"]
    assert report["win_rate"] > 0.5
    runs = cli.json("metrics", str(release_notes))["runs"]
    # The preference phase ends with its own held-out check, recorded as a compare run.
    assert [r["run"]["kind"] for r in runs] == ["train", "mine", "train", "compare", "compare"]
    check = runs[2]["run"]["summary"]["held_out"]
    assert check["compare_run_id"] == runs[3]["run"]["id"]
    assert check["judge"] == judge
    assert runs[-1]["run"]["summary"]["win_rate"] == report["win_rate"]
