"""What ``dlm train`` says and hands its trainer when the document leaves the settings out.

The loop trainer (a few real torch steps on a real PEFT LoRA, tiny base)
stands in for TRL; it keeps every job it was given, so the settings the
core resolved can be read off the job.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from dlm_core.document.io import read_document
from dlm_core.metrics.db import MetricsDB
from dlm_core.outcomes import PhaseOutcome
from dlm_core.plugins import PluginHost
from dlm_core.protocols import TrainJob, TrainResult
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer, loop_trainer_plugin
from dlm_core.training.phases import TrainOptions, train_document
from dlm_core.training.schedule import PREFERENCE_RULE, SFT_RULE
from dlm_core.training.settings import PREFERENCE_LEARNING_RATES
from dlm_core.workspace import Workspace

PAIRS = """
::preference::
### Prompt
How should release notes read?
### Chosen
Short.
### Rejected
Long, winding and full of adjectives.
"""


def train(
    path: Path, host: PluginHost, home: Path, **options: object
) -> tuple[list[PhaseOutcome], list[str]]:
    said: list[str] = []
    outcomes = train_document(
        Workspace(home, host, say=said.append),
        path,
        TrainOptions(progress=False, **options),  # type: ignore[arg-type]
    )
    return outcomes, said


def without_epochs(path: Path, extra: str = "") -> Path:
    """The tiny document with its ``num_epochs: 1`` removed: every default applies."""
    text = path.read_text(encoding="utf-8").replace("num_epochs: 1, ", "")
    path.write_text(text + extra, encoding="utf-8")
    return path


def test_a_document_without_num_epochs_gets_the_auto_passes(
    doc_path: Path, host_with_loop: PluginHost, loop_trainer: LoopTrainer, dlm_home: Path
) -> None:
    train(without_epochs(doc_path, PAIRS), host_with_loop, dlm_home, max_steps=2)
    sft, preference = loop_trainer.jobs
    # 3 SFT rows make one batch of 8; 1 pair one batch of 4: one step a pass, so the caps decide.
    assert sft.settings.num_epochs == SFT_RULE.max_epochs
    assert preference.settings.num_epochs == PREFERENCE_RULE.max_epochs
    assert preference.settings.learning_rate == PREFERENCE_LEARNING_RATES["dpo"]


def test_written_epochs_and_learning_rate_reach_the_trainer_as_written(
    doc_path: Path, host_with_loop: PluginHost, loop_trainer: LoopTrainer, dlm_home: Path
) -> None:
    text = doc_path.read_text(encoding="utf-8").replace(
        "training: {num_epochs: 1, sequence_len: 256}",
        "training:\n  num_epochs: 2\n  sequence_len: 256\n  preference:\n"
        "    hyperparams: {learning_rate: 5e-6, num_epochs: 1}",
    )
    doc_path.write_text(text + PAIRS, encoding="utf-8")
    train(doc_path, host_with_loop, dlm_home, max_steps=2)
    sft, preference = loop_trainer.jobs
    assert sft.settings.num_epochs == 2
    assert (preference.settings.num_epochs, preference.settings.learning_rate) == (1, 5e-6)


def test_a_written_epoch_count_that_makes_few_steps_draws_a_note_pointing_at_auto(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    _, said = train(doc_path, host_with_loop, dlm_home)  # num_epochs: 1 over 3 rows
    [note] = [m for m in said if m.startswith("note: sft will take only")]
    assert "1 optimizer step(s) (3 rows, batch 8, 1 epoch(s) as written)" in note
    assert "remove training.num_epochs (auto: at least" in note


def test_auto_draws_no_few_steps_note(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    _, said = train(without_epochs(doc_path), host_with_loop, dlm_home, max_steps=2)
    assert not [m for m in said if "will take only" in m]


def test_sft_reports_how_far_the_loss_on_the_documents_answers_fell(
    doc_path: Path, host_with_loop: PluginHost, dlm_home: Path
) -> None:
    # 6 loop steps visit each of the 3 rows twice at lr 1e-3: the answers get likelier.
    (outcome,), said = train(doc_path, host_with_loop, dlm_home, max_steps=6)
    before, after = outcome.extra["answer_loss_before"], outcome.extra["answer_loss_after"]
    assert after < before
    [line] = [m for m in said if m.startswith("sft: loss on the document's answers")]
    assert line.startswith(f"sft: loss on the document's answers {before:.2f} -> {after:.2f}")
    assert "in 2 rows" in line  # the two Q/A answers, not the prose
    assert outcome.notes == [line.removeprefix("sft: ")]
    document = read_document(doc_path)
    assert document.dlm_id is not None
    with MetricsDB.open(Store(dlm_home, document.dlm_id).metrics_path, readonly=True) as db:
        (run,) = db.runs()
    assert run.summary["final_answer_loss_before"] == before
    assert run.summary["final_answer_loss_after"] == after


class NotingTrainer(LoopTrainer):
    """The loop trainer, reporting a note in ``TrainResult.extra`` as the TRL guard does."""

    def train(self, job: TrainJob) -> TrainResult:
        result = super().train(job)
        return attrs.evolve(result, extra={"notes": ["stopped at step 2 of 9: test"], "x": 1.5})


def test_a_trainers_notes_are_said_in_the_phase_summary(
    doc_path: Path, dlm_host: PluginHost, dlm_home: Path
) -> None:
    dlm_host.register(loop_trainer_plugin(NotingTrainer()), "noting-trainer")
    doc_path.write_text(doc_path.read_text(encoding="utf-8") + PAIRS, encoding="utf-8")
    outcomes, said = train(doc_path, dlm_host, dlm_home, max_steps=2)
    assert "preference: stopped at step 2 of 9: test" in said
    assert outcomes[1].notes == ["stopped at step 2 of 9: test"]
    assert "answer_loss_before" not in outcomes[1].extra  # the answer fit is SFT's
