"""`dlm train` orchestration: phases, versions, current, run.json, metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlm_core.document.io import read_document
from dlm_core.errors import TrainingError, UnknownPluginName
from dlm_core.metrics.db import MetricsDB
from dlm_core.plugins import PluginHost
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.workspace import Workspace

PAIRS = """
::preference::
### Prompt
How should release notes read?
### Chosen
Short.
### Rejected
Long, winding and full of adjectives.

::preference::
<!-- dlm-auto-mined: judge_name="sway" judge_score_chosen="0.8" judge_score_rejected="0.1" mined_at="2026-04-23T18:42:11Z" mined_run_id="4" -->
### Prompt
What goes first?
### Chosen
Breaking changes.

```python
\\### Chosen
```
### Rejected
\\::preference::
Whatever.
"""


def train(path: Path, host: PluginHost, home: Path, **kwargs: object) -> list:
    messages: list[str] = []
    outcomes = train_document(
        Workspace(home, host, say=messages.append), path, TrainOptions(progress=False, **kwargs)
    )  # type: ignore[arg-type]
    return outcomes


def store_of(path: Path, home: Path) -> Store:
    doc = read_document(path)
    assert doc.dlm_id is not None
    return Store(home, doc.dlm_id)


def test_sft_writes_version_one_and_moves_current(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    (outcome,) = train(doc_path, host_with_loop, dlm_home)
    store = store_of(doc_path, dlm_home)
    current = store.current()
    assert current is not None and current.number == outcome.version == 1
    run = current.run
    assert run is not None
    assert (run.phase, run.trainer, run.seed, run.parent_version) == ("sft", "sft", 42, None)
    assert run.rows == {"prose": 1, "instruction": 2}
    assert (current.path / "adapter_config.json").exists()


def test_saved_version_loads_with_plain_peft(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path, tiny_base: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    train(doc_path, host_with_loop, dlm_home)
    version = store_of(doc_path, dlm_home).current()
    assert version is not None
    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_base), str(version.path)
    )
    assert "default" in model.peft_config


def test_a_document_without_frontmatter_gets_one_and_is_told(
    tmp_path: Path, host_with_loop: PluginHost, dlm_home: Path, tiny_base: Path
) -> None:
    path = tmp_path / "bare.dlm"
    path.write_text("Prose only.\n\n::instruction::\n### Q\nq\n### A\na\n", encoding="utf-8")
    messages: list[str] = []
    # A bare document gets the default base; point it at the tiny one after identity is added.
    with Workspace(dlm_home, host_with_loop, say=messages.append).open(path) as run:
        run.assign_identity()
        document = run.document
    assert document.dlm_id is not None
    assert any("added frontmatter" in m for m in messages)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"---\ndlm_id: {document.dlm_id}\nbase_model: smollm2-135m\n---\n")
    assert text.endswith("Prose only.\n\n::instruction::\n### Q\nq\n### A\na\n")
    assert (tmp_path / "bare.dlm.bak").read_text(encoding="utf-8").startswith("Prose only.")


def test_preference_phase_without_a_version_is_a_clear_error(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    doc_path.write_text(doc_path.read_text() + PAIRS, encoding="utf-8")
    with pytest.raises(TrainingError, match=r"run `dlm train .*` first"):
        train(doc_path, host_with_loop, dlm_home, phase="preference")


def test_preference_phase_without_records_is_a_clear_error(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    train(doc_path, host_with_loop, dlm_home)
    with pytest.raises(TrainingError, match="no ::preference:: records"):
        train(doc_path, host_with_loop, dlm_home, phase="preference")


def test_all_runs_sft_then_preference_from_the_new_adapter(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path, loop_trainer: LoopTrainer
) -> None:
    doc_path.write_text(doc_path.read_text() + PAIRS, encoding="utf-8")
    sft, pref = train(doc_path, host_with_loop, dlm_home)
    assert (sft.phase, sft.version, pref.phase, pref.version) == ("sft", 1, "preference", 2)
    store = store_of(doc_path, dlm_home)
    assert store.current().number == 2  # type: ignore[union-attr]
    assert store.version(2).run.parent_version == 1  # type: ignore[union-attr]
    sft_job, pref_job = loop_trainer.jobs
    assert sft_job.preference_rows == [] and sft_job.start_adapter is None
    assert pref_job.lm_rows == [] and pref_job.start_adapter == store.version(1).path
    assert len(pref_job.preference_rows) == 2


def test_no_mined_leaves_mined_records_out_and_says_how_many(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path, loop_trainer: LoopTrainer
) -> None:
    doc_path.write_text(doc_path.read_text() + PAIRS, encoding="utf-8")
    train(doc_path, host_with_loop, dlm_home, phase="sft")
    (outcome,) = train(doc_path, host_with_loop, dlm_home, phase="preference", include_mined=False)
    run = store_of(doc_path, dlm_home).version(outcome.version).run
    assert run is not None
    assert (run.mined_included, run.mined_excluded, run.rows) == (0, 1, {"preference": 1})
    assert [r.prompt for r in loop_trainer.jobs[-1].preference_rows] == [
        "How should release notes read?"
    ]


def test_grammar_like_preference_text_trains(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path, loop_trainer: LoopTrainer
) -> None:
    doc_path.write_text(doc_path.read_text() + PAIRS, encoding="utf-8")
    train(doc_path, host_with_loop, dlm_home)
    mined = loop_trainer.jobs[-1].preference_rows[1]
    assert mined.chosen == "Breaking changes.\n\n```python\n### Chosen\n```"
    assert mined.rejected == "::preference::\nWhatever."


def test_preference_method_picks_the_trainer_by_name(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    text = doc_path.read_text().replace(
        "training: {num_epochs: 1, sequence_len: 256}",
        "training: {num_epochs: 1, preference: {method: simpo}}",
    )
    doc_path.write_text(text + PAIRS, encoding="utf-8")
    _sft, pref = train(doc_path, host_with_loop, dlm_home)
    assert pref.trainer == "simpo"


def test_unknown_preference_method_lists_installed_trainers(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    text = doc_path.read_text().replace(
        "training: {num_epochs: 1, sequence_len: 256}", "training: {preference: {method: kto2}}"
    )
    doc_path.write_text(text + PAIRS, encoding="utf-8")
    with pytest.raises(
        UnknownPluginName, match="unknown trainer 'kto2'; installed: dpo, orpo, sft, simpo"
    ):
        train(doc_path, host_with_loop, dlm_home)


def test_a_failed_phase_leaves_no_version_and_is_recorded(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path, loop_trainer: LoopTrainer
) -> None:
    train(doc_path, host_with_loop, dlm_home)
    loop_trainer.fail = True
    with pytest.raises(TrainingError, match="boom"):
        train(doc_path, host_with_loop, dlm_home)
    store = store_of(doc_path, dlm_home)
    assert [v.number for v in store.versions()] == [1]
    assert store.current().number == 1  # type: ignore[union-attr]
    assert not [p for p in store.adapters_dir.iterdir() if p.name.startswith(".tmp")]
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        runs = db.runs()
    assert [r.status for r in runs] == ["succeeded", "failed"]
    assert "boom" in (runs[1].error or "")


def test_every_step_lands_in_metrics(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    (outcome,) = train(doc_path, host_with_loop, dlm_home, max_steps=3, seed=7)
    store = store_of(doc_path, dlm_home)
    with MetricsDB.open(store.metrics_path, readonly=True) as db:
        (run,) = db.runs()
        steps = db.steps(run.id)
    assert (run.kind, run.phase, run.status, run.seed, run.version) == (
        "train",
        "sft",
        "succeeded",
        7,
        1,
    )
    assert [s.step for s in steps] == [1, 2, 3]
    assert all(s.loss is not None and s.learning_rate == 1e-3 for s in steps)
    assert run.summary["steps"] == outcome.steps == 3


def test_an_unknown_preference_trainer_fails_before_sft_runs(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path, loop_trainer: LoopTrainer
) -> None:
    text = doc_path.read_text().replace(
        "training: {num_epochs: 1, sequence_len: 256}", "training: {preference: {method: kto2}}"
    )
    doc_path.write_text(text + PAIRS, encoding="utf-8")
    with pytest.raises(UnknownPluginName, match="kto2"):
        train(doc_path, host_with_loop, dlm_home)
    assert loop_trainer.jobs == []


def test_from_continues_the_preference_phase_from_a_named_version(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path, loop_trainer: LoopTrainer
) -> None:
    doc_path.write_text(doc_path.read_text() + PAIRS, encoding="utf-8")
    train(doc_path, host_with_loop, dlm_home)  # v0001 sft, v0002 preference
    (outcome,) = train(
        doc_path, host_with_loop, dlm_home, phase="preference", start_version=1, include_mined=False
    )
    store = store_of(doc_path, dlm_home)
    assert outcome.version == 3 and store.version(3).run.parent_version == 1  # type: ignore[union-attr]
    assert loop_trainer.jobs[-1].start_adapter == store.version(1).path


def test_from_without_the_preference_phase_is_refused(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    with pytest.raises(TrainingError, match="--phase preference"):
        train(doc_path, host_with_loop, dlm_home, start_version=1)


def test_preference_method_sft_is_refused_in_the_frontmatter(doc_path: Path) -> None:
    from dlm_core.errors import DocumentError

    doc_path.write_text(
        doc_path.read_text().replace(
            "training: {num_epochs: 1, sequence_len: 256}", "training: {preference: {method: sft}}"
        ),
        encoding="utf-8",
    )
    with pytest.raises(DocumentError, match="'sft' is not one"):
        read_document(doc_path)


def test_sft_continue_trains_the_current_adapter_further_and_says_so(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    train(doc_path, host_with_loop, dlm_home, phase="sft", max_steps=1)
    said: list[str] = []
    (outcome,) = train_document(
        Workspace(dlm_home, host_with_loop, say=said.append),
        doc_path,
        TrainOptions(progress=False, phase="sft", max_steps=1, continue_sft=True),
    )
    store = store_of(doc_path, dlm_home)
    record = store.version(outcome.version).run
    assert outcome.version == 2 and record is not None and record.parent_version == 1
    assert any(m.startswith("sft: ") and m.endswith("continuing v0001") for m in said)
    said.clear()
    train_document(
        Workspace(dlm_home, host_with_loop, say=said.append),
        doc_path,
        TrainOptions(progress=False, phase="sft", max_steps=1),
    )
    assert any(m.endswith("a new adapter from the base") for m in said)
    assert store.version(3).run.parent_version is None  # type: ignore[union-attr]


def test_continue_is_for_the_sft_phase_of_a_trained_document(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    with pytest.raises(TrainingError, match="--continue needs a trained adapter"):
        train(doc_path, host_with_loop, dlm_home, phase="sft", continue_sft=True)
    with pytest.raises(TrainingError, match="use it with --phase sft"):
        train(doc_path, host_with_loop, dlm_home, phase="all", continue_sft=True)
