"""`dlm loop --rounds 2` with every training default, on the real base, as a user runs it.

The release-notes fixture without any preference settings (so the phase runs
the defaults: ``num_epochs: auto``, DPO at its LoRA learning rate, the
overshoot guard), eight held-out ``::eval::`` prompts, and a cli judge that
prefers shorter answers. One command: SFT first, then rounds of mine, apply,
preference phase and held-out check, until a round does not win or two are
done. The first round must beat the SFT adapter on the held-out prompts;
what the loop printed, recorded and left current must agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_two_rounds_with_defaults_improve_on_sft_and_leave_the_best_current(
    cli, release_notes: Path, terse_judge: str, held_out: str
) -> None:  # type: ignore[no-untyped-def]
    release_notes.write_text(release_notes.read_text(encoding="utf-8") + held_out, "utf-8")
    cli("train", str(release_notes), "--phase", "sft")

    loop = cli.json(
        "loop",
        str(release_notes),
        "--rounds",
        "2",
        "--samples",
        "4",
        "--max-new-tokens",
        "128",
        "--seed",
        "1",
        "--judge",
        terse_judge,
    )

    rounds = loop["rounds"]
    assert 1 <= len(rounds) <= 2
    first = rounds[0]
    assert (first["parent"], first["version"]) == (1, 2)
    assert first["pairs"] >= 4
    for number, done in enumerate(rounds, 1):
        check = done["verdict"] or {}
        print(
            f"\nloop round {number}: {done['pairs']} pairs, v{done['version']:04d} vs "
            f"v{done['parent']:04d} won {check.get('win_rate', float('nan')):.2f} (95% CI "
            f"{check.get('ci_low', float('nan')):.2f}-{check.get('ci_high', float('nan')):.2f}), "
            f"words {check.get('mean_words_parent', float('nan')):.1f} -> "
            f"{check.get('mean_words_new', float('nan')):.1f}"
        )
    print(f"stopped: {loop['stopped']}; best v{loop['best_version']:04d}")
    verdict = first["verdict"]
    assert verdict["prompts"] == 8 and verdict["comparisons"] == 64  # 8 answers a prompt: auto
    assert verdict["win_rate"] > 0.5
    assert verdict["mean_words_new"] < verdict["mean_words_parent"]
    if len(rounds) == 2:
        assert rounds[1]["parent"] == 2
    assert loop["stopped"]

    shown = cli.json("show", str(release_notes))
    assert loop["best_version"] >= 2
    assert shown["store"]["current"] == f"v{loop['best_version']:04d}"
    text = release_notes.read_text(encoding="utf-8")
    assert text.count("::preference::") >= first["pairs"]
    kinds = [r["run"]["kind"] for r in cli.json("metrics", str(release_notes))["runs"]]
    assert kinds[0] == "train" and kinds.count("loop") == 1
    assert kinds.count("mine") == len(rounds)
