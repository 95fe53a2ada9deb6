"""Mining with a terseness-preferring cli judge, then the preference phase, wins the A/B.

On examples/release-notes.dlm with held-out ::eval:: prompts: SFT (v0001), mine with a
cli judge that prefers shorter answers, DPO (v0002), then `dlm compare --a 1 --b 2` with that
judge rates v0002 above v0001 on prompts it never trained on (3 sampled answers a prompt
and side, 24 comparisons). Mining leaves out answers cut off at --max-new-tokens, so every
rejected answer is complete. The preference phase needs a strong step to move a 135M model
on 8 pairs (DPO, lr 3e-4, 8 epochs); the default lr 5e-6 barely moves it.
"""

from __future__ import annotations

import sys
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

HELD_OUT = """
::eval::
### Q
Write a one-line note for a removed deprecated endpoint.

### Q
How should a security fix be announced?

### Q
Write a one-line note for a faster startup.

### Q
What should a release note avoid?

### Q
Write a one-line note for a changed default port.

### Q
How many sentences should a release summary have?

### Q
Write a one-line note for a fixed memory leak.

### Q
Who is the audience of a release note?
"""

TERSE_JUDGE = """
import json, sys
candidate = json.load(sys.stdin)["candidate"]
print(json.dumps({"score": -float(len(candidate)), "reasoning": "shorter is better"}))
"""


def test_preference_training_on_terse_pairs_beats_sft_on_held_out_prompts(cli, release_notes: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    release_notes.write_text(FRONTMATTER + release_notes.read_text(encoding="utf-8") + HELD_OUT, encoding="utf-8")
    judge_script = tmp_path / "terse.py"
    judge_script.write_text(TERSE_JUDGE, encoding="utf-8")
    judge = f"cli:{sys.executable} {judge_script}"

    cli("train", str(release_notes))
    mine = cli.json("preference", "mine", str(release_notes), "--samples", "4", "--max-pairs", "8", "--apply", "--seed", "1", "--judge", judge)
    assert len(mine["pairs"]) >= 4
    assert all(p["score_chosen"] > p["score_rejected"] for p in mine["pairs"])
    cli("train", str(release_notes), "--phase", "preference")

    report = cli.json("compare", str(release_notes), "--a", "1", "--b", "2", "--judge", judge, "--max-new-tokens", "192", "--samples", "3", "--temp", "0.7")
    print(
        f"\ncompare v0002 vs v0001 on {report['prompts']} held-out prompts: win rate {report['win_rate']:.2f} "
        f"(95% CI {report['ci_low']:.2f}-{report['ci_high']:.2f}; {report['wins']} wins, {report['losses']} losses, "
        f"{report['ties']} ties), mean score {report['mean_score_a']:.1f} -> {report['mean_score_b']:.1f}"
    )
    assert (report["prompts"], report["comparisons"]) == (8, 24)
    assert report["mean_score_b"] > report["mean_score_a"]
    assert report["win_rate"] > 0.5
    runs = cli.json("metrics", str(release_notes))["runs"]
    assert [r["run"]["kind"] for r in runs] == ["train", "mine", "train", "compare"]
    assert runs[-1]["run"]["summary"]["win_rate"] == report["win_rate"]
