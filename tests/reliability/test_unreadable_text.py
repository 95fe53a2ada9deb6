"""Text the reader refuses never reaches the document (issue 11, item 1).

A model can decode a token to ``"\\x00"``, and a plugin can hand back a lone
surrogate. The writer refuses to produce a file the reader would refuse,
and mining drops such candidates, counted under ``unreadable_text``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dlm_core.cli.main import cli
from dlm_core.document.io import read_document, read_text, write_document
from dlm_core.errors import DocumentError
from dlm_core.mining.plan import apply_plans
from dlm_core.mining.review import apply_staged, revert_mined
from dlm_core.mining.run import MineOptions, mine_document
from dlm_core.plugins import PluginHost
from dlm_core.store.staged import StagedPair, StagedPlan
from dlm_core.store.store import Store
from dlm_core.workspace import Workspace

QUESTION = "How should release notes read?"  # the scripted document's one question
TERSE = "Short."
VERBOSE = "Release notes should be long, thorough, and full of adjectives."
BAD = {"nul": "Sh\x00rt.", "surrogate": "Sh\ud800rt."}


def mine(path: Path, host: PluginHost, home: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    options = MineOptions(sampler="scripted", judge="terse", progress=False, **kwargs)  # type: ignore[arg-type]
    return mine_document(Workspace(home, host, say=lambda m: None), path, options)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_mining_drops_an_unreadable_candidate_and_counts_it(
    scripted_doc: Path, scripted_host: PluginHost, dlm_home: Path, scripted_sampler, kind: str
) -> None:  # type: ignore[no-untyped-def]
    # The unreadable candidate is the tersest: without the filter it would be "chosen".
    scripted_sampler.candidates = {QUESTION: [BAD[kind], TERSE, VERBOSE]}
    outcome = mine(scripted_doc, scripted_host, dlm_home, apply=True)
    assert outcome.skipped == {"unreadable_text": 1}
    assert [(p.chosen, p.rejected) for p in outcome.mined_pairs] == [(TERSE, VERBOSE)]
    document = read_document(scripted_doc)  # every command can still read it
    (mined,) = [s for s in document.sections if s.auto_mined]
    assert mined.records[0]["Chosen"] == TERSE


def test_a_prompt_left_with_one_readable_candidate_yields_no_pair(
    scripted_doc: Path, scripted_host: PluginHost, dlm_home: Path, scripted_sampler
) -> None:  # type: ignore[no-untyped-def]
    scripted_sampler.candidates = {QUESTION: [BAD["nul"], BAD["surrogate"], TERSE]}
    before = scripted_doc.read_bytes()
    outcome = mine(scripted_doc, scripted_host, dlm_home, apply=True)
    assert outcome.mined_pairs == []
    assert outcome.skipped == {"unreadable_text": 2, "insufficient_variety": 1}
    assert scripted_doc.read_bytes() == before


def _plan_with(chosen: str) -> StagedPlan:
    pair = StagedPair(QUESTION, chosen, VERBOSE, -1.0, -50.0)
    return StagedPlan(
        run_id=7, created_at="2026-01-01T00:00:00Z", judge="terse", threshold=1.0, pairs=[pair]
    )


def test_applying_a_staged_nul_is_refused_and_the_document_stays_readable(
    scripted_doc: Path, scripted_host: PluginHost, dlm_home: Path
) -> None:
    # A plan staged before this check existed (TOML writes "\u0000" happily).
    store = Store(dlm_home, read_document(scripted_doc).dlm_id)  # type: ignore[arg-type]
    store.save_plan(_plan_with(BAD["nul"]))
    before = scripted_doc.read_bytes()
    workspace = Workspace(dlm_home, scripted_host, say=lambda m: None)
    with pytest.raises(DocumentError, match="NUL") as caught, workspace.open(scripted_doc) as run:
        apply_staged(run)
    assert caught.value.path == str(scripted_doc)
    assert scripted_doc.read_bytes() == before
    assert not scripted_doc.with_name("doc.dlm.bak").exists()
    read_text(scripted_doc)
    with workspace.open(scripted_doc) as run:
        assert revert_mined(run) == 0


@pytest.mark.parametrize("kind", sorted(BAD))
def test_write_document_refuses_text_the_reader_would_refuse(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "doc.dlm"
    path.write_text("::instruction::\n### Q\nq\n### A\na\n", encoding="utf-8")
    document = apply_plans(read_document(path), [_plan_with(BAD[kind])]).document
    with pytest.raises(DocumentError, match="refusing to write") as caught:
        write_document(path, document)
    assert caught.value.line > 1  # located in the text it would have written
    assert path.read_text(encoding="utf-8") == "::instruction::\n### Q\nq\n### A\na\n"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.dlm"]  # no .bak, no temporary


def test_the_cli_says_why_a_staged_nul_cannot_be_applied(
    scripted_doc: Path, dlm_home: Path
) -> None:
    store = Store(dlm_home, read_document(scripted_doc).dlm_id)  # type: ignore[arg-type]
    before = scripted_doc.read_bytes()
    store.staged_dir.mkdir(parents=True, exist_ok=True)
    store.plan_path(7).write_text(
        'run_id = 7\ncreated_at = "2026-01-01T00:00:00Z"\njudge = "terse"\nthreshold = 1.0\n'
        f'[[pairs]]\nprompt = "{QUESTION}"\nchosen = "Sh\\u0000rt."\nrejected = "{VERBOSE}"\n'
        "score_chosen = -1.0\nscore_rejected = -50.0\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["--home", str(dlm_home), "preference", "apply", str(scripted_doc)]
    )
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {scripted_doc}:") and "NUL" in line and "unexpected" not in line
    assert scripted_doc.read_bytes() == before
