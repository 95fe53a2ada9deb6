"""The ``cli`` judge inside dlm's mining loop: pairs on success, nothing written on failure.

The document's adapter is real (trained for one step by the core's loop
trainer); the sampler is a fixed one defined here, so each test knows the
candidates; the judge is a real program run through ``--judge cli:...``.
"""

from __future__ import annotations

import shutil
import types
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from dlm_core import hookimpl
from dlm_core.document.io import read_document
from dlm_core.errors import JudgeError
from dlm_core.fileformat import write_json
from dlm_core.metrics.db import MetricsDB
from dlm_core.mining.run import MineOptions, MineOutcome, mine_document
from dlm_core.plugins import PluginHost, SamplerSpec
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer, loop_trainer_plugin, tiny_document_text
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

Q1, Q2 = "How should release notes read?", "What goes first?"
TERSE = "Short."
VERBOSE = "Release notes should be long, thorough, and full of adjectives."
CANDIDATES = {
    Q1: [VERBOSE, TERSE, "Medium length answer."],
    Q2: ["Breaking changes first, then everything else in order.", "Breaking changes."],
}

Script = Callable[[str, str], str]


class FixedSampler:
    """Returns the same candidates for a prompt every time."""

    def sample(self, prompts, n, *, temperature, top_p, max_new_tokens, seed):  # type: ignore[no-untyped-def]
        return [list(CANDIDATES[p]) for p in prompts]


@pytest.fixture
def mining_host(host: PluginHost) -> PluginHost:
    @hookimpl
    def dlm_samplers() -> list[SamplerSpec]:
        return [SamplerSpec(name="fixed", factory=lambda ctx: FixedSampler())]

    host.register(types.SimpleNamespace(dlm_samplers=dlm_samplers), "test-fixed-sampler")
    return host


@pytest.fixture(scope="module")
def trained_template(
    tmp_path_factory: pytest.TempPathFactory, tiny_base: Path
) -> tuple[Path, Path]:
    """A document and its store with one real adapter version, trained once per module."""
    root = tmp_path_factory.mktemp("trained")
    doc, home = root / "doc.dlm", root / "home"
    doc.write_text(tiny_document_text(tiny_base), encoding="utf-8")
    home.mkdir()
    host = PluginHost.with_builtins()
    host.register(loop_trainer_plugin(LoopTrainer()), "test-loop-trainer")
    options = TrainOptions(phase="sft", progress=False, max_steps=1)
    train_document(Workspace(home, host, say=lambda _m: None), doc, options)
    return doc, home


@pytest.fixture
def trained_doc(trained_template: tuple[Path, Path], tmp_path: Path, dlm_home: Path) -> Path:
    """A fresh copy of the trained document and its store for one test."""
    doc, home = trained_template
    shutil.copytree(home, dlm_home, dirs_exist_ok=True)
    copy = tmp_path / doc.name
    shutil.copy2(doc, copy)
    # The copied store belongs to the copied document (a store refuses a copy
    # while its own document is still in place).
    store = Store(dlm_home, read_document(copy).dlm_id)  # type: ignore[arg-type]
    manifest = attrs.evolve(store.manifest(), document_path=str(copy.resolve()))  # type: ignore[misc]
    write_json(store.manifest_path, manifest)
    return copy


def mine(doc: Path, host: PluginHost, home: Path, judge: str, **options: object) -> MineOutcome:
    chosen = MineOptions(judge=judge, sampler="fixed", samples=3, progress=False, **options)  # type: ignore[arg-type]
    return mine_document(Workspace(home, host, say=lambda _m: None), doc, chosen)


def snapshot(doc: Path, home: Path) -> dict[str, object]:
    """Everything a failed mine run must leave exactly as it was."""
    store = Store(home, read_document(doc).dlm_id)  # type: ignore[arg-type]
    staged = store.staged_dir
    current = store.current()
    return {
        "document": doc.read_bytes(),
        "beside the document": sorted(p.name for p in doc.parent.iterdir()),  # no .bak either
        "staged": {p.name: p.read_bytes() for p in staged.iterdir()} if staged.exists() else None,
        "versions": [
            (v.name, {f.name: f.read_bytes() for f in sorted(v.path.iterdir())})
            for v in store.versions()
        ],
        "current": current.name if current else None,
    }


FAILING_JUDGES = {
    "malformed JSON": ('print("score: high")', {}, "malformed JSON"),
    "non-numeric score": ('print(\'{"score": "high"}\')', {}, "non-numeric score 'high'"),
    "boolean score": ("print('{\"score\": true}')", {}, "non-numeric score True"),
    "NaN score": ("print('{\"score\": NaN}')", {}, "non-finite score"),
    "non-zero exit": (
        'import sys; print("rate limited by the scoring service", file=sys.stderr); sys.exit(2)',
        {},
        "exited with status 2; stderr: rate limited by the scoring service",
    ),
    "hang": ("import time; time.sleep(60)", {"judge_timeout": 1.0}, "timed out after 1 s"),
    "huge output": (
        'import sys\nfor _ in range(100): sys.stdout.buffer.write(b"x" * (1 << 20))',
        {},
        "output too large",
    ),
}


@pytest.mark.parametrize("case", sorted(FAILING_JUDGES))
@pytest.mark.parametrize("apply", [True, False], ids=["apply", "stage"])
def test_a_failing_judge_stops_the_run_and_changes_nothing(
    trained_doc: Path,
    mining_host: PluginHost,
    dlm_home: Path,
    judge_script: Script,
    case: str,
    apply: bool,
) -> None:
    body, options, expected = FAILING_JUDGES[case]
    selector = judge_script("failing", body)
    before = snapshot(trained_doc, dlm_home)
    with pytest.raises(JudgeError) as caught:
        mine(trained_doc, mining_host, dlm_home, selector, apply=apply, **options)
    message = str(caught.value)
    assert expected in message and selector[4:] in message and "\n" not in message
    assert snapshot(trained_doc, dlm_home) == before
    store = Store(dlm_home, read_document(trained_doc).dlm_id)  # type: ignore[arg-type]
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        (run,) = db.runs(kind="mine")
    assert run.status == "failed"


def test_a_missing_judge_program_stops_the_run_before_sampling(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, tmp_path: Path
) -> None:
    before = snapshot(trained_doc, dlm_home)
    with pytest.raises(
        JudgeError,
        match="cannot start judge command '/nonexistent/judge': /nonexistent/judge does not exist",
    ):
        mine(trained_doc, mining_host, dlm_home, "cli:/nonexistent/judge", apply=True)
    assert snapshot(trained_doc, dlm_home) == before


def test_a_good_judge_writes_pairs_with_its_name_and_the_terse_answer_chosen(
    trained_doc: Path, mining_host: PluginHost, dlm_home: Path, terse_judge: str
) -> None:
    outcome = mine(trained_doc, mining_host, dlm_home, terse_judge, apply=True)
    assert outcome.applied == 2 and outcome.threshold == 0.0 and outcome.judge == terse_judge
    mined = [s for s in read_document(trained_doc).sections if s.auto_mined]
    pairs = {
        s.records[0]["Prompt"]: (s.records[0]["Chosen"], s.records[0]["Rejected"], s.provenance)
        for s in mined
    }
    assert set(pairs) == {Q1, Q2}
    chosen, rejected, provenance = pairs[Q1]
    assert (chosen, rejected) == (TERSE, VERBOSE)
    assert pairs[Q2][:2] == ("Breaking changes.", CANDIDATES[Q2][0])
    assert provenance.judge_name == terse_judge  # type: ignore[union-attr]
    assert (provenance.judge_score_chosen, provenance.judge_score_rejected) == (
        -len(TERSE),
        -len(VERBOSE),
    )  # type: ignore[union-attr]
    assert provenance.mined_run_id == outcome.run_id  # type: ignore[union-attr]
