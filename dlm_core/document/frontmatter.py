"""The frontmatter schema and its reader.

Keys follow the upstream DocumentLanguageModel format so its documents open
here; keys dlm does not act on (``gate``, ``cache``, ``sources``...) are
still typed, so a misspelling anywhere is caught. An unknown key or a bad
value is an error located at its ``file:line:col``.

The frontmatter is read, never rewritten: the document keeps its block
verbatim, so comments, key order and number formats survive every edit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

import attrs
import cattrs
import yaml
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

DEFAULT_BASE_MODEL = "smollm2-135m"
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


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
        raise FieldError(attribute.name, f"{attribute.name} must be 'auto' or a positive whole number, got {value!r}")


def _ulid(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not ULID_RE.match(value):
        raise FieldError(attribute.name, f"dlm_id must be a 26-character ULID (Crockford base32), got {value!r}")


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise FieldError(attribute.name, f"{attribute.name} must not be empty")


@attrs.frozen
class PreferenceHyperparams:
    beta: float = attrs.field(default=0.1, validator=_between(0.0, 1.0))
    alpha: float = attrs.field(default=0.1, validator=_between(0.0, 1.0))
    learning_rate: float = attrs.field(default=5e-6, validator=_between(0.0, open_lo=True))
    num_epochs: int = attrs.field(default=1, validator=_between(1))


@attrs.frozen
class PreferenceConfig:
    """``training.preference``: which trainer runs the preference phase, and how."""

    enabled: bool | None = None
    method: str = attrs.field(default="dpo", validator=_non_empty)
    hyperparams: PreferenceHyperparams = attrs.Factory(PreferenceHyperparams)
    loss_type: str = "sigmoid"
    reference: Literal["pre_adapter", "base"] = "pre_adapter"


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
    micro_batch_size: Literal["auto"] | int = attrs.field(default="auto", validator=_auto_or_positive)
    grad_accum: Literal["auto"] | int = attrs.field(default="auto", validator=_auto_or_positive)
    learning_rate: float = attrs.field(default=2e-4, validator=_between(0.0, open_lo=True))
    num_epochs: int = attrs.field(default=3, validator=_between(1))
    optimizer: str = "adamw_torch"
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = attrs.field(default=0.1, validator=_between(0.0, 0.5))
    precision: Literal["bf16", "fp16", "fp32"] | None = None
    seed: int = 42
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


def _structure_literal_or_int(value: Any, _type: Any) -> Any:
    if value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected 'auto' or a whole number, got {value!r}")
    return value


def _structure_modules(value: Any, _type: Any) -> Any:
    if value == "auto":
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"expected 'auto' or a list of module names, got {value!r}")


def _strict_scalar(kind: type) -> Any:
    def structure(value: Any, _type: Any) -> Any:
        if kind is float and isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads 2e-4 as a string
            except ValueError:
                pass
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, bool) and kind is not bool:
            raise ValueError(f"expected {kind.__name__}, got {value!r}")
        if not isinstance(value, kind):
            raise ValueError(f"expected {kind.__name__}, got {value!r}")
        return value

    return structure


converter.register_structure_hook(Literal["auto"] | int, _structure_literal_or_int)
converter.register_structure_hook(Literal["auto"] | list[str], _structure_modules)
for _kind in (int, float, str, bool):
    converter.register_structure_hook(_kind, _strict_scalar(_kind))


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


def load_frontmatter(yaml_text: str) -> Frontmatter:
    """Parse and validate the YAML between the ``---`` lines.

    :raises FrontmatterInvalid: with a 0-based line/col inside ``yaml_text``.
    """
    try:
        node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(yaml_text) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise FrontmatterInvalid(
            FrontmatterProblem(f"invalid YAML: {problem}", mark.line if mark else 0, mark.column if mark else 0)
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontmatterInvalid(FrontmatterProblem("frontmatter must be a mapping of keys to values", 0, 0))
    try:
        return converter.structure(data, Frontmatter)
    except (ClassValidationError, IterableValidationError) as exc:
        path, message = next(_leaf_problems(exc, []))
        line, col = _locate(node, path)
        raise FrontmatterInvalid(FrontmatterProblem(message, line, col)) from None
    except FieldError as exc:
        line, col = _locate(node, [exc.key])
        raise FrontmatterInvalid(FrontmatterProblem(str(exc), line, col)) from None


def _leaf_problems(exc: BaseException, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            yield from _leaf_problems(inner, [*path, note.name])
        for inner in without:
            yield from _leaf_problems(inner, path)
    elif isinstance(exc, IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for inner, inote in with_notes:
            yield from _leaf_problems(inner, [*path, inote.index])
        for inner in without:
            yield from _leaf_problems(inner, path)
    elif isinstance(exc, ForbiddenExtraKeysError):
        key = sorted(exc.extra_fields)[0]
        full = ".".join(str(p) for p in [*path, key])
        allowed = ", ".join(f.name for f in attrs.fields(exc.cl))
        yield [*path, key], f"unknown key {full!r}; expected one of: {allowed}"
    elif isinstance(exc, FieldError):
        dotted = ".".join(str(p) for p in [*path, exc.key])
        yield [*path, exc.key], f"{dotted}: {exc}"
    else:
        dotted = ".".join(str(p) for p in path) or "frontmatter"
        yield path, f"{dotted}: {exc}"


def _locate(node: Any, path: list[str | int]) -> tuple[int, int]:
    """The 0-based line/col of the key (or item) at ``path`` in the YAML node tree."""
    mark = node.start_mark if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    mark, node = key_node.start_mark, value_node
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
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
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    lines = ["---", *body.rstrip("\n").split("\n"), "---"]
    return newline.join(lines) + newline


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
