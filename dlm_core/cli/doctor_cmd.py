"""``dlm doctor``: the device, dtypes and batch sizes dlm would use here; ``--repair``
puts a document's store right again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json

if TYPE_CHECKING:
    from dlm_core.doctor import DoctorReport


@click.command()
@click.argument(
    "path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--device", help="Check this device instead of the automatic choice.")
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Generation length the sampler batch size is computed for.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--repair",
    is_flag=True,
    help="Repair PATH's store instead: point a `current` whose version is missing at the "
    "newest complete version (or remove it when none is left), and say what was done.",
)
@pass_app
def doctor(
    app: App,
    path: Path | None,
    device: str | None,
    max_new_tokens: int,
    as_json: bool,
    repair: bool,
) -> None:
    """Show versions, device, dtypes and batch sizes (for PATH's settings, if given)."""
    if repair:
        if path is None:
            raise click.UsageError("--repair needs the document: dlm doctor --repair PATH")
        from dlm_core.store.repair import repair_document

        click.echo(repair_document(app.workspace, path))
        return
    from dlm_core.context import PluginContext
    from dlm_core.doctor import doctor as run_doctor
    from dlm_core.models.registry import DEFAULT_BASE, parse_base

    frontmatter, context = None, None
    if path is not None:
        document = app.workspace.read(path)
        frontmatter = document.frontmatter
        base = parse_base(
            frontmatter.base_model if frontmatter else DEFAULT_BASE, relative_to=path.parent
        )
        context = PluginContext(
            document=document,
            document_path=path,
            base=base,
            adapter_path=None,
            home=app.home,
            device=device,
            say=app.note,
        )
    report = run_doctor(
        app.home,
        app.host,
        frontmatter=frontmatter,
        context=context,
        device=device,
        max_new_tokens=max_new_tokens,
    )
    if as_json:
        echo_json(report)
        return
    click.echo(render(report))


def render(report: DoctorReport) -> str:
    """The report for people, a line a subject."""
    lines: list[str] = []
    d = report.device
    libs = ", ".join(f"{k} {v}" for k, v in report.libraries.items() if v)
    lines.append(f"dlm {report.dlm} (python {report.python}; {libs})")
    where = f"{d.device}: {d.name}" + (f", {d.memory_gib} GiB" if d.memory_gib else "")
    lines.append(
        f"device: {where}; {d.cpu_cores} CPU cores, torch threads {d.torch_threads}; CUDA devices: {d.cuda_devices}"
    )
    lines.append(
        f"dtypes: weights {d.weights_dtype}, generation {d.generation_dtype} (native bf16: {'yes' if d.native_bf16 else 'no'})"
    )
    rows = (
        f"{report.sampler_rows} rows of {report.sampler_sequence_tokens} tokens"
        if report.sampler_rows
        else "given with a document"
    )
    lines.append(
        f"batches: SFT {report.sft_micro_batch}, preference {report.preference_micro_batch}, sampler {rows}"
    )
    lines.append(f"default base: {report.default_base}")
    p = report.plugins
    lines.append(f"plugins: {p['loaded']} loaded, {p['failed']} failed, {p['blocked']} blocked")
    for problem in report.problems:
        lines.append(f"problem: {problem}")
    return "\n".join(lines)
