"""The frontmatter schema and its reader.

Keys follow the upstream DocumentLanguageModel format so its documents open
here; keys dlm does not act on (``gate``, ``cache``, ``sources``...) are
still typed, so a misspelling anywhere is caught. An unknown key or a bad
value is an error located at its ``file:line:col``.

Reading is strict where YAML is lenient: a key written twice is an error
(PyYAML would keep the last silently), anchors, aliases and nesting deeper
than :data:`MAX_DEPTH` are refused where they are written (they let a few
lines expand without bound), a string is not taken for a list, and
a number must be finite (``2e-4``, which YAML 1.1 reads as a string, is
still taken as a number). Of several problems, the first in the text is
reported.

The frontmatter is read, never rewritten: the document keeps its block
verbatim, so comments, key order and number formats survive every edit.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator
from typing import Any, Literal, get_args, get_origin

import attrs
import cattrs
import yaml
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn

DEFAULT_BASE_MODEL = "smollm2-135m"
ULID_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # whole value: fullmatch (a `$` lets "\n" through)
MAX_SEED = 2**32 - 1
"""The largest seed every library takes: numpy's generator (via transformers'
set_seed) refuses more, and negative ones; SQLite and torch take all of these."""
DEFAULT_LOSS_TYPE = "sigmoid,sft"
"""``training.preference.loss_type`` when a document does not write one (see PreferenceConfig)."""


class FieldError(ValueError):
    """A value out of range, raised by the validators below with its key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def _between(lo: float | None = None, hi: float | None = None, *, open_lo: bool = False) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None or isinstance(value, str):
            return
        if lo is not None and (value <= lo if open_lo else value < lo):
            bound = f"greater than {lo}" if open_lo else f"at least {lo}"
            raise FieldError(attribute.name, f"{attribute.name} must be {bound}, got {value}")
        if hi is not None and value > hi:
            raise FieldError(attribute.name, f"{attribute.name} must be at most {hi}, got {value}")

    return check


def _auto_or_positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value != "auto" and (not isinstance(value, int) or value < 1):
        raise FieldError(
            attribute.name,
            f"{attribute.name} must be 'auto' or a positive whole number, got {value!r}",
        )


def _ulid(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not ULID_RE.fullmatch(value):
        raise FieldError(
            attribute.name, f"dlm_id must be a 26-character ULID (Crockford base32), got {value!r}"
        )


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise FieldError(attribute.name, f"{attribute.name} must not be empty")


def _preference_method(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value.strip() == "sft":
        raise FieldError(
            attribute.name,
            "method names the preference trainer (dpo, orpo or a plugin's); 'sft' is not one",
        )


@attrs.frozen
class PreferenceHyperparams:
    """``training.preference.hyperparams``.

    ``learning_rate`` None means "not written": the phase uses the LoRA
    default of its method (dlm_core.training.settings), while any value a
    document writes, upstream's 5e-6 included, is used exactly. ``num_epochs``
    ``auto`` runs enough passes for a minimum number of optimizer steps
    (dlm_core.training.schedule).
    """

    # No upper bound: plugin methods such as SimPO use beta well above 1.
    beta: float = attrs.field(default=0.1, validator=_between(0.0))
    alpha: float = attrs.field(default=0.1, validator=_between(0.0))
    learning_rate: float | None = attrs.field(default=None, validator=_between(0.0, open_lo=True))
    num_epochs: Literal["auto"] | int = attrs.field(default="auto", validator=_auto_or_positive)


@attrs.frozen
class PreferenceConfig:
    """``training.preference``: which trainer runs the preference phase, and how."""

    enabled: bool | None = None
    method: str = attrs.field(default="dpo", validator=[_non_empty, _preference_method])
    hyperparams: PreferenceHyperparams = attrs.Factory(PreferenceHyperparams)
    # DPO plus the chosen answers' language-model loss (RPO, Pang et al. 2024): without the
    # second term a LoRA phase lowers the chosen answers' likelihood along with the rejected
    # ones' and overshoots past what the judge chose (docs/cookbook/dpo-vs-orpo.md).
    loss_type: str = DEFAULT_LOSS_TYPE
    reference: Literal["pre_adapter", "base"] = "pre_adapter"
    # Settings of a plugin trainer that the fields above do not cover (SimPO's gamma...),
    # handed to the trainer untouched.
    options: dict[str, Any] = attrs.Factory(dict)
    # Keep `current` on the parent when the held-out check does not show the new version winning.
    gate: bool = False


@attrs.frozen
class CptConfig:
    schedule: Literal["auto", "dapt", "sft"] = "auto"
    embed_warmup_steps: int = attrs.field(default=0, validator=_between(0))


@attrs.frozen
class GateConfig:
    enabled: bool = False
    hidden_proj_dim: int = 64
    steps: int = 200
    lr: float = 3e-4
    cold_start_floor: int = 4
    entropy_lambda: float = 0.01


@attrs.frozen
class CacheConfig:
    enabled: bool = True
    max_bytes: int = 10 * 1024**3
    prune_older_than_days: int = 90


@attrs.frozen
class AudioConfig:
    auto_resample: bool = False


@attrs.frozen
class AdapterConfig:
    adapter: Literal["lora", "qlora", "dora"] = "lora"
    lora_r: int = attrs.field(default=8, validator=_between(1, 256))
    lora_alpha: int = attrs.field(default=16, validator=_between(1))
    lora_dropout: float = attrs.field(default=0.05, validator=_between(0.0, 0.5))
    target_modules: Literal["auto"] | list[str] = "auto"
    learning_rate: float = attrs.field(default=2e-4, validator=_between(0.0, open_lo=True))


@attrs.frozen
class SourceDirective:
    path: str
    include: list[str] = attrs.Factory(lambda: ["**/*"])
    exclude: list[str] = attrs.Factory(list)
    max_bytes_per_file: int | None = None
    max_files: int | None = None


@attrs.frozen
class TrainingConfig:
    """``training``: LoRA shape and SFT hyper-parameters (design section 6 defaults)."""

    adapter: Literal["lora", "qlora", "dora"] = "lora"
    lora_r: int = attrs.field(default=8, validator=_between(1, 256))
    lora_alpha: int = attrs.field(default=16, validator=_between(1))
    lora_dropout: float = attrs.field(default=0.05, validator=_between(0.0, 0.5))
    target_modules: Literal["auto"] | list[str] = "auto"
    sequence_len: int = attrs.field(default=1024, validator=_between(64, 32768))
    micro_batch_size: Literal["auto"] | int = attrs.field(
        default="auto", validator=_auto_or_positive
    )
    grad_accum: Literal["auto"] | int = attrs.field(default="auto", validator=_auto_or_positive)
    # A LoRA step that lets a first adapter take on a short document within auto's 30 steps
    # (bench/sweep_defaults.py; 2e-4 left the 135M base's answers near where they started).
    learning_rate: float = attrs.field(default=1e-3, validator=_between(0.0, open_lo=True))
    # auto: enough passes for a minimum number of optimizer steps (dlm_core.training.schedule).
    num_epochs: Literal["auto"] | int = attrs.field(default="auto", validator=_auto_or_positive)
    optimizer: str = "adamw_torch"
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = attrs.field(default=0.1, validator=_between(0.0, 0.5))
    precision: Literal["bf16", "fp16", "fp32"] | None = None
    seed: int = attrs.field(default=42, validator=_between(0, MAX_SEED))
    preference: PreferenceConfig = attrs.Factory(PreferenceConfig)
    cpt: CptConfig = attrs.Factory(CptConfig)
    gate: GateConfig = attrs.Factory(GateConfig)
    cache: CacheConfig = attrs.Factory(CacheConfig)
    audio: AudioConfig = attrs.Factory(AudioConfig)
    adapters: dict[str, AdapterConfig] | None = None
    sources: list[SourceDirective] | None = None
    sources_policy: Literal["permissive", "strict"] = "permissive"

    def unsupported_keys(self) -> list[str]:
        """Upstream keys that are accepted but have no effect in dlm."""
        unused = []
        if self.adapters:
            unused.append("training.adapters")
        if self.sources:
            unused.append("training.sources")
        if self.gate.enabled:
            unused.append("training.gate")
        if self.adapter != "lora":
            unused.append(f"training.adapter={self.adapter}")
        for key, default in (
            ("cpt", CptConfig()),
            ("cache", CacheConfig()),
            ("audio", AudioConfig()),
        ):
            if getattr(self, key) != default:
                unused.append(f"training.{key}")
        return unused


@attrs.frozen
class ExportConfig:
    default_quant: Literal["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"] = "Q4_K_M"
    default_temperature: float | None = None
    default_top_p: float | None = None


@attrs.frozen
class Frontmatter:
    """The YAML block at the top of a ``.dlm`` document."""

    dlm_id: str | None = attrs.field(default=None, validator=_ulid)
    dlm_version: int = attrs.field(default=1, validator=_between(1))
    base_model: str = attrs.field(default=DEFAULT_BASE_MODEL, validator=_non_empty)
    system_prompt: str | None = None
    training: TrainingConfig = attrs.Factory(TrainingConfig)
    export: ExportConfig = attrs.Factory(ExportConfig)


converter = cattrs.Converter(forbid_extra_keys=True)


def _show(value: Any) -> str:
    """A value as the user wrote it, shortened for an error line."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _structure_literal_or_int(value: Any, _type: Any) -> Any:
    if value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected 'auto' or a whole number, got {_show(value)}")
    return value


def _structure_modules(value: Any, _type: Any) -> Any:
    if value == "auto":
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"expected 'auto' or a list of module names, got {_show(value)}")


_KIND_NAMES = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}
# YAML 1.1 reads 2e-4 (no dot) as a string; such a string is taken as a number.
_DECIMAL_RE = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _strict_scalar(kind: type) -> Any:
    def structure(value: Any, _type: Any) -> Any:
        if kind is float:
            if isinstance(value, str) and _DECIMAL_RE.fullmatch(value):
                value = float(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                try:
                    value = float(value)
                except OverflowError:
                    raise ValueError(f"expected a number, got {_show(value)}") from None
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"expected a finite number, got {_show(value)}")
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            raise ValueError(f"expected {_KIND_NAMES[kind]}, got {_show(value)}")
        return value

    return structure


def _is_literal(type_: Any) -> bool:
    return get_origin(type_) is Literal


def _is_exactly(expected: Any) -> Any:
    def check(type_: Any) -> bool:
        return bool(type_ == expected)

    return check


def _literal_hook(type_: Any) -> Any:
    allowed = get_args(type_)

    def structure(value: Any, _type: Any) -> Any:
        # bool is checked apart: True == 1 would otherwise pass for a Literal[1].
        if isinstance(value, bool) or value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            raise ValueError(f"expected one of {choices}, got {_show(value)}")
        return value

    return structure


def _mapping_hook(cl: Any, conv: cattrs.Converter) -> Any:
    """cattrs' own hook for an attrs class, refusing anything but a mapping first."""
    base = make_dict_structure_fn(cl, conv)

    def structure(value: Any, _type: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping of keys to values, got {_show(value)}")
        return base(value, _type)

    return structure


def _requiring(kind: type, what: str, base: Any) -> Any:
    """``base``, after checking the value is a ``kind`` (a string is not a list)."""

    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, kind):
            raise ValueError(f"expected {what}, got {_show(value)}")
        return base(value, type_)

    return structure


converter.register_structure_hook(Literal["auto"] | int, _structure_literal_or_int)
converter.register_structure_hook(Literal["auto"] | list[str], _structure_modules)
for _kind in (int, float, str, bool):
    converter.register_structure_hook(_kind, _strict_scalar(_kind))
converter.register_structure_hook_factory(_is_literal, _literal_hook)
converter.register_structure_hook_factory(attrs.has, _mapping_hook)
_CONTAINERS: list[tuple[Any, type, str]] = [
    (list[str], list, "a list of text"),
    (list[SourceDirective], list, "a list of mappings"),
    (dict[str, AdapterConfig], dict, "a mapping of names to adapter settings"),
]
for _container, _kind_of, _what in _CONTAINERS:
    converter.register_structure_hook_func(
        _is_exactly(_container),
        _requiring(_kind_of, _what, converter.get_structure_hook(_container)),
    )


@attrs.frozen
class FrontmatterProblem:
    """Where and what, relative to the first line of the YAML text."""

    message: str
    line: int
    col: int


class FrontmatterInvalid(ValueError):
    def __init__(self, problem: FrontmatterProblem) -> None:
        self.problem = problem
        super().__init__(problem.message)


MAX_DEPTH = 32
"""How deeply a frontmatter may nest mappings and lists: far beyond any real one,
far below exhausting Python's recursion while it is built."""


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML 1.1's safe loader, also reading ``1e-3`` (an exponent without a dot) as a
    number, and refusing anchors, aliases and deep nesting as it composes.

    YAML 1.1 reads ``1e-3`` as a string, which would leave numbers under free-form
    keys (``training.preference.options``) as text while typed keys convert.
    Anchors and aliases let a few lines stand for gigabytes (``&a [*a, *a]``,
    nested) or for a value that contains itself, and thousands of ``[`` exhaust
    Python's recursion; a frontmatter needs none of that, so each is refused
    where it is written, before anything is built.
    """

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            _refuse(f"YAML aliases (*{event.anchor}) are not allowed in a .dlm frontmatter", event)
        if getattr(event, "anchor", None) is not None:
            _refuse(f"YAML anchors (&{event.anchor}) are not allowed in a .dlm frontmatter", event)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise FrontmatterInvalid(
                    FrontmatterProblem(
                        f"the frontmatter nests deeper than {MAX_DEPTH} levels; flatten it",
                        event.start_mark.line,
                        event.start_mark.column,
                    )
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _refuse(what: str, event: Any) -> None:
    raise FrontmatterInvalid(
        FrontmatterProblem(
            f"{what}; write each value out in full", event.start_mark.line, event.start_mark.column
        )
    )


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_frontmatter(yaml_text: str) -> Frontmatter:
    """Parse and validate the YAML between the ``---`` lines.

    Of several problems, the one that comes first in the text is reported.

    :raises FrontmatterInvalid: with a 0-based line/col inside ``yaml_text``.
    """
    try:
        loader = _Loader(yaml_text)
        try:
            node = loader.get_single_node()
            _check_duplicate_keys(node, [])
            data = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        # A character YAML refuses (a control character); located by its offset.
        offset = exc.position
        line = yaml_text.count("\n", 0, offset)
        col = offset - (yaml_text.rfind("\n", 0, offset) + 1)
        message = f"invalid YAML: character U+{exc.character:04X} is not allowed in YAML"
        raise FrontmatterInvalid(FrontmatterProblem(message, line, col)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FrontmatterInvalid(
            FrontmatterProblem(
                f"invalid YAML: {problem}", mark.line if mark else 0, mark.column if mark else 0
            )
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontmatterInvalid(
            FrontmatterProblem("frontmatter must be a mapping of keys to values", 0, 0)
        )
    try:
        return converter.structure(data, Frontmatter)
    except (ClassValidationError, IterableValidationError) as exc:
        problems = [
            FrontmatterProblem(m, *_locate(node, p)) for p, m in _leaf_problems(exc, [], node)
        ]
        raise FrontmatterInvalid(min(problems, key=lambda p: (p.line, p.col))) from None
    except FieldError as exc:
        line, col = _locate(node, [exc.key])
        raise FrontmatterInvalid(FrontmatterProblem(str(exc), line, col)) from None


def _check_duplicate_keys(node: Any, path: list[str], seen_nodes: set[int] | None = None) -> None:
    """PyYAML keeps the last of two equal keys silently; a document means one of them."""
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return  # an alias of a node already checked (perhaps of its own parent)
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                key = key_node.value
                if key in seen:
                    first = seen[key].start_mark.line + 2  # the file line: after the opening ---
                    dotted = ".".join([*path, key])
                    raise FrontmatterInvalid(
                        FrontmatterProblem(
                            f"duplicate key {dotted!r} (first set on line {first}); keep one of them",
                            key_node.start_mark.line,
                            key_node.start_mark.column,
                        )
                    )
                seen[key] = key_node
            _check_duplicate_keys(
                value_node, [*path, str(getattr(key_node, "value", "?"))], seen_nodes
            )
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_duplicate_keys(item, [*path, str(index)], seen_nodes)


def _dotted(path: list[Any]) -> str:
    return ".".join(str(p) for p in path)


def _leaf_problems(
    exc: BaseException, path: list[Any], node: Any
) -> Iterator[tuple[list[Any], str]]:
    """``(path, message)`` for every problem cattrs collected under ``exc``."""
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            yield from _leaf_problems(inner, [*path, note.name], node)
        for inner in without:
            yield from _leaf_problems(inner, path, node)
    elif isinstance(exc, IterableValidationError):
        items, others = exc.group_exceptions()
        for inner, inote in items:
            yield from _leaf_problems(inner, [*path, inote.index], node)
        for inner in others:
            yield from _leaf_problems(inner, path, node)
    elif isinstance(exc, ForbiddenExtraKeysError):
        key = _first_written(node, path, exc.extra_fields)
        allowed = [f.name for f in attrs.fields(exc.cl)]
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        yield (
            [*path, key],
            f"unknown key {_dotted([*path, key])!r}{hint}; expected one of: {', '.join(allowed)}",
        )
    elif isinstance(exc, FieldError):
        # The validators' messages start with the field's name ("lora_r must be...");
        # the full dotted path says which one.
        dotted, message = _dotted([*path, exc.key]), str(exc)
        if message.startswith(f"{exc.key} "):
            yield [*path, exc.key], dotted + message[len(exc.key) :]
        else:
            yield [*path, exc.key], f"{dotted}: {message}"
    elif isinstance(exc, KeyError) and path:
        # cattrs reports a missing required field as a KeyError under that field's name.
        yield path, f"{_dotted(path[:-1]) or 'frontmatter'}: missing required key {path[-1]!r}"
    else:
        yield path, f"{_dotted(path) or 'frontmatter'}: {exc}"


def _first_written(node: Any, path: list[Any], keys: set[Any]) -> Any:
    """Of ``keys``, the one written first in the mapping at ``path``."""
    mapping = _node_at(node, path)
    if isinstance(mapping, yaml.MappingNode):
        for key_node, _value in mapping.value:
            for key in keys:
                if _key_matches(key_node, key):
                    return key
    return sorted(keys, key=str)[0]


def _key_matches(key_node: Any, key: Any) -> bool:
    if not isinstance(key_node, yaml.ScalarNode):
        return False
    if isinstance(key, str):
        return bool(key_node.tag == "tag:yaml.org,2002:str" and key_node.value == key)
    # A key YAML read as a number, bool or null (``1:``, ``null:``).
    return bool(key_node.tag != "tag:yaml.org,2002:str" and yaml.safe_load(key_node.value) == key)


def _node_at(node: Any, path: list[Any]) -> Any:
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if _key_matches(k, part)), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            return None
    return node


def _locate(node: Any, path: list[Any]) -> tuple[int, int]:
    """The 0-based line/col of the key (or item) at ``path``, or of the nearest parent found."""
    mark = node.start_mark if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if _key_matches(key_node, part):
                    mark, node = key_node.start_mark, value_node
                    break
            else:
                break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return (mark.line, mark.column) if mark is not None else (0, 0)


def render_frontmatter(frontmatter: Frontmatter, newline: str = "\n") -> str:
    """A fresh ``---`` block holding the keys that differ from their defaults.

    Used only for documents that had no frontmatter; existing blocks are
    never re-rendered.
    """
    data: dict[str, Any] = {}
    if frontmatter.dlm_id is not None:
        data["dlm_id"] = frontmatter.dlm_id
    data["base_model"] = frontmatter.base_model
    defaults = Frontmatter()
    if frontmatter.dlm_version != defaults.dlm_version:
        data["dlm_version"] = frontmatter.dlm_version
    if frontmatter.system_prompt is not None:
        data["system_prompt"] = frontmatter.system_prompt
    for key in ("training", "export"):
        value = _non_defaults(getattr(frontmatter, key), getattr(defaults, key))
        if value is not _SAME:
            data[key] = value
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    lines = ["---", *body.rstrip("\n").split("\n"), "---"]
    return newline.join(lines) + newline


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """Writes any string holding a line break double-quoted, on one line.

    PyYAML writes such strings single-quoted across several lines, where a
    raw NEL or LINE SEPARATOR is read back as a folded space and a ``---``
    continuation could end the block early.
    """


def _represent_str(dumper: Any, value: str) -> Any:
    style = '"' if any(c in value for c in _LINE_BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LINE_BREAKS = "\n\r\x85\u2028\u2029"
_Dumper.add_representer(str, _represent_str)


def _non_defaults(value: Any, default: Any) -> Any:
    if attrs.has(type(value)):
        out = {}
        for field in attrs.fields(type(value)):
            inner = _non_defaults(getattr(value, field.name), getattr(default, field.name))
            if inner is not _SAME:
                out[field.name] = inner
        return out if out else _SAME
    if value == default:
        return _SAME
    return converter.unstructure(value)


_SAME: Any = object()
