"""``dlm export``: the adapter as a transformers folder, a GGUF, an Ollama model or a dataset."""

from __future__ import annotations

from pathlib import Path

import click

from dlm_core.cli.app import App, pass_app
from dlm_core.cli.main import command_line
from dlm_core.cli.output import echo_json


@click.command("export")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "target",
    type=click.Choice(["hf", "gguf", "ollama", "dataset"]),
    required=True,
    help="hf: merged safetensors; gguf: llama.cpp; ollama: GGUF + Modelfile; dataset: TRL JSONL.",
)
@click.option(
    "--version",
    "version",
    default="current",
    show_default=True,
    help="Adapter version: a number, vNNNN or 'current'.",
)
@click.option(
    "--quant",
    type=click.Choice(["f16", "q8_0", "q4_k_m"]),
    help="GGUF precision, through llama.cpp's quantizer (default f16).",
)
@click.option("--lora", is_flag=True, help="GGUF: a LoRA adapter GGUF plus the base's GGUF.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder to create (default: beside the document).",
)
@click.option("--force", is_flag=True, help="Replace --out when it holds an earlier export.")
@click.option("--no-mined", is_flag=True, help="Dataset: leave out auto-mined preference records.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def export(
    app: App,
    path: Path,
    target: str,
    version: str,
    quant: str | None,
    lora: bool,
    out: Path | None,
    force: bool,
    no_mined: bool,
    as_json: bool,
) -> None:
    """Export PATH's adapter (or its records) for other tools; writes a manifest beside the files."""
    from dlm_core.export import ExportOptions, export_document

    options = ExportOptions(
        target=target,  # type: ignore[arg-type]  # click.Choice checked it
        version=_version_number(version),
        quant=quant,
        lora=lora,
        out=out,
        force=force,
        include_mined=not no_mined,
        command=command_line(),
        progress=not as_json,
    )
    result = export_document(app.workspace, path, options)
    if as_json:
        echo_json(result)
        return
    click.echo(f"wrote {result.out}")
    for name in result.files:
        click.echo(f"  {name}")
    if result.ollama_create:
        click.echo(result.ollama_create)


def _version_number(text: str) -> int | None:
    if text == "current":
        return None
    digits = text[1:] if text.lower().startswith("v") else text
    if not digits.isdigit() or int(digits) < 1:
        raise click.BadParameter(f"{text!r} is not a version number, vNNNN or 'current'")
    return int(digits)
