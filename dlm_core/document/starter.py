"""The document ``dlm init`` writes: frontmatter and a short example body."""

from __future__ import annotations

from pathlib import Path

import yaml

from dlm_core.atomic import write_text_atomic
from dlm_core.document.ids import new_ulid
from dlm_core.errors import DlmError

STARTER_BODY = """\
# {title}

Write prose here: it trains as continued pretraining, so the adapter picks
up your vocabulary and style.

::instruction::
### Q
What is this document about?
### A
Replace this answer with one written in the voice you want.
"""


def starter_document(path: Path, base_model: str, *, force: bool = False) -> str:
    """Write a new document at ``path`` and return its ``dlm_id``."""
    if path.exists() and not force:
        raise DlmError(f"{path} already exists; pass --force to overwrite it")
    dlm_id = new_ulid()
    header = yaml.safe_dump({"dlm_id": dlm_id, "base_model": base_model}, sort_keys=False)
    text = f"---\n{header}---\n\n" + STARTER_BODY.format(
        title=path.stem.replace("-", " ").capitalize()
    )
    write_text_atomic(path, text)
    return dlm_id
