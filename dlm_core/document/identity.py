"""Giving a document its identity (``dlm_id``) the first time it is trained.

A copy of a document gets a new one on request (``--new-id``): the value is
replaced in place.

A document may start with no frontmatter at all. Before its first store is
made, dlm adds one (a fresh ULID and the default base) and says so. An
existing frontmatter without ``dlm_id`` gains that one line, right after the
opening ``---`` (or its value, where the key is there but empty); nothing
else in the block changes. The edited block is read back before it is used,
so a block dlm cannot edit safely is an error, never a guess.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import yaml

from dlm_core.document import grammar
from dlm_core.document.frontmatter import Frontmatter, FrontmatterInvalid, load_frontmatter
from dlm_core.document.ids import new_ulid
from dlm_core.document.model import Document, Section
from dlm_core.errors import DocumentError


def with_identity(
    document: Document, path: Path | None = None, *, fresh: bool = False
) -> tuple[Document, str | None]:
    """The document with a ``dlm_id``, and a sentence saying what was added (or None).

    :param fresh: replace an existing ``dlm_id`` with a new one too (``--new-id``:
        a copy of a document gets its own store). Only that value changes.
    """
    old_id = document.frontmatter.dlm_id if document.frontmatter is not None else None
    if old_id is not None and not fresh:
        return document, None
    dlm_id = new_ulid()
    nl = document.newline
    if document.frontmatter is None:
        added = Frontmatter(dlm_id=dlm_id)
        head = f"---{nl}dlm_id: {dlm_id}{nl}base_model: {added.base_model}{nl}---{nl}"
        prefix = document.frontmatter_source or ""
        sections = document.sections
        if sections and sections[0].fenced is False:
            head += nl  # a blank line between the new frontmatter and the prose
            sections = (_below_frontmatter(sections[0]), *sections[1:])
        updated = attrs.evolve(
            document, frontmatter=added, frontmatter_source=head + prefix, sections=sections
        )
        return updated, f"added frontmatter (dlm_id {dlm_id}, base_model {added.base_model})"
    source = document.frontmatter_source or ""
    first_end = source.index("\n") + 1
    last_start = source.rstrip().rfind("\n") + 1
    yaml_text = _with_dlm_id(source[first_end:last_start], dlm_id, nl)
    frontmatter: Frontmatter | None
    try:
        frontmatter = load_frontmatter(yaml_text)
    except FrontmatterInvalid:
        frontmatter = None
    if frontmatter is None or frontmatter.dlm_id != dlm_id:
        raise DocumentError(
            f"cannot add a dlm_id to this frontmatter by itself; add the line `dlm_id: {dlm_id}` to it",
            path=path,
        )
    source = source[:first_end] + yaml_text + source[last_start:]
    updated = attrs.evolve(document, frontmatter=frontmatter, frontmatter_source=source)
    if old_id is not None:
        return updated, f"gave it a new dlm_id {dlm_id} (was {old_id}, whose store stays as it is)"
    return updated, f"added dlm_id {dlm_id} to the frontmatter"


def _with_dlm_id(yaml_text: str, dlm_id: str, nl: str) -> str:
    """The YAML with ``dlm_id`` set: its value replaced (or filled in), or a line added."""
    root = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            if getattr(key_node, "value", None) == "dlm_id":  # present: null, or to replace
                start, end = value_node.start_mark.index, value_node.end_mark.index
                value = dlm_id if start < end else f" {dlm_id}"
                return yaml_text[:start] + value + yaml_text[end:]
        if root.flow_style:  # {base_model: x}
            at = yaml_text.index("{", root.start_mark.index) + 1
            return f"{yaml_text[:at]}dlm_id: {dlm_id}, {yaml_text[at:]}"
        indent = " " * root.start_mark.column  # a block mapping may be indented as a whole
        return f"{indent}dlm_id: {dlm_id}{nl}{yaml_text}"
    return f"dlm_id: {dlm_id}{nl}{yaml_text}"


def _below_frontmatter(section: Section) -> Section:
    """The top prose, once a frontmatter is put above it.

    Its first line was line 1 of the file, where ``---`` needed a backslash
    to not open a frontmatter; below one it needs none, so one goes.
    """
    source = section.source
    if source is None:
        return section
    first = source.split("\n", 1)[0].removesuffix("\r")
    if (
        first.startswith("\\")
        and grammar.needs_escape(first, top=True)
        and not grammar.needs_escape(first, top=False)
    ):
        return attrs.evolve(section, source=source[1:])
    return section
