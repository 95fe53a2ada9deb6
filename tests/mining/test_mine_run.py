"""The mine run: stage or apply, list, revert, metrics, Ctrl-C, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.document.io import read_document
from dlm_core.errors import MiningError, StoreError, UnknownPluginName
from dlm_core.metrics.db import MetricsDB
from dlm_core.mining.listing import mined_listing
from dlm_core.mining.review import apply_staged, drop_staged, revert_mined
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.plugins import PluginHost
from dlm_core.protocols import Sample
from dlm_core.report import show_report
from dlm_core.store.store import Store
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

Q1, Q2 = "How should release notes read?", "What goes first?"
TERSE = "Short."
VERBOSE = "Release notes should be long, thorough, and full of adjectives."
LONG = " ".join(["Everything, in one long paragraph of text."] * 4)
TRICKY = "Breaking changes.\n\n### Chosen\n::preference::\n<!-- dlm-auto-mined: x -->\n```\nunclosed code\n\n---"


def mine(path: Path, host: PluginHost, home: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    options = MineOptions(sampler="scripted", judge="terse", progress=False, **kwargs)  # type: ignore[arg-type]
    return mine_document(Workspace(home, host, say=lambda m: None), path, options)


def review(action, path: Path, host: PluginHost, home: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    """Run a review step (apply, revert, discard) on the document, as its command does."""
    with Workspace(home, host, say=lambda m: None).open(path) as run:
        return action(run, **kwargs)


def store_of(path: Path, home: Path) -> Store:
    return Store(home, read_document(path).dlm_id)  # type: ignore[arg-type]


def test_mining_stages_a_plan_and_leaves_the_document_alone(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {
        Q1: [VERBOSE, TERSE, VERBOSE, "Medium length answer."],
        Q2: [TRICKY, LONG],
    }
    before = trained_doc.read_bytes()
    outcome = mine(trained_doc, mining_host, dlm_home, samples=4)
    assert trained_doc.read_bytes() == before
    assert sampler.calls == [([Q1, Q2], 4)]  # one batched call for all prompts
    (plan,) = store_of(trained_doc, dlm_home).plans()
    assert plan.run_id == outcome.run_id and plan.judge == "terse" and plan.complete
    assert [(p.prompt, p.chosen, p.rejected) for p in plan.pairs] == [
        (Q1, TERSE, VERBOSE),
        (Q2, TRICKY, LONG),
    ]


def test_apply_writes_mined_sections_that_parse_back_and_keep_the_rest(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: [TRICKY, LONG]}
    before = trained_doc.read_text(encoding="utf-8")
    outcome = mine(trained_doc, mining_host, dlm_home, apply=True)
    after = trained_doc.read_text(encoding="utf-8")
    assert after.startswith(before)  # every byte the user wrote is still there
    assert (trained_doc.parent / "doc.dlm.bak").read_text(encoding="utf-8") == before
    doc = read_document(trained_doc)
    mined = [s for s in doc.sections if s.auto_mined]
    assert len(mined) == 2 == outcome.applied
    record = mined[1].records[0]
    assert (record["Prompt"], record["Chosen"]) == (Q2, TRICKY)
    provenance = mined[1].provenance
    assert provenance.judge_name == "terse" and provenance.mined_run_id == outcome.run_id  # type: ignore[union-attr]
    assert provenance.judge_score_chosen == -len(TRICKY)  # type: ignore[union-attr]
    assert not store_of(trained_doc, dlm_home).plans()


def test_mining_twice_adds_no_duplicates(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["a", "bb"]}
    mine(trained_doc, mining_host, dlm_home, apply=True)
    second = mine(trained_doc, mining_host, dlm_home, apply=True)
    assert second.mined_pairs == [] and second.skipped == {"already_present": 2}
    assert len([s for s in read_document(trained_doc).sections if s.auto_mined]) == 2


def test_skips_are_counted_by_reason(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {
        Q1: ["same", "same", " same ", ""],
        Q2: ["Short, factual notes for every release.", "Short, factual notes for every release!"],
    }
    outcome = mine(trained_doc, mining_host, dlm_home)
    assert outcome.skipped == {"insufficient_variety": 1, "too_similar": 1}
    assert outcome.mined_pairs == [] and outcome.staged_plan is None


def test_answers_cut_off_at_the_token_limit_are_never_paired(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler, judge
) -> None:  # type: ignore[no-untyped-def]
    cut = Sample("Release notes should be long, thorough and", truncated=True)
    sampler.candidates = {
        Q1: [TERSE, cut, VERBOSE, Sample("Medium.", truncated=False)],
        Q2: [Sample("Break", truncated=True), "Breaking changes."],
    }
    said: list[str] = []
    options = MineOptions(
        sampler="scripted", judge="terse", progress=False, samples=4, max_new_tokens=12
    )
    outcome = mine_document(Workspace(dlm_home, mining_host, say=said.append), trained_doc, options)
    (pair,) = outcome.mined_pairs
    assert (pair.prompt, pair.chosen, pair.rejected) == (
        Q1,
        TERSE,
        VERBOSE,
    )  # the cut-off answer is the longest, yet not rejected
    assert judge.scored == [[TERSE, VERBOSE, "Medium."]]  # and never judged
    assert outcome.truncated_candidates == 2 and outcome.unique_candidates == 4
    assert outcome.skipped == {"truncated": 1}
    assert any("2 of 6 candidates hit --max-new-tokens 12" in line for line in said)
    with MetricsDB.open(store_of(trained_doc, dlm_home).metrics_path, readonly=True) as db:
        run = db.runs(kind="mine")[-1]
        (skip,) = [e for e in db.mining_events(run.id) if e.event == "skip"]
    assert run.summary["truncated_candidates"] == 2
    assert (skip.prompt, skip.reason, skip.data["detail"]) == (
        Q2,
        "truncated",
        "1 of 2 candidates hit --max-new-tokens 12",
    )


def test_candidates_the_judge_could_not_score_are_left_out_and_counted(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler, judge
) -> None:  # type: ignore[no-untyped-def]
    # A judge says "no score for this candidate" with NaN (an LLM judge whose reply
    # could not be read): the candidate is left out, never guessed, and a prompt left
    # with fewer than two scored candidates is skipped as "unscored".
    sampler.candidates = {
        Q1: [TERSE, "unreadable", VERBOSE],
        Q2: ["Breaking changes.", "unreadable"],
    }
    judge.no_score = {"unreadable"}
    said: list[str] = []
    options = MineOptions(sampler="scripted", judge="terse", progress=False, samples=3, apply=True)
    outcome = mine_document(Workspace(dlm_home, mining_host, say=said.append), trained_doc, options)
    assert [(p.prompt, p.chosen, p.rejected) for p in outcome.mined_pairs] == [(Q1, TERSE, VERBOSE)]
    assert outcome.skipped == {"unscored": 1} and outcome.unscored_candidates == 2
    assert any("the judge gave no score to 2 of 5 candidates" in line for line in said)
    with MetricsDB.open(store_of(trained_doc, dlm_home).metrics_path, readonly=True) as db:
        run = db.runs(kind="mine")[-1]
        (skip,) = [e for e in db.mining_events(run.id) if e.event == "skip"]
    assert (skip.prompt, skip.reason) == (Q2, "unscored")
    assert skip.data["detail"] == "the judge gave no score to 1 of 2 candidates"
    assert run.summary["unscored_candidates"] == 2


def test_threshold_and_max_pairs(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: ["a", "a" * 50], Q2: ["b", "b" * 10]}
    outcome = mine(trained_doc, mining_host, dlm_home, max_pairs=1)
    assert [p.prompt for p in outcome.mined_pairs] == [Q1] and outcome.skipped == {
        "over_max_pairs": 1
    }
    outcome = mine(trained_doc, mining_host, dlm_home, threshold=20.0)
    assert outcome.skipped["below_threshold"] == 1


def test_list_apply_and_revert(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    original = trained_doc.read_bytes()
    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["a", "bb"]}
    first = mine(trained_doc, mining_host, dlm_home)
    listing = mined_listing(Workspace(dlm_home, mining_host), trained_doc)
    assert [p.run_id for p in listing.staged] == [first.run_id] and listing.applied == []
    applied = review(apply_staged, trained_doc, mining_host, dlm_home)
    assert (applied.added, applied.already_present, applied.run_ids) == (2, 0, [first.run_id])
    listing = mined_listing(Workspace(dlm_home, mining_host), trained_doc)
    assert listing.staged == [] and [a.run_id for a in listing.applied] == [first.run_id] * 2
    sampler.candidates = {Q1: ["x", "xxxx"], Q2: ["y", "yyyy"]}
    second = mine(trained_doc, mining_host, dlm_home, apply=True)
    assert review(revert_mined, trained_doc, mining_host, dlm_home, run_id=first.run_id) == 2
    left = [s.provenance.mined_run_id for s in read_document(trained_doc).sections if s.auto_mined]  # type: ignore[union-attr]
    assert left == [second.run_id, second.run_id]
    assert review(revert_mined, trained_doc, mining_host, dlm_home) == 2
    assert trained_doc.read_bytes() == original


def test_interrupt_keeps_the_pairs_judged_so_far(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler, judge
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["a", "bb"]}
    judge.interrupt_after = 1
    before = trained_doc.read_bytes()
    outcome = mine(trained_doc, mining_host, dlm_home, apply=True)
    assert outcome.interrupted and trained_doc.read_bytes() == before
    (plan,) = store_of(trained_doc, dlm_home).plans()
    assert not plan.complete and [p.prompt for p in plan.pairs] == [Q1]
    with MetricsDB.open(store_of(trained_doc, dlm_home).metrics_path, readonly=True) as db:
        assert db.runs(kind="mine")[-1].status == "interrupted"


def test_every_mine_run_is_a_metrics_run_with_events(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["same", "same"]}
    outcome = mine(trained_doc, mining_host, dlm_home, samples=2, seed=5)
    store = store_of(trained_doc, dlm_home)
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        (run,) = db.runs(kind="mine")
        events = db.mining_events(run.id)
    assert run.id == outcome.run_id and run.status == "succeeded" and run.seed == 5
    s = run.summary
    assert (s["prompts"], s["candidates"], s["pairs"], s["skipped"], s["judge"]) == (
        2,
        4,
        1,
        {"insufficient_variety": 1},
        "terse",
    )
    assert s["threshold"] == 1.0 and s["wall_seconds"] >= 0 and s["tokens_per_second"] is not None
    assert [(e.event, e.prompt, e.reason) for e in events] == [
        ("pair", Q1, None),
        ("skip", Q2, "insufficient_variety"),
    ]
    report = show_report(trained_doc, read_document(trained_doc), store)
    assert report.store is not None and report.store.latest_mining is not None
    assert (
        report.store.latest_mining.run_id == run.id
        and report.store.latest_mining.summary.pairs == 1
    )


def test_mining_before_training_says_to_train_first(
    tiny_doc: Path, mining_host: PluginHost, dlm_home: Path
) -> None:
    with pytest.raises(MiningError, match=r"run `dlm train .*` first"):
        mine(tiny_doc, mining_host, dlm_home)


def test_no_instruction_prompts_is_a_clear_error(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path
) -> None:
    text = trained_doc.read_text(encoding="utf-8")
    trained_doc.write_text(text[: text.index("::instruction::")], encoding="utf-8")
    with pytest.raises(MiningError, match="no ::instruction:: prompts"):
        mine(trained_doc, mining_host, dlm_home)


def test_unknown_judge_lists_installed_ones_and_the_package(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path
) -> None:
    options = MineOptions(sampler="scripted", judge="reward9000:x", progress=False)
    with pytest.raises(
        UnknownPluginName,
        match=r"unknown judge 'reward9000'; installed: terse.*dlm-judge-reward9000",
    ):
        mine_document(Workspace(dlm_home, mining_host, say=lambda m: None), trained_doc, options)


def test_staged_plans_can_be_discarded_without_touching_the_document(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["a", "bb"]}
    before = trained_doc.read_bytes()
    first = mine(trained_doc, mining_host, dlm_home)
    assert review(drop_staged, trained_doc, mining_host, dlm_home) == [first.run_id]
    assert store_of(trained_doc, dlm_home).plans() == [] and trained_doc.read_bytes() == before
    again = mine(trained_doc, mining_host, dlm_home)  # the discarded pairs are minable again
    assert len(again.mined_pairs) == 2


def test_a_sampler_of_empty_strings_skips_every_prompt(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: ["", "  ", "\n"], Q2: ["", ""]}
    outcome = mine(trained_doc, mining_host, dlm_home, samples=3)
    assert outcome.mined_pairs == [] and outcome.skipped == {"insufficient_variety": 2}


def test_metrics_table_summarises_train_and_mine_runs_in_words(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from dlm_core.cli.main import cli

    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["same", "same"]}
    mine(trained_doc, mining_host, dlm_home, samples=2)
    result = CliRunner().invoke(cli, ["--home", str(dlm_home), "metrics", str(trained_doc)])
    assert result.exit_code == 0, result.output
    train_row, mine_row = result.output.splitlines()[1:3]
    loss = train_row.rsplit("loss ", 1)[1]
    assert (
        len(loss.replace(".", "").lstrip("0")) <= 4
    )  # four significant digits, not a float's repr
    assert mine_row.endswith("1 pairs / 2 prompts, skipped: insufficient_variety 1")


def test_apply_skips_and_names_a_staged_pair_whose_prompt_left_the_document(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["a", "bb"]}
    mine(trained_doc, mining_host, dlm_home)
    text = trained_doc.read_text(encoding="utf-8")
    trained_doc.write_text(text.replace("### Q\nWhat goes first?\n### A\nBreaking changes.\n", ""))
    said: list[str] = []
    with Workspace(dlm_home, mining_host, say=said.append).open(trained_doc) as run:
        outcome = apply_staged(run)
    assert outcome.added == 1 and [p.prompt for p in outcome.stale] == [Q2]
    assert any("no longer in" in m and Q2 in m for m in said)
    prompts = [s.records[0]["Prompt"] for s in read_document(trained_doc).sections if s.auto_mined]
    assert prompts == [Q1]
    assert store_of(trained_doc, dlm_home).plans() == []


def test_apply_refuses_a_plan_mined_from_an_older_version_unless_forced(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler
) -> None:  # type: ignore[no-untyped-def]
    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["a", "bb"]}
    mined = mine(trained_doc, mining_host, dlm_home)
    train_document(
        Workspace(dlm_home, mining_host, say=lambda m: None),
        trained_doc,
        TrainOptions(phase="sft", progress=False, max_steps=1),
    )  # v0002 is current now; the plan was mined from v0001
    before = trained_doc.read_bytes()
    with pytest.raises(
        StoreError, match=r"mined from v0001, but the current version is v0002.*--force"
    ):
        review(apply_staged, trained_doc, mining_host, dlm_home)
    assert trained_doc.read_bytes() == before
    assert [p.run_id for p in store_of(trained_doc, dlm_home).plans()] == [mined.run_id]
    forced = review(apply_staged, trained_doc, mining_host, dlm_home, force=True)
    assert forced.added == 2 and store_of(trained_doc, dlm_home).plans() == []


def test_an_apply_that_cannot_write_the_document_leaves_the_plan_staged(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import dlm_core.workspace

    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["a", "bb"]}
    mined = mine(trained_doc, mining_host, dlm_home)
    before = trained_doc.read_bytes()

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dlm_core.workspace, "write_document", disk_full)
    with pytest.raises(OSError, match="No space left"):
        review(apply_staged, trained_doc, mining_host, dlm_home)
    assert trained_doc.read_bytes() == before  # nothing done...
    assert [p.run_id for p in store_of(trained_doc, dlm_home).plans()] == [
        mined.run_id
    ]  # ...at all


def test_an_apply_whose_plan_cannot_be_deleted_afterwards_is_still_complete(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, sampler, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import dlm_core.store.store as store_module

    sampler.candidates = {Q1: [VERBOSE, TERSE], Q2: ["a", "bb"]}
    mine(trained_doc, mining_host, dlm_home)
    real_unlink = Path.unlink

    def stuck(path: Path, *args: object, **kwargs: object) -> None:
        if path.name.endswith(".applying"):
            raise PermissionError(13, "Permission denied", str(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module.Path, "unlink", stuck)
    outcome = review(apply_staged, trained_doc, mining_host, dlm_home)
    monkeypatch.undo()
    assert outcome.added == 2  # everything done: the document has the pairs...
    assert store_of(trained_doc, dlm_home).plans() == []  # ...and the plan is no longer staged
    store = store_of(trained_doc, dlm_home)
    with store.lock():
        assert store.remove_stale_temporaries() == 1  # the leftover is cleaned on the next write
