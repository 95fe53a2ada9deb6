"""``dlm train``: SFT, then the preference phase when the document has pairs."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--phase", type=click.Choice(["sft", "preference", "all"]), default="all", show_default=True,
              help="sft: a new adapter from the base; preference: continue the current one with DPO/ORPO; all: sft, then preference if the document has pairs.")
@click.option("--no-mined", is_flag=True, help="Leave auto-mined preference records out (they stay in the document).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop each phase after N optimizer steps.")
@click.option("--seed", type=int, help="Override training.seed.")
@click.option("--device", help="cpu, cuda, cuda:1... (default: CUDA with bf16 if present, else CPU fp32).")
@click.option("--from", "start_version", type=click.IntRange(min=1),
              help="With --phase preference: continue from version N instead of the current one.")
@click.option("--num-processes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train on N processes through Accelerate (DDP; gloo on a CPU).")
@click.option("--gpus", help="CUDA devices for the processes: all, a count, or ids such as 0,1.")
@click.option("--accelerate-config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An `accelerate config` file (FSDP, several machines); passed to accelerate launch.")
@click.option("--no-wait", is_flag=True, help="Fail at once if another dlm command holds this document's store.")
@click.option("--tensorboard", is_flag=True,
              help="Also write each step as TensorBoard events under <store>/tensorboard/run-N/ (needs: pip install tensorboard).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome of each phase as JSON.")
@pass_app
def train(app: App, path: Path, phase: str, no_mined: bool, max_steps: int | None, seed: int | None,
          device: str | None, start_version: int | None, num_processes: int, gpus: str | None,
          accelerate_config: Path | None, no_wait: bool, tensorboard: bool, as_json: bool) -> None:
    """Train PATH: each phase writes the next adapter version in the store."""
    from dlm_core.training.phases import TrainOptions, train_document

    options = TrainOptions(phase=phase, include_mined=not no_mined, max_steps=max_steps, seed=seed,  # type: ignore[arg-type]
                           device=device, wait=not no_wait, tensorboard=tensorboard,
                           start_version=start_version, num_processes=num_processes, gpus=gpus,
                           accelerate_config=accelerate_config)
    outcomes = train_document(path, options, home=app.home, host=app.host, say=app.note)
    if as_json:
        echo_json([{**_fields(o), "tokens_per_second": round(o.tokens_per_second, 2)} for o in outcomes])
        return
    for o in outcomes:
        loss = f"{o.final_loss:.4f}" if o.final_loss is not None else "-"
        click.echo(f"v{o.version:04d} ({o.phase}, {o.trainer}): {o.steps} steps, loss {loss}, "
                   f"{o.tokens_per_second:.0f} tokens/s, {o.wall_seconds:.1f} s -> current")


def _fields(outcome: object) -> dict[str, object]:
    import attrs

    return attrs.asdict(outcome)  # type: ignore[arg-type]
