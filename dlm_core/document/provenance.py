"""Provenance markers: the ``<!-- dlm-... -->`` line right after a fence.

A mined preference section records which judge ranked it, both scores, when
and in which mine run. The marker carries all of these fields or none; a
SPIN-style pair (``dlm preference mine --pairs reference``, whose chosen
answer is the document's own) adds ``chosen_from="document"``, an optional
field older documents simply lack. A malformed value is an error, never a
guess: a score is a plain decimal
number (``0.82``, ``-1.5e-07``), not whatever Python's ``float`` would take
(``nan``, ``1_000``, `` 1``). Values escape ``\\``, ``"``, ``>`` and line
breaks, so a marker stays one line whatever a judge is called. The upstream
project's ``dlm-auto-synth`` marker on instruction sections is read too, so
its documents open here.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, ClassVar

import attrs

MARKER_PREFIX = "<!-- dlm-"
_MARKER_RE = re.compile(r"^<!-- (dlm-[a-z0-9-]+):(?P<body>.*?)\s*-->$")
_ATTR_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", ">": ">"}
_NUMBER_RE = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


class MarkerError(ValueError):
    """A marker line that does not read; the parser adds file:line.

    :ivar col: the 1-based column in the marker line where the problem is.
    :ivar field: the field whose value is wrong, when one is.
    """

    def __init__(self, message: str, *, col: int = 1, field: str | None = None) -> None:
        super().__init__(message)
        self.col = col
        self.field = field


def _iso_timestamp(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MarkerError(
            f"mined_at must be an ISO-8601 timestamp, got {value!r}", field="mined_at"
        ) from None
    return value


def _score(name: str, value: str) -> float:
    # float() alone would also take " 1", "1_000", "nan" and "infinity".
    if not _NUMBER_RE.fullmatch(value):
        raise MarkerError(
            f"{name} must be a decimal number such as 0.82, got {value!r}", field=name
        )
    number = float(value)
    if not math.isfinite(number):
        raise MarkerError(f"{name} must be a finite number, got {value!r}", field=name)
    return number


def _run_id(value: str) -> int:
    if not re.fullmatch(r"[0-9]+", value):
        raise MarkerError(
            f"mined_run_id must be a whole number, got {value!r}", field="mined_run_id"
        )
    return int(value)


def _text(name: str, value: str) -> str:
    if not value:
        raise MarkerError(f"{name} must not be empty", field=name)
    return value


def _finite(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be finite")


CHOSEN_FROM = ("document",)
"""Values of ``chosen_from``: ``document`` marks a pair whose chosen answer is the document's own."""


def _chosen_from(value: str | None) -> str | None:
    if value is not None and value not in CHOSEN_FROM:
        raise MarkerError(
            f"chosen_from must be {' or '.join(repr(v) for v in CHOSEN_FROM)}, got {value!r}",
            field="chosen_from",
        )
    return value


@attrs.frozen
class MinedProvenance:
    """Where an auto-mined preference pair came from.

    :ivar chosen_from: ``"document"`` when the chosen answer is the
        document's own answer and only the rejected one was sampled
        (SPIN-style pairs); None when the judge chose both from samples.
    """

    kind: ClassVar[str] = "dlm-auto-mined"
    optional: ClassVar[frozenset[str]] = frozenset({"chosen_from"})

    judge_name: str = attrs.field(validator=attrs.validators.min_len(1))
    judge_score_chosen: float = attrs.field(converter=float, validator=_finite)
    judge_score_rejected: float = attrs.field(converter=float, validator=_finite)
    mined_at: str = attrs.field(validator=lambda _i, _a, v: _iso_timestamp(v))
    mined_run_id: int = attrs.field(validator=attrs.validators.ge(0))
    chosen_from: str | None = attrs.field(default=None, validator=lambda _i, _a, v: _chosen_from(v))

    @property
    def is_spin(self) -> bool:
        """Whether the chosen answer is the document's own (a SPIN-style pair)."""
        return self.chosen_from == "document"

    @classmethod
    def from_attributes(cls, values: dict[str, str]) -> MinedProvenance:
        return cls(
            judge_name=_text("judge_name", values["judge_name"]),
            judge_score_chosen=_score("judge_score_chosen", values["judge_score_chosen"]),
            judge_score_rejected=_score("judge_score_rejected", values["judge_score_rejected"]),
            mined_at=_iso_timestamp(values["mined_at"]),
            mined_run_id=_run_id(values["mined_run_id"]),
            chosen_from=_chosen_from(values.get("chosen_from")),
        )

    def attributes(self) -> dict[str, str]:
        values = {
            "judge_name": self.judge_name,
            "judge_score_chosen": repr(self.judge_score_chosen),
            "judge_score_rejected": repr(self.judge_score_rejected),
            "mined_at": self.mined_at,
            "mined_run_id": str(self.mined_run_id),
        }
        if self.chosen_from is not None:
            values["chosen_from"] = self.chosen_from
        return values

    def to_json(self) -> dict[str, Any]:
        fields = attrs.asdict(self)
        if self.chosen_from is None:
            del fields["chosen_from"]  # judged pairs read as they always have
        return {"auto_mined": True, **fields}


@attrs.frozen
class SynthProvenance:
    """Upstream's synthesized-instruction marker, kept so its documents open."""

    kind: ClassVar[str] = "dlm-auto-synth"

    synth_teacher: str = attrs.field(validator=attrs.validators.min_len(1))
    synth_strategy: str = attrs.field(validator=attrs.validators.min_len(1))
    synth_at: str = attrs.field(validator=attrs.validators.min_len(1))
    source_section_id: str = attrs.field(validator=attrs.validators.min_len(1))

    @classmethod
    def from_attributes(cls, values: dict[str, str]) -> SynthProvenance:
        return cls(
            synth_teacher=_text("synth_teacher", values["synth_teacher"]),
            synth_strategy=_text("synth_strategy", values["synth_strategy"]),
            synth_at=_text("synth_at", values["synth_at"]),
            source_section_id=_text("source_section_id", values["source_section_id"]),
        )

    def attributes(self) -> dict[str, str]:
        return attrs.asdict(self)

    def to_json(self) -> dict[str, Any]:
        return {"auto_synth": True, **attrs.asdict(self)}


Provenance = MinedProvenance | SynthProvenance


def marker_kind(line: str) -> str | None:
    """The marker kind of a ``<!-- dlm-KIND: ... -->`` line, else None."""
    match = _MARKER_RE.match(line)
    return match.group(1) if match else None


def parse_marker(line: str, allowed: tuple[type[Provenance], ...]) -> Provenance:
    """Read a marker line into its provenance value.

    :raises MarkerError: unknown kind, kind not allowed here, a missing or
        extra field, or a malformed value; its ``col`` points into ``line``.
    """
    match = _MARKER_RE.match(line)
    if match is None:
        raise MarkerError('expected a marker such as <!-- dlm-auto-mined: judge_name="..." ... -->')
    kind = match.group(1)
    by_kind = {cls.kind: cls for cls in allowed}
    if kind not in by_kind:
        where = ", ".join(sorted(by_kind)) or "none"
        raise MarkerError(
            f"marker {kind} is not valid on this section (allowed here: {where})",
            col=match.start(1) + 1,
        )
    cls = by_kind[kind]
    values, positions = _read_attributes(match.group("body"), match.start("body"))
    expected = [f.name for f in attrs.fields(cls)]
    required = [name for name in expected if name not in getattr(cls, "optional", ())]
    missing = [name for name in required if name not in values]
    if missing:
        raise MarkerError(
            f"{kind} marker is missing {', '.join(missing)} (all of {', '.join(required)} are required)",
            col=match.end("body") + 1,
        )
    extra = sorted(set(values) - set(expected), key=positions.__getitem__)
    if extra:
        raise MarkerError(
            f"{kind} marker has unknown field {', '.join(extra)}", col=positions[extra[0]] + 1
        )
    try:
        return cls.from_attributes(values)
    except MarkerError as exc:
        if exc.field in positions:
            exc.col = positions[exc.field] + 1
        raise


def render_marker(provenance: Provenance) -> str:
    """The marker line for ``provenance`` (no line terminator)."""
    body = " ".join(f'{key}="{_escape(value)}"' for key, value in provenance.attributes().items())
    return f"<!-- {provenance.kind}: {body} -->"


def _escape(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace(">", "\\>")
    )


def _read_attributes(body: str, offset: int) -> tuple[dict[str, str], dict[str, int]]:
    """The fields of a marker body, and where each field's name starts in the line."""
    values: dict[str, str] = {}
    positions: dict[str, int] = {}
    pos = 0
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        match = _ATTR_RE.match(body, pos)
        if match is None:
            at = pos + len(body[pos:]) - len(body[pos:].lstrip())
            raise MarkerError(
                f'expected key="value" in marker at {body[at:][:30]!r}', col=offset + at + 1
            )
        key, raw = match.group(1), match.group(2)
        if key in values:
            raise MarkerError(f"marker field {key} appears twice", col=offset + match.start(1) + 1)
        values[key] = re.sub(r"\\(.)", lambda m: _UNESCAPES.get(m.group(1), m.group(1)), raw)
        positions[key] = offset + match.start(1)
        pos = match.end()
    return values, positions
