"""The user's page, step by step, on examples/release-notes.dlm with the embedded default base.

train -> preference mine --samples 4 --max-pairs 6 --apply -> train --phase preference -> prompt,
then the staged path (mine -> list -> apply) and --no-mined. Every step checks the document,
the store, run.json, `dlm show --json` and `dlm metrics --json`, not only exit codes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.document.io import read_document
from dlm_core.store.store import Store

pytestmark = pytest.mark.slow

HAND_WRITTEN = """
::preference::
### Prompt
How should release notes read?
### Chosen
Short, factual, and low-drama.
### Rejected
Release notes should be exciting, long and full of exclamation marks!
"""


def mined(path: Path) -> list:  # type: ignore[type-arg]
    return [s for s in read_document(path).sections if s.auto_mined]


def test_the_seed_rhythm(cli, release_notes: Path) -> None:  # type: ignore[no-untyped-def]
    original = release_notes.read_text(encoding="utf-8")

    # 1. dlm train: a document without frontmatter gets one, SFT writes v0001.
    cli("train", str(release_notes))
    text = release_notes.read_text(encoding="utf-8")
    assert text.startswith("---\ndlm_id: ") and text.endswith(original)
    document = read_document(release_notes)
    store = Store(cli.home, document.dlm_id)  # type: ignore[arg-type]
    sft = store.version(1).run
    assert sft is not None and (sft.phase, sft.trainer, sft.parent_version) == ("sft", "sft", None)
    assert sft.rows == {"prose": 1, "instruction": 8} and sft.steps > 0 and sft.tokens > 0
    show = cli.json("show", str(release_notes))
    assert show["dlm_id"] == document.dlm_id and show["store"]["current"] == "v0001"
    assert [v["phase"] for v in show["store"]["versions"]] == ["sft"]
    runs = cli.json("metrics", str(release_notes))["runs"]
    assert [(r["run"]["kind"], r["run"]["phase"], r["run"]["status"]) for r in runs] == [
        ("train", "sft", "succeeded")
    ]
    assert [s["step"] for s in runs[0]["steps"]] == list(range(1, sft.steps + 1))

    # 2. mine 4 samples per prompt, keep at most 6 pairs, write them at once.
    mine = cli.json(
        "preference",
        "mine",
        str(release_notes),
        "--samples",
        "4",
        "--max-pairs",
        "6",
        "--apply",
        "--seed",
        "1",
    )
    pairs = mine["pairs"]
    assert mine["prompts"] == 8 and mine["candidates"] == 32 and 1 <= len(pairs) <= 6
    assert mine["applied"] == len(pairs) and mine["staged_plan"] is None
    sections = mined(release_notes)
    assert len(sections) == len(pairs)
    assert all(
        s.provenance.judge_name == "sway" and s.provenance.mined_run_id == mine["run_id"]
        for s in sections
    )
    assert (release_notes.parent / "release-notes.dlm.bak").read_text(encoding="utf-8") == text
    assert release_notes.read_text(encoding="utf-8").startswith(
        text
    )  # everything before is byte-identical
    run = cli.json("metrics", str(release_notes), "--run-id", str(mine["run_id"]))["runs"][0]
    assert run["run"]["kind"] == "mine" and run["run"]["summary"]["pairs"] == len(pairs)
    assert sum(1 for e in run["mining_events"] if e["event"] == "pair") == len(pairs)
    assert (
        cli.json("show", str(release_notes))["store"]["latest_mining"]["run_id"] == mine["run_id"]
    )

    # 3. train the preference phase: v0002 continues v0001 on the mined pairs.
    cli("train", str(release_notes), "--phase", "preference")
    pref = store.version(2).run
    assert pref is not None and (pref.phase, pref.trainer, pref.parent_version) == (
        "preference",
        "dpo",
        1,
    )
    assert (pref.mined_included, pref.mined_excluded, pref.rows) == (
        len(pairs),
        0,
        {"preference": len(pairs)},
    )
    assert cli.json("show", str(release_notes))["store"]["current"] == "v0002"

    # 4. prompt the new version.
    answer = cli(
        "prompt", str(release_notes), "Write this week's changelog intro.", "--max-tokens", "48"
    ).stdout
    assert answer.strip()

    # The staged path: mine -> list -> apply.
    staged = cli.json(
        "preference",
        "mine",
        str(release_notes),
        "--samples",
        "4",
        "--max-pairs",
        "6",
        "--seed",
        "2",
    )
    assert staged["applied"] == 0
    before = release_notes.read_text(encoding="utf-8")
    if staged["pairs"]:
        listing = cli.json("preference", "list", str(release_notes))
        assert [p["run_id"] for p in listing["staged"]] == [staged["run_id"]]
        assert (
            release_notes.read_text(encoding="utf-8") == before
        )  # staging never touches the document
        cli("preference", "apply", str(release_notes))
        assert len(mined(release_notes)) == len(pairs) + len(staged["pairs"])
        assert cli.json("preference", "list", str(release_notes))["staged"] == []

    # --no-mined: with only mined pairs there is nothing left, and the error says how many were left out.
    everything = len(mined(release_notes))
    refused = cli("train", str(release_notes), "--phase", "preference", "--no-mined", ok=False)
    assert (
        refused.returncode == 1
        and f"{everything} auto-mined left out by --no-mined" in refused.stderr
    )
    release_notes.write_text(
        release_notes.read_text(encoding="utf-8") + HAND_WRITTEN, encoding="utf-8"
    )
    cli("train", str(release_notes), "--phase", "preference", "--no-mined")
    latest = store.current()
    assert latest is not None and latest.run is not None
    assert (latest.run.mined_included, latest.run.mined_excluded, latest.run.rows) == (
        0,
        everything,
        {"preference": 1},
    )
