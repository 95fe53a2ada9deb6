"""``dlm train``: SFT, then the preference phase when the document has pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.options import held_out_from, held_out_options
from dlm_core.cli.output import echo_json
from dlm_core.cli.params import SEED


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--phase",
    type=click.Choice(["sft", "preference", "all"]),
    default="all",
    show_default=True,
    help="sft: a new adapter from the base; preference: continue the current one with DPO/ORPO; all: sft, then preference if the document has pairs.",
)
@click.option(
    "--continue",
    "continue_sft",
    is_flag=True,
    help="With --phase sft: train the current adapter further instead of a new one from the base.",
)
@click.option(
    "--no-mined",
    is_flag=True,
    help="Leave auto-mined preference records out (they stay in the document).",
)
@click.option(
    "--max-steps", type=click.IntRange(min=1), help="Stop each phase after N optimizer steps."
)
@click.option("--seed", type=SEED, help="Override training.seed.")
@click.option(
    "--device", help="cpu, cuda, cuda:1... (default: CUDA with bf16 if present, else CPU fp32)."
)
@click.option(
    "--from",
    "start_version",
    type=click.IntRange(min=1),
    help="With --phase preference: continue from version N instead of the current one.",
)
@click.option(
    "--num-processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Train on N processes through Accelerate (DDP; gloo on a CPU).",
)
@click.option("--gpus", help="CUDA devices for the processes: all, a count, or ids such as 0,1.")
@click.option(
    "--accelerate-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An `accelerate config` file (FSDP, several machines); passed to accelerate launch.",
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Fail at once if another dlm command holds this document's store.",
)
@click.option(
    "--tensorboard",
    is_flag=True,
    help="Also write each step as TensorBoard events under <store>/tensorboard/run-N/ (needs: pip install tensorboard).",
)
@held_out_options
@click.option(
    "--new-id",
    is_flag=True,
    help="First give PATH a fresh dlm_id, so a copy of a document trains into its own store.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome of each phase as JSON.")
@pass_app
def train(
    app: App,
    /,
    path: Path,
    phase: str,
    continue_sft: bool,
    no_mined: bool,
    max_steps: int | None,
    seed: int | None,
    device: str | None,
    start_version: int | None,
    num_processes: int,
    gpus: str | None,
    accelerate_config: Path | None,
    no_wait: bool,
    tensorboard: bool,
    new_id: bool,
    as_json: bool,
    **held_out: Any,
) -> None:
    """Train PATH: each phase writes the next adapter version in the store."""
    from dlm_core.training.phases import TrainOptions, train_document

    if new_id:
        from dlm_core.store.ownership import give_new_identity

        give_new_identity(
            path, home=app.home, types=app.workspace.types, wait=not no_wait, say=app.note
        )

    options = TrainOptions(
        phase=phase,  # type: ignore[arg-type]  # click.Choice checked it
        include_mined=not no_mined,
        continue_sft=continue_sft,
        max_steps=max_steps,
        seed=seed,
        device=device,
        wait=not no_wait,
        tensorboard=tensorboard,
        start_version=start_version,
        num_processes=num_processes,
        gpus=gpus,
        accelerate_config=accelerate_config,
        held_out=held_out_from(held_out, device=device),
    )
    outcomes = train_document(app.workspace, path, options)
    if as_json:
        echo_json(outcomes)  # each phase's fields, tokens_per_second and final_* figures
        return
    for o in outcomes:
        loss = f"{o.final_loss:.4f}" if o.final_loss is not None else "-"
        where = "-> current" if o.current else "(not made current)"
        click.echo(
            f"v{o.version:04d} ({o.phase}, {o.trainer}): {o.steps} steps, loss {loss}, "
            f"{o.tokens_per_second:.0f} tokens/s, {o.wall_seconds:.1f} s {where}"
        )
