"""``dlm doctor``: the device, dtypes and batch sizes dlm would use here."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.output import echo_json


@click.command()
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--device", help="Check this device instead of the automatic choice.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True,
              help="Generation length the sampler batch size is computed for.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def doctor(app: App, path: Path | None, device: str | None, max_new_tokens: int, as_json: bool) -> None:
    """Show versions, device, dtypes and batch sizes (for PATH's settings, if given)."""
    from dlm_core.context import PluginContext
    from dlm_core.doctor import doctor as run_doctor
    from dlm_core.models.registry import parse_base

    frontmatter, context = None, None
    if path is not None:
        document = app.read(path)
        frontmatter = document.frontmatter
        base = parse_base(frontmatter.base_model if frontmatter else "smollm2-135m", relative_to=path.parent)
        context = PluginContext(document=document, document_path=path, base=base, adapter_path=None,
                                home=app.home, device=device, say=app.note)
    report = run_doctor(app.home, app.host, frontmatter=frontmatter, context=context, device=device,
                        max_new_tokens=max_new_tokens)
    if as_json:
        echo_json(report)
        return
    d = report.device
    libs = ", ".join(f"{k} {v}" for k, v in report.libraries.items() if v)
    click.echo(f"dlm {report.dlm} (python {report.python}; {libs})")
    where = f"{d.device}: {d.name}" + (f", {d.memory_gib} GiB" if d.memory_gib else "")
    click.echo(f"device: {where}; {d.cpu_cores} CPU cores, torch threads {d.torch_threads}; CUDA devices: {d.cuda_devices}")
    click.echo(f"dtypes: weights {d.weights_dtype}, generation {d.generation_dtype} (native bf16: {'yes' if d.native_bf16 else 'no'})")
    rows = f"{report.sampler_rows} rows of {report.sampler_sequence_tokens} tokens" if report.sampler_rows else "given with a document"
    click.echo(f"batches: SFT {report.sft_micro_batch}, preference {report.preference_micro_batch}, sampler {rows}")
    click.echo(f"default base: {report.default_base}")
    p = report.plugins
    click.echo(f"plugins: {p['loaded']} loaded, {p['failed']} failed, {p['blocked']} blocked")
    for problem in report.problems:
        click.echo(f"problem: {problem}")
