"""What the reader says about malformed text: where, and what it expected.

Every case is a whole document; the error must name the line and column of
the problem and say what would have been right. Nothing is guessed: a
document that reads at all reads exactly as written.
"""

from __future__ import annotations

import pytest

from dlm_core.document.parser import parse
from dlm_core.errors import DocumentError

MARKER_FIELDS = (
    'judge_name="sway" judge_score_chosen="0.82" judge_score_rejected="0.31" '
    'mined_at="2026-04-23T18:42:11Z" mined_run_id="7"'
)
PAIR = "### Prompt\np\n### Chosen\nc\n### Rejected\nr\n"


def _error(text: str) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        parse(text, path="notes.dlm")
    return caught.value


def _marker_line(fields: str) -> str:
    return f"<!-- dlm-auto-mined: {fields} -->"


# -- frontmatter -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        (
            "---\nbogus: 1\n---\n",
            2,
            1,
            "unknown key 'bogus'; expected one of: dlm_id, dlm_version, base_model, system_prompt, training, export",
        ),
        (
            "---\ntraining:\n  seed: 1\n  lora_rr: 8\n---\n",
            4,
            3,
            "unknown key 'training.lora_rr' (did you mean 'lora_r'?); expected one of: adapter, lora_r, "
            "lora_alpha, lora_dropout, target_modules, sequence_len, micro_batch_size, grad_accum, "
            "learning_rate, num_epochs, optimizer, lr_scheduler, warmup_ratio, precision, seed, preference, "
            "cpt, gate, cache, audio, adapters, sources, sources_policy",
        ),
        (
            "---\ntraining:\n  preference:\n    hyperparams:\n      beta: 0.1\n      gamma: 2\n---\n",
            6,
            7,
            "unknown key 'training.preference.hyperparams.gamma'; "
            "expected one of: beta, alpha, learning_rate, num_epochs",
        ),
        (
            "---\r\ntraining:\r\n  lora_rr: 8\r\n---\r\n",
            3,
            3,
            "unknown key 'training.lora_rr' (did you mean 'lora_r'?)",
        ),
        ("\ufeff---\nbogus: 1\n---\n", 2, 1, "unknown key 'bogus'"),
    ],
    ids=["top-level", "nested", "deeply-nested", "crlf", "bom"],
)
def test_an_unknown_frontmatter_key_is_located_at_the_key(
    text: str, line: int, col: int, message: str
) -> None:
    error = _error(text)
    assert (error.line, error.col) == (line, col)
    assert error.message.startswith(message)


def test_of_two_unknown_keys_the_first_written_is_reported() -> None:
    error = _error("---\ntraining:\n  zeta: 1\n  alpha_x: 2\n---\n")
    assert (error.line, error.col) == (3, 3)
    assert error.message.startswith("unknown key 'training.zeta'")


def test_a_key_yaml_reads_as_a_number_or_null_is_an_unknown_key() -> None:
    error = _error("---\nbase_model: x\n1: a\nnull: b\n---\n")
    assert (error.line, error.col) == (3, 1)
    assert error.message.startswith("unknown key '1'")


@pytest.mark.parametrize(
    ("yaml", "line", "col", "message"),
    [
        ("training:\n  lora_r: 0\n", 3, 3, "training.lora_r must be at least 1, got 0"),
        (
            "training:\n  lora_r: eight\n",
            3,
            3,
            "training.lora_r: expected a whole number, got 'eight'",
        ),
        ("training:\n  lora_r: true\n", 3, 3, "training.lora_r: expected a whole number, got True"),
        (
            "training:\n  learning_rate: .nan\n",
            3,
            3,
            "training.learning_rate: expected a finite number, got nan",
        ),
        (
            "training:\n  learning_rate: 1_0e-4\n",
            3,
            3,
            "training.learning_rate: expected a number, got '1_0e-4'",
        ),
        (
            "training:\n  lr_scheduler: cosin\n",
            3,
            3,
            "training.lr_scheduler: expected one of 'cosine', 'linear', 'constant', got 'cosin'",
        ),
        ("training: 5\n", 2, 1, "training: expected a mapping of keys to values, got 5"),
        (
            "training:\n  preference: dpo\n",
            3,
            3,
            "training.preference: expected a mapping of keys to values, got 'dpo'",
        ),
        (
            "training:\n  sources: [{path: docs, include: '*.md'}]\n",
            3,
            26,
            "training.sources.0.include: expected a list of text, got '*.md'",
        ),
        (
            "training:\n  sources: [{include: ['*.md']}]\n",
            3,
            13,
            "training.sources.0: missing required key 'path'",
        ),
        ("dlm_id: abc\n", 2, 1, "dlm_id must be a 26-character ULID (Crockford base32), got 'abc'"),
        ("base_model: ''\n", 2, 1, "base_model must not be empty"),
        ("system_prompt: [a]\n", 2, 1, "system_prompt: expected text, got ['a']"),
        ("- a\n- b\n", 2, 1, "frontmatter must be a mapping of keys to values"),
        (
            "training: {lora_r: 8\n",
            3,
            1,
            "invalid YAML: expected ',' or '}', but got '<stream end>'",
        ),
        ("system_prompt: a\x07b\n", 2, 17, "invalid YAML: character U+0007 is not allowed in YAML"),
        (
            "base_model: *x\n",
            2,
            13,
            "YAML aliases (*x) are not allowed in a .dlm frontmatter; write each value out in full",
        ),
        (
            "base_model: a\nbase_model: b\n",
            3,
            1,
            "duplicate key 'base_model' (first set on line 2); keep one of them",
        ),
        (
            "training:\n  seed: 1\n  seed: 2\n",
            4,
            3,
            "duplicate key 'training.seed' (first set on line 3); keep one of them",
        ),
    ],
)
def test_a_bad_frontmatter_value_says_what_was_expected(
    yaml: str, line: int, col: int, message: str
) -> None:
    error = _error(f"---\n{yaml}---\nHello.\n")
    assert (error.line, error.col, error.message) == (line, col, message)


def test_unterminated_frontmatter_points_at_its_opening_line() -> None:
    error = _error("---\nbase_model: smollm2-135m\n\nHello.\n")
    assert (error.line, error.col) == (1, 1)
    assert (
        error.message
        == "frontmatter opened with '---' is never closed; add a '---' line after the YAML"
    )


def test_error_text_names_path_line_and_column() -> None:
    assert str(_error("---\nbogus: 1\n---\n")).startswith("notes.dlm:2:1: unknown key 'bogus'")


# -- sections and records ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "::preference::\n### Prompt\np\n### Chosen\nc\n\n### Prompt\np2\n",
            7,
            "expected '### Rejected', found '### Prompt'",
        ),
        (
            "Intro.\n\n::preference::\n### Prompt\np\n### Chosen\nc\n",
            4,
            "::preference:: record is missing '### Rejected'",
        ),
        (
            "::preference::\n### Prompt\np\n",
            2,
            "::preference:: record is missing '### Chosen', '### Rejected'",
        ),
        (
            "::instruction::\n### A\nanswer\n### Q\nquestion\n",
            2,
            "found '### A' before its '### Q'; each record starts with '### Q'",
        ),
        ("::instruction::\n### Q\nq\n### Q\nq2\n", 4, "expected '### A', found '### Q'"),
        (
            "::instruction::\nstray text\n### Q\nq\n### A\na\n",
            2,
            "expected '### Q' to start a ::instruction:: record, found text",
        ),
        ("::instruction::\n\n", 1, "::instruction:: section has no records; expected '### Q'"),
        ("::instruction::\n### Q\n\n### A\na\n", 2, "'### Q' has no text under it"),
        ("::eval::\n### Q\n", 2, "'### Q' has no text under it"),
        (
            "Intro.\n\n::foo::\n",
            3,
            "unknown section type '::foo::'; known types: eval, instruction, preference, prose",
        ),
        (
            "::prose#adapter::\nok\n::bar#x::\n",
            3,
            "unknown section type '::bar::'; known types: eval, instruction, preference, prose",
        ),
        (
            "Intro.\n\n```python\nprint(1)\n\n::instruction::\n### Q\nq\n### A\na\n",
            3,
            "this ``` code block is never closed; add a closing ``` line",
        ),
        (
            "::prose::\n```\na\n```\n  ```\n",
            5,
            "this ``` code block is never closed; add a closing ``` line",
        ),
    ],
)
def test_a_malformed_body_says_what_was_expected(text: str, line: int, message: str) -> None:
    error = _error(text)
    assert (error.line, error.col, error.message) == (line, 1, message)


def test_an_unbalanced_code_fence_inside_a_record_is_just_text() -> None:
    document = parse(
        "::instruction::\n### Q\nShow code.\n### A\n```python\nprint(1)\n\n::prose::\nAfter.\n"
    )
    assert [s.type for s in document.sections] == ["instruction", "prose"]
    assert document.sections[0].records[0]["A"] == "```python\nprint(1)"


def test_a_fence_inside_a_prose_code_block_is_text() -> None:
    document = parse("Intro.\n\n```\n::instruction::\n### Q\n```\n")
    assert [s.type for s in document.sections] == ["prose"]
    assert document.sections[0].text == "Intro.\n\n```\n::instruction::\n### Q\n```"


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("Intro\ralone\n", 1, 6),
        ("Intro.\r\n::instruction::\r\n### Q\r\nq\r\n### A\r\na\rb\r\n", 6, 2),
        ("Intro.\nlast line\r", 2, 10),
    ],
)
def test_a_carriage_return_that_ends_no_line_is_located(text: str, line: int, col: int) -> None:
    error = _error(text)
    assert (error.line, error.col) == (line, col)
    assert error.message == (
        "carriage return (\\r) that does not end a line; save the file with \\n or \\r\\n line endings"
    )


# -- provenance markers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            MARKER_FIELDS.replace('judge_score_chosen="0.82"', 'judge_score_chosen="high"'),
            "judge_score_chosen",
            "judge_score_chosen must be a decimal number such as 0.82, got 'high'",
        ),
        (
            MARKER_FIELDS.replace('judge_score_rejected="0.31"', 'judge_score_rejected="nan"'),
            "judge_score_rejected",
            "judge_score_rejected must be a decimal number such as 0.82, got 'nan'",
        ),
        (
            MARKER_FIELDS.replace('judge_score_rejected="0.31"', 'judge_score_rejected="1e999"'),
            "judge_score_rejected",
            "judge_score_rejected must be a finite number, got '1e999'",
        ),
        (
            MARKER_FIELDS.replace('mined_run_id="7"', 'mined_run_id="-1"'),
            "mined_run_id",
            "mined_run_id must be a whole number, got '-1'",
        ),
        (
            MARKER_FIELDS.replace("2026-04-23T18:42:11Z", "yesterday"),
            "mined_at",
            "mined_at must be an ISO-8601 timestamp, got 'yesterday'",
        ),
        (
            MARKER_FIELDS.replace('judge_name="sway"', 'judge_name=""'),
            "judge_name",
            "judge_name must not be empty",
        ),
        (
            MARKER_FIELDS + ' judge_mood="good"',
            "judge_mood",
            "dlm-auto-mined marker has unknown field judge_mood",
        ),
        (
            MARKER_FIELDS + ' mined_run_id="8"',
            'mined_run_id="8',
            "marker field mined_run_id appears twice",
        ),
    ],
)
def test_a_bad_marker_value_is_located_at_its_field(fields: str, field: str, message: str) -> None:
    marker = _marker_line(fields)
    error = _error(f"::preference::\n{marker}\n{PAIR}")
    assert (error.line, error.col, error.message) == (2, marker.index(field) + 1, message)


@pytest.mark.parametrize("missing", ["judge_name", "mined_run_id", "mined_at"])
def test_a_marker_missing_a_field_names_every_required_field(missing: str) -> None:
    fields = " ".join(part for part in MARKER_FIELDS.split(" ") if not part.startswith(missing))
    marker = _marker_line(fields)
    error = _error(f"Intro.\n\n::preference::\n{marker}\n{PAIR}")
    assert (error.line, error.col) == (4, marker.index(" -->") + 1)
    assert error.message == (
        f"dlm-auto-mined marker is missing {missing} (all of judge_name, judge_score_chosen, "
        "judge_score_rejected, mined_at, mined_run_id are required)"
    )


def test_a_marker_of_the_wrong_kind_names_the_kinds_allowed() -> None:
    error = _error(f"::instruction::\n{_marker_line(MARKER_FIELDS)}\n### Q\nq\n### A\na\n")
    assert (error.line, error.col) == (2, 6)
    assert (
        error.message
        == "marker dlm-auto-mined is not valid on this section (allowed here: dlm-auto-synth)"
    )


def test_a_marker_that_is_not_key_value_pairs_is_located() -> None:
    marker = '<!-- dlm-auto-mined: judge_name="sway" oops -->'
    error = _error(f"::preference::\n{marker}\n{PAIR}")
    assert (error.line, error.col) == (2, marker.index("oops") + 1)
    assert error.message == "expected key=\"value\" in marker at 'oops'"


def test_a_marker_line_that_is_not_a_marker_says_what_one_looks_like() -> None:
    error = _error(f"::preference::\n<!-- dlm-auto-mined judge_name=x\n{PAIR}")
    assert (error.line, error.col) == (2, 1)
    assert (
        error.message == 'expected a marker such as <!-- dlm-auto-mined: judge_name="..." ... -->'
    )


def test_a_frontmatter_alias_of_its_own_parent_is_an_error_not_a_crash() -> None:
    error = _error("---\ntraining: &t {cache: *t}\n---\n")
    assert (error.line, error.col) == (2, 11)
    assert error.message.startswith("YAML anchors (&t) are not allowed in a .dlm frontmatter")
