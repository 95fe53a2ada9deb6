"""The manifest every export writes beside its files: where the export came from.

``dlm-export.json`` names the document (path and sha256), the adapter
version, the base, the dlm version, the target and quantization, the tools
that wrote it and the command line, plus each file's size and sha256 so a
copy can be checked.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from dlm_core.downloads import file_sha256
from dlm_core.export.writer import MANIFEST_NAME
from dlm_core.fileformat import write_json


@attrs.frozen
class ExportedFile:
    name: str
    bytes: int
    sha256: str


@attrs.frozen
class ExportManifest:
    """``dlm-export.json``.

    :ivar version: the adapter version exported, or None (a dataset of an
        untrained document).
    :ivar quantization: ``f16``, ``q8_0``, ``q4_k_m`` for GGUF targets, else None.
    :ivar tools: the versions of what wrote the files (transformers, llama.cpp...).
    :ivar command: the command line that made the export.
    """

    target: str
    document_path: str
    document_sha256: str
    dlm_id: str | None
    version: int | None
    base_model: str
    dlm_version: str
    quantization: str | None
    lora: bool
    system_prompt: str | None
    command: str
    created_at: str
    tools: dict[str, str] = attrs.Factory(dict)
    files: list[ExportedFile] = attrs.Factory(list)
    format: int = 1


def describe_files(folder: Path) -> list[ExportedFile]:
    """Every file under ``folder`` (the manifest aside), by relative name."""
    return [
        ExportedFile(path.relative_to(folder).as_posix(), path.stat().st_size, file_sha256(path))
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    ]


def write_manifest(folder: Path, manifest: ExportManifest) -> Path:
    """Write ``manifest`` with the folder's files listed; call once every other file is written."""
    path = folder / MANIFEST_NAME
    write_json(path, attrs.evolve(manifest, files=describe_files(folder)))
    return path
