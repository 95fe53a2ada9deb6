"""Giving a document its identity (``dlm_id``) the first time it is trained.

A document may start with no frontmatter at all. Before its first store is
made, dlm adds one (a fresh ULID and the default base) and says so. An
existing frontmatter without ``dlm_id`` gains that one line, right after the
opening ``---``; nothing else in the block changes.
"""

from __future__ import annotations

import attrs

from dlm_core.document.frontmatter import Frontmatter, load_frontmatter
from dlm_core.document.ids import new_ulid
from dlm_core.document.model import Document


def with_identity(document: Document) -> tuple[Document, str | None]:
    """The document with a ``dlm_id``, and a sentence saying what was added (or None)."""
    if document.frontmatter is not None and document.frontmatter.dlm_id is not None:
        return document, None
    dlm_id = new_ulid()
    nl = document.newline
    if document.frontmatter is None:
        frontmatter = Frontmatter(dlm_id=dlm_id)
        head = f"---{nl}dlm_id: {dlm_id}{nl}base_model: {frontmatter.base_model}{nl}---{nl}"
        prefix = document.frontmatter_source or ""
        if document.sections and document.sections[0].fenced is False:
            head += nl  # a blank line between the new frontmatter and the prose
        updated = attrs.evolve(document, frontmatter=frontmatter, frontmatter_source=head + prefix)
        return updated, f"added frontmatter (dlm_id {dlm_id}, base_model {frontmatter.base_model})"
    source = document.frontmatter_source or ""
    first_end = source.index("\n") + 1
    source = f"{source[:first_end]}dlm_id: {dlm_id}{nl}{source[first_end:]}"
    yaml_text = source[first_end : source.rstrip().rfind("\n") + 1]
    updated = attrs.evolve(document, frontmatter=load_frontmatter(yaml_text), frontmatter_source=source)
    return updated, f"added dlm_id {dlm_id} to the frontmatter"
