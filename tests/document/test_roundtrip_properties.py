"""Round-trip properties of the ``.dlm`` reader and writer.

Documents are generated as values (frontmatter, sections, records, markers)
whose texts are built to collide with the grammar: lines equal to every
fence, record header and marker, ``---``, backslashes in front of any of
these, code fences balanced and not, tabs, trailing spaces and non-ASCII
text. Valid texts are then made by writing such values and changing only
their layout (blank lines, line endings, trailing whitespace, a missing
final newline, a byte-order mark, a hand-written frontmatter block).
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
from hypothesis import given
from hypothesis import strategies as st

from dlm_core.document import grammar
from dlm_core.document.builtin_types import BUILTIN_TYPES
from dlm_core.document.frontmatter import (
    Frontmatter,
    PreferenceConfig,
    TrainingConfig,
    load_frontmatter,
)
from dlm_core.document.identity import with_identity
from dlm_core.document.model import Document, Record, Section
from dlm_core.document.parser import parse
from dlm_core.document.provenance import MinedProvenance, SynthProvenance
from dlm_core.document.serializer import serialize
from dlm_core.errors import DocumentError

# -- lines that collide with the grammar ----------------------------------------

FENCES = [
    "::instruction::",
    "::preference::",
    "::prose::",
    "::eval::",
    "::unknown::",
    "::prose#adapter::",
    "::a#b#c::",
]
HEADERS = ["### Q", "### A", "### Prompt", "### Chosen", "### Rejected"]
MARKERS = [
    '<!-- dlm-auto-mined: judge_name="sway" judge_score_chosen="0.82" '
    'judge_score_rejected="0.31" mined_at="2026-04-23T18:42:11Z" mined_run_id="7" -->',
    '<!-- dlm-auto-mined: judge_name="x" -->',
    "<!-- dlm-auto-synth: whatever -->",
    "<!-- dlm-",
]
GRAMMAR_LINES = [*FENCES, *HEADERS, *MARKERS, "---"]
CODE_FENCES = ["```", "```python", "  ```", "````", "``` trailing"]
SAMPLES = [
    "héllo wörld ✓",
    "日本語のテキスト",
    "tab\there",
    "trailing  ",
    "\\",
    "-- -",
    "###",
    "::",
]

grammar_like = st.builds(
    lambda slashes, line, tail: "\\" * slashes + line + tail,
    st.sampled_from([0, 0, 1, 2, 3]),
    st.sampled_from(GRAMMAR_LINES),
    st.sampled_from(["", "", " ", "\t", "  \t"]),
)
free_text = st.text(
    st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=24
)
blank_line = st.sampled_from(["", "", " ", "\t", "   "])
any_line = st.one_of(
    grammar_like,
    free_text,
    blank_line,
    st.sampled_from(CODE_FENCES),
    st.sampled_from(SAMPLES),
)
filled_line = any_line.filter(lambda line: line.strip() != "")


def _is_code_fence(line: str) -> bool:
    return line.lstrip().startswith("```")


@st.composite
def record_texts(draw: st.DrawFn) -> str:
    """Non-empty, no blank first or last line; ``` may be unbalanced."""
    lines = [draw(filled_line), *draw(st.lists(any_line, max_size=5))]
    while not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


@st.composite
def prose_texts(draw: st.DrawFn, *, allow_empty: bool = True) -> str:
    """Prose: no blank first or last line and every ``` block closed."""
    if allow_empty and draw(st.booleans()) and draw(st.booleans()):
        return ""
    lines = [draw(filled_line), *draw(st.lists(any_line, max_size=6))]
    while not lines[-1].strip():
        lines.pop()
    if sum(1 for line in lines if _is_code_fence(line)) % 2:
        lines.append(draw(st.sampled_from(["```", "  ```", "```"])))
    return "\n".join(lines)


ulids = st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=25, max_size=25).map(lambda s: "0" + s)

mined_provenance = st.builds(
    MinedProvenance,
    judge_name=st.one_of(
        st.sampled_from(["sway", "self", "hf-reward"]),
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=16),
    ),
    judge_score_chosen=st.floats(allow_nan=False, allow_infinity=False),
    judge_score_rejected=st.floats(allow_nan=False, allow_infinity=False),
    mined_at=st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z")),
        st.datetimes().map(datetime.isoformat),
    ),
    mined_run_id=st.integers(min_value=0, max_value=10**12),
)
synth_provenance = st.builds(
    SynthProvenance,
    synth_teacher=st.text(min_size=1, max_size=10),
    synth_strategy=st.sampled_from(["extraction", "expansion"]),
    synth_at=st.just("2026-04-23T18:42:11Z"),
    source_section_id=st.text("0123456789abcdef", min_size=16, max_size=16),
)
fence_suffixes = st.sampled_from(["", "", "", "#adapter", "#"])


def _records(*headers: str) -> st.SearchStrategy[Record]:
    return st.tuples(*(record_texts() for _ in headers)).map(
        lambda texts: Record.of(*zip(headers, texts, strict=True))
    )


def _record_section(
    name: str, headers: tuple[str, ...], provenance: st.SearchStrategy[object]
) -> st.SearchStrategy[Section]:
    return st.builds(
        Section,
        st.just(name),
        records=st.lists(_records(*headers), min_size=1, max_size=3),
        provenance=provenance,
        fence_suffix=fence_suffixes,
    )


fenced_sections = st.one_of(
    st.builds(Section, st.just("prose"), text=prose_texts(), fence_suffix=fence_suffixes),
    _record_section("instruction", ("Q", "A"), st.one_of(st.none(), synth_provenance)),
    _record_section(
        "preference", ("Prompt", "Chosen", "Rejected"), st.one_of(st.none(), mined_provenance)
    ),
    _record_section("eval", ("Q",), st.none()),
)

frontmatter_values = st.builds(
    Frontmatter,
    dlm_id=st.one_of(st.none(), ulids),
    base_model=st.one_of(
        st.sampled_from(["smollm2-135m", "qwen2.5-0.5b", "HuggingFaceTB/SmolLM2-135M-Instruct"]),
        st.text(min_size=1, max_size=20).filter(lambda s: s.strip() != ""),
    ),
    system_prompt=st.one_of(st.none(), st.text(max_size=30)),
    training=st.one_of(
        st.just(TrainingConfig()),
        st.builds(
            TrainingConfig,
            lora_r=st.integers(1, 256),
            learning_rate=st.floats(1e-9, 1.0),
            warmup_ratio=st.sampled_from([0.0, 0.1, 0.10, 0.5]),
            target_modules=st.one_of(
                st.just("auto"), st.lists(st.sampled_from(["q_proj", "v_proj", "auto"]), max_size=3)
            ),
            preference=st.builds(PreferenceConfig, method=st.sampled_from(["dpo", "orpo"])),
        ),
    ),
)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    frontmatter = draw(st.one_of(st.none(), frontmatter_values))
    sections = []
    if draw(st.booleans()):
        sections.append(Section.prose(draw(prose_texts(allow_empty=False))))
    sections.extend(draw(st.lists(fenced_sections, max_size=5)))
    return Document(
        frontmatter=frontmatter,
        sections=tuple(sections),
        newline=draw(st.sampled_from(["\n", "\n", "\r\n"])),
        bom=draw(st.booleans()) and draw(st.booleans()),
    )


# -- hand-written frontmatter blocks ---------------------------------------------

_YAML_ENTRIES: dict[str, list[list[str]]] = {
    "dlm_id": [
        ["dlm_id: 01KPM5CXB51GRX86Q25AKERN6E"],
        ["dlm_id: '01KPM5CXB51GRX86Q25AKERN6E'  # set by dlm"],
    ],
    "base_model": [["base_model: smollm2-135m"], ['base_model: "qwen2.5-0.5b"   # small']],
    "dlm_version": [["dlm_version: 1"]],
    "system_prompt": [
        ["system_prompt: You are concise."],
        ["system_prompt: |", "  Line one.", "", "  ::instruction::", "  ### Q"],
        ["system_prompt: >-", "  folded", "  text"],
    ],
    "training": [
        ["training:", "  learning_rate: 2e-4", "  warmup_ratio: 0.10", "  lora_r: 8  # rank"],
        ["training: {lora_r: 8, num_epochs: 3, seed: 42, preference: {method: dpo}}"],
        [
            "training:",
            "  # the preference phase",
            "  preference:",
            "    method: orpo",
            "    hyperparams: {beta: 0.10, learning_rate: 5.0e-6}",
            "  sequence_len: 2048",
        ],
    ],
    "export": [["export:", "  default_quant: Q8_0"]],
}
_YAML_FILLER = [["# a comment"], ["#"], [""], ["   # indented comment"]]


@st.composite
def frontmatter_blocks(draw: st.DrawFn) -> tuple[str, Frontmatter]:
    """A ``---`` block written by hand and the value it reads as."""
    keys = draw(
        st.lists(st.sampled_from(sorted(_YAML_ENTRIES)), unique=True, max_size=len(_YAML_ENTRIES))
    )
    chunks = [draw(st.sampled_from(_YAML_ENTRIES[key])) for key in keys]
    chunks += draw(st.lists(st.sampled_from(_YAML_FILLER), max_size=3))
    chunks = draw(st.permutations(chunks))
    yaml_text = "".join(line + "\n" for chunk in chunks for line in chunk)
    closing = draw(st.sampled_from(["---", "---", "--- "]))
    return f"---\n{yaml_text}{closing}\n", load_frontmatter(yaml_text)


@st.composite
def valid_texts(draw: st.DrawFn) -> tuple[str, Document]:
    """A valid text, its layout perturbed, and the document it must read as."""
    document = draw(documents())
    if draw(st.booleans()):
        block, frontmatter = draw(frontmatter_blocks())
        body = serialize(
            attrs.evolve(
                document, frontmatter=frontmatter, frontmatter_source="", bom=False, newline="\n"
            )
        )
        gap = draw(st.sampled_from(["", "\n", "\n\n"]))
        text = block + gap + body
        document = attrs.evolve(document, frontmatter=frontmatter)
    else:
        text = serialize(attrs.evolve(document, bom=False, newline="\n"))
    text = _relayout(draw, text)
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text, document


def _relayout(draw: st.DrawFn, text: str) -> str:
    """The same document with other blank lines, trailing blanks and line endings."""
    parsed = parse(text)
    out = [parsed.frontmatter_source or ""]
    for index, section in enumerate(parsed.sections):
        assert section.source is not None
        top_prose = index == 0 and not section.fenced
        out.append(_relayout_section(draw, section, top_prose=top_prose))
    lines = "".join(out).split("\n")
    if draw(st.booleans()):
        lines[-1:-1] = [draw(blank_line) for _ in range(draw(st.integers(1, 2)))]
    ending = draw(st.sampled_from(["\n", "\r\n", "mixed"]))
    if ending == "mixed":
        joined = (
            "".join(line + draw(st.sampled_from(["\n", "\r\n"])) for line in lines[:-1]) + lines[-1]
        )
    else:
        joined = ending.join(lines)
    if draw(st.booleans()):  # no final newline
        joined = joined.removesuffix("\n").removesuffix("\r")
    return joined


def _relayout_section(draw: st.DrawFn, section: Section, *, top_prose: bool) -> str:
    assert section.source is not None
    lines = section.source.split("\n")
    tail = lines.pop()  # "" after the final newline
    section_type = BUILTIN_TYPES[section.type]
    headers = section_type.headers
    blanks = st.lists(blank_line, max_size=2)
    ws = st.sampled_from(["", "", " ", "\t", "  "])
    out: list[str] = []
    seen_fence = False
    for position, line in enumerate(lines):
        is_fence = not seen_fence and grammar.match_fence(line) is not None and section.fenced
        is_header = bool(headers) and seen_fence and grammar.match_header(line, headers) is not None
        is_marker = (
            seen_fence
            and position > 0
            and grammar.match_fence(lines[position - 1]) is not None
            and line.startswith(grammar.MARKER_START)
        )
        if is_fence or is_header:
            out.extend(draw(blanks))
        if is_fence or is_header or is_marker:
            out.append(line + draw(ws))
        else:
            out.append(line)
        if is_fence:
            seen_fence = True
        # Blank lines may follow a header, a marker, or a fence with no marker after it.
        next_is_marker = position + 1 < len(lines) and lines[position + 1].startswith(
            grammar.MARKER_START
        )
        if is_header or is_marker or (is_fence and not next_is_marker and not top_prose):
            out.extend(draw(blanks))
    return "\n".join([*out, tail])


# -- properties --------------------------------------------------------------------


@given(documents())
def test_every_document_value_reads_back_equal(document: Document) -> None:
    assert parse(serialize(document)) == document


@given(documents())
def test_written_sections_carry_their_exact_text_as_source(document: Document) -> None:
    text = serialize(document)
    parsed = parse(text)
    body = text.removeprefix("\ufeff")
    assert (parsed.frontmatter_source or "") + "".join(
        s.source or "" for s in parsed.sections
    ) == body


@given(valid_texts())
def test_every_valid_text_writes_back_byte_for_byte(case: tuple[str, Document]) -> None:
    text, document = case
    parsed = parse(text)
    assert parsed == document
    assert serialize(parsed) == text


@given(valid_texts(), fenced_sections)
def test_appending_then_removing_a_section_restores_every_byte(
    case: tuple[str, Document], new: Section
) -> None:
    text, _ = case
    document = parse(text)
    appended = document.appending([new])
    written = serialize(appended)
    body = text.removesuffix("\n").removesuffix("\r") if not text.endswith("\n") else text
    assert written.startswith(body)
    reread = parse(written)
    assert reread == appended
    assert reread.sections[-1] == new
    restored = appended.removing([appended.sections[-1]])
    assert serialize(restored) == text


@given(valid_texts(), fenced_sections)
def test_appending_a_section_keeps_earlier_section_ids(
    case: tuple[str, Document], new: Section
) -> None:
    text, _ = case
    document = parse(text)
    before = [s.section_id for s in document.sections]
    after = [s.section_id for s in parse(serialize(document.appending([new]))).sections]
    assert after[:-1] == before
    assert after[-1] == new.section_id


@given(valid_texts(), st.data())
def test_removing_a_section_cuts_out_exactly_its_bytes(
    case: tuple[str, Document], data: st.DataObject
) -> None:
    text, _ = case
    document = parse(text)
    if not document.sections:
        return
    index = data.draw(st.integers(0, len(document.sections) - 1))
    doomed = document.sections[index]
    bom = "\ufeff" if document.bom else ""
    start = (
        len(bom)
        + len(document.frontmatter_source or "")
        + sum(len(s.source or "") for s in document.sections[:index])
    )
    expected = text[:start] + text[start + len(doomed.source or "") :]
    remaining = document.removing([doomed])
    assert serialize(remaining) == expected
    assert parse(expected) == remaining


@given(
    st.lists(st.tuples(record_texts(), record_texts(), record_texts()), min_size=1, max_size=3),
    mined_provenance,
)
def test_a_mined_section_and_the_same_pairs_by_hand_share_a_section_id(
    triples: list[tuple[str, str, str]], provenance: MinedProvenance
) -> None:
    mined = Section.preference(triples, provenance)
    by_hand = Section.preference(triples)
    assert mined.section_id == by_hand.section_id
    parsed = parse(serialize(Document(sections=(mined, by_hand))))
    assert parsed.sections[0].auto_mined and not parsed.sections[1].auto_mined
    assert parsed.sections[0].section_id == parsed.sections[1].section_id == by_hand.section_id


TEXT_LINES = st.one_of(
    any_line,
    st.sampled_from(
        [*MARKERS[:1], "dlm_id: 01KPM5CXB51GRX86Q25AKERN6E", "base_model: x", "training: {seed: 1}"]
    ),
)
LINE_ENDINGS = st.sampled_from(["\n", "\n", "\n", "\r\n", ""])


@given(st.lists(st.tuples(TEXT_LINES, LINE_ENDINGS), max_size=20), st.booleans())
def test_any_text_reads_exactly_or_fails_with_a_located_error(
    parts: list[tuple[str, str]], bom: bool
) -> None:
    text = ("\ufeff" if bom else "") + "".join(line + ending for line, ending in parts)
    try:
        document = parse(text)
    except DocumentError as exc:
        assert 1 <= exc.line <= text.count("\n") + 1
        assert exc.col >= 1
        return
    assert serialize(document) == text
    rendered = attrs.evolve(document, sections=[s.detached() for s in document.sections])
    assert parse(serialize(rendered)) == document


@given(valid_texts())
def test_adding_an_identity_changes_nothing_else(case: tuple[str, Document]) -> None:
    text, document = case
    identified, note = with_identity(parse(text))
    reread = parse(serialize(identified))
    assert reread == identified
    assert reread.sections == document.sections
    assert (note is None) == (document.dlm_id is not None)
