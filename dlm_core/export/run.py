"""``dlm export``: one entry point that writes any target into a folder with its manifest.

:func:`export_document` finds the adapter version (:mod:`.source`), writes
the target's files into a temporary folder beside ``--out`` (:mod:`.writer`),
adds the manifest last and renames the folder into place.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import attrs

from dlm_core import __version__
from dlm_core.errors import ExportError
from dlm_core.export.manifest import ExportManifest, write_manifest
from dlm_core.export.source import ExportSource, locate
from dlm_core.export.writer import check_target, staged_folder
from dlm_core.progress import progress_bar
from dlm_core.store.store import utc_now
from dlm_core.workspace import DocumentRun, Workspace

if TYPE_CHECKING:
    from dlm_core.export.gguf import GgufFiles

Target = Literal["hf", "gguf", "ollama", "dataset"]
TARGETS: tuple[Target, ...] = ("hf", "gguf", "ollama", "dataset")


@attrs.frozen
class ExportOptions:
    """What to export and where.

    :ivar version: the adapter version number (None: ``current``).
    :ivar quant: ``f16`` (default), ``q8_0`` or ``q4_k_m``; GGUF targets only.
    :ivar lora: write a LoRA GGUF for the base's GGUF instead of a merged model.
    :ivar out: the folder to create (default: beside the document).
    :ivar include_mined: keep auto-mined preference records (dataset target).
    :ivar command: the command line, for the manifest.
    """

    target: Target
    version: int | None = None
    quant: str | None = None
    lora: bool = False
    out: Path | None = None
    force: bool = False
    include_mined: bool = True
    command: str = ""
    progress: bool = True


@attrs.frozen
class ExportResult:
    """What an export wrote.

    :ivar files: the files written, relative to ``out`` (manifest included).
    :ivar records: rows per dataset file (dataset target).
    :ivar ollama_create: the command that registers the model (ollama target).
    """

    target: str
    out: Path
    version: int | None
    quantization: str | None
    lora: bool
    files: list[str]
    manifest: Path
    records: dict[str, int] = attrs.Factory(dict)
    ollama_create: str | None = None


def _check_options(options: ExportOptions) -> str | None:
    """The quantization the target uses (None for hf and dataset)."""
    from dlm_core.export.gguf import QUANTS

    if options.target not in TARGETS:
        raise ExportError(
            f"unknown export target {options.target!r}; use one of {', '.join(TARGETS)}"
        )
    gguf = options.target in ("gguf", "ollama")
    if options.quant is not None and not gguf:
        raise ExportError(f"--quant applies to gguf and ollama exports, not {options.target}")
    if options.lora and not gguf:
        raise ExportError(f"--lora applies to gguf and ollama exports, not {options.target}")
    if not options.include_mined and options.target != "dataset":
        raise ExportError("--no-mined applies to dataset exports only")
    quant = (options.quant or "f16") if gguf else None
    if quant is not None and quant not in QUANTS:
        raise ExportError(f"unknown --quant {quant!r}; use one of {', '.join(QUANTS)}")
    return quant


def default_out(source: ExportSource, options: ExportOptions, quant: str | None) -> Path:
    """``<doc>.<vNNNN>.<target>[-<quant>][-lora]`` beside the document (``<doc>.dataset`` for datasets)."""
    parts = [source.path.stem]
    if options.target != "dataset" and source.version is not None:
        parts.append(source.version.name)
    suffix = options.target + (f"-{quant}" if quant else "") + ("-lora" if options.lora else "")
    return source.path.parent / ".".join([*parts, suffix])


def export_document(workspace: Workspace, path: Path, options: ExportOptions) -> ExportResult:
    """``dlm export``: open the document (it only reads a version: no lock) and export it."""
    quant = _check_options(options)
    with workspace.open(path, lock=False) as run:
        return export(run, options, quant)


def export(run: DocumentRun, options: ExportOptions, quant: str | None) -> ExportResult:
    """Export the run's adapter (or records) as ``options.target``; see the module docstring."""
    home, say, types, path = run.workspace.home, run.say, run.types, run.path
    source = locate(run, options.version, need_adapter=options.target != "dataset")
    out = (options.out or default_out(source, options, quant)).absolute()
    check_target(out, force=options.force)  # before any slow work
    tools: dict[str, str] = {}
    records: dict[str, int] = {}
    create = None
    with staged_folder(out, force=options.force) as folder:
        if options.target == "dataset":
            from dlm_core.export.dataset import dataset_rows, write_dataset

            rows = dataset_rows(source.document, types, include_mined=options.include_mined)
            records = write_dataset(rows, folder)
            if not records:
                raise ExportError(f"{path} has no records to export")
        else:
            tools, create = _export_model(source, options, quant, folder, out, home=home, say=say)
        manifest = ExportManifest(
            target=options.target,
            document_path=str(source.path.resolve()),
            document_sha256=source.digest,
            dlm_id=source.document.dlm_id,
            version=source.version.number if source.version is not None else None,
            base_model=source.base.spec,
            dlm_version=__version__,
            quantization=quant,
            lora=options.lora,
            system_prompt=source.system_prompt,
            command=options.command,
            created_at=utc_now(),
            tools=tools,
        )
        write_manifest(folder, manifest)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return ExportResult(
        target=options.target,
        out=out,
        version=manifest.version,
        quantization=quant,
        lora=options.lora,
        files=files,
        manifest=out / "dlm-export.json",
        records=records,
        ollama_create=create,
    )


def _export_model(
    source: ExportSource,
    options: ExportOptions,
    quant: str | None,
    folder: Path,
    out: Path,
    *,
    home: Path,
    say: Callable[[str], None],
) -> tuple[dict[str, str], str | None]:
    """Write the hf, gguf or ollama files into ``folder``; return tool versions and the ollama line."""
    import transformers

    from dlm_core.models.resolve import check_loadable, resolve_base

    assert source.version is not None
    base_path = resolve_base(source.base, home, say)
    check_loadable(base_path)
    tools = {"transformers": transformers.__version__}
    if options.target == "hf":
        from dlm_core.export.hf import export_hf

        export_hf(
            base_path, source.version.path, folder, system_prompt=source.system_prompt, say=say
        )
        return tools, None

    from dlm_core.export.llamacpp import library_version

    assert quant is not None
    tools["llama-cpp-python"] = library_version()
    files = _write_gguf(source, options, quant, base_path, folder, out, home=home, say=say)
    if options.target == "gguf":
        return tools, None

    from dlm_core.export.ollama import create_line, ollama_name

    _write_modelfile(source, base_path, files, folder)
    return tools, create_line(ollama_name(source.path), out)


def _write_gguf(
    source: ExportSource,
    options: ExportOptions,
    quant: str,
    base_path: str,
    folder: Path,
    out: Path,
    *,
    home: Path,
    say: Callable[[str], None],
) -> GgufFiles:
    """Convert (and quantize) the model into ``folder``, one progress step per converter run.

    The scratch folder sits beside ``out`` so the large intermediate files stay
    on the disk the export is going to, and go when the conversion ends.
    """
    from dlm_core.export.gguf import export_gguf
    from dlm_core.export.llamacpp import ensure_tools

    assert source.version is not None
    converters = ensure_tools(home, say)
    name = f"{source.path.stem}-{source.version.name}"
    steps = 3 if options.lora else 2
    with (
        progress_bar(
            steps, desc=f"export {options.target}", unit="step", enabled=options.progress
        ) as bar,
        tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.scratch-") as scratch,
    ):
        done = [0]

        def step(what: str) -> None:
            if done[0]:
                bar.update(1)
            done[0] += 1
            bar.set_postfix_str(what)
            say(f"{what}...")

        files = export_gguf(
            converters,
            base_path,
            source.version.path,
            folder,
            Path(scratch),
            name=name,
            quant=quant,
            lora=options.lora,
            system_prompt=source.system_prompt,
            step=step,
        )
        bar.update(1)
    return files


def _write_modelfile(source: ExportSource, base_path: str, files: GgufFiles, folder: Path) -> None:
    """Ollama's ``Modelfile`` beside the GGUF files, its template read off the base's tokenizer."""
    from transformers import AutoTokenizer

    from dlm_core.export.ollama import modelfile
    from dlm_core.models.chat import ChatFormat

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    chat = ChatFormat(tokenizer)
    text = modelfile(
        tokenizer,
        model_file=files.model.name,
        adapter_file=files.adapter.name if files.adapter is not None else None,
        system_prompt=source.system_prompt,
        stop_ids=[chat.end_of_turn_id],
    )
    (folder / "Modelfile").write_text(text, encoding="utf-8")
