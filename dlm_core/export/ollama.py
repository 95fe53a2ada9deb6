"""The ``ollama`` target: a GGUF plus a ``Modelfile`` that ``ollama create`` reads.

``FROM`` names the GGUF (``ADAPTER`` the LoRA GGUF with ``--lora``),
``TEMPLATE`` is the chat template translated to Ollama's Go template (see
:mod:`dlm_core.export.chat_template`), ``SYSTEM`` the document's system
prompt (or the template's own default, which dlm uses when the document
has none), and ``PARAMETER stop`` the end-of-turn tokens.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dlm_core.errors import ExportError
from dlm_core.export.chat_template import stop_texts, turn_pieces


def _quoted(text: str, what: str) -> str:
    if '"""' in text:
        raise ExportError(f'the {what} contains """ and cannot be written into a Modelfile')
    return f'"""{text}"""'


def modelfile(
    tokenizer: Any,
    *,
    model_file: str,
    adapter_file: str | None,
    system_prompt: str | None,
    stop_ids: list[int],
) -> str:
    """The Modelfile text; ``tokenizer`` carries the chat template to translate."""
    pieces = turn_pieces(tokenizer)
    system = system_prompt or pieces.default_system
    lines = [f"FROM ./{model_file}"]
    if adapter_file is not None:
        lines.append(f"ADAPTER ./{adapter_file}")
    lines.append(f"TEMPLATE {_quoted(pieces.ollama_template(), 'chat template')}")
    if system:
        lines.append(f"SYSTEM {_quoted(system, 'system prompt')}")
    for stop in stop_texts(tokenizer, stop_ids):
        lines.append(f'PARAMETER stop "{stop}"')
    return "\n".join(lines) + "\n"


def ollama_name(document_path: Path) -> str:
    """A model name Ollama accepts, from the document's file name."""
    name = re.sub(r"[^a-z0-9._-]+", "-", document_path.stem.lower()).strip("-._")
    return name or "dlm-model"


def create_line(name: str, out: Path) -> str:
    return f"ollama create {name} -f {out / 'Modelfile'}"
