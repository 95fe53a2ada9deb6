"""Plugin discovery, registration and the named registries built from them.

Plugins are modules found through the ``dlm`` entry-point group (stevedore
loads them) and registered in one pluggy ``PluginManager``. The core's own
section types go through the same door. A plugin that fails to import is
recorded once and skipped; it only becomes an error when the user asks for
something it would have provided. Listing plugins reads metadata and calls
the registration hooks, which return specs; nothing heavy is imported until
a spec's factory is called.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import attrs
import pluggy

from dlm_core import PROJECT_NAME, hookspecs
from dlm_core.errors import DuplicatePluginName, PluginError, UnknownPluginName

if TYPE_CHECKING:
    from dlm_core.context import PluginContext
    from dlm_core.document.types import SectionType
    from dlm_core.protocols import Judge, Sampler, Trainer

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = PROJECT_NAME
DISABLE_ENV = "DLM_DISABLE_PLUGINS"

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _check_name(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            f"{type(instance).__name__} name {value!r} must be lowercase letters, digits, '-', '_' or '.'"
        )


@attrs.frozen(kw_only=True)
class _Spec:
    name: str = attrs.field(validator=_check_name)
    factory: Callable[..., Any]
    description: str = ""

    kind: ClassVar[str]
    hook: ClassVar[str]
    package_prefix: ClassVar[str]


@attrs.frozen(kw_only=True)
class SectionTypeSpec(_Spec):
    """A section type; ``factory()`` returns a :class:`~dlm_core.document.types.SectionType`."""

    kind: ClassVar[str] = "section type"
    hook: ClassVar[str] = "dlm_section_types"
    package_prefix: ClassVar[str] = "dlm-section-"


@attrs.frozen(kw_only=True)
class SamplerSpec(_Spec):
    """A sampler; ``factory(context)`` returns a :class:`~dlm_core.protocols.Sampler`."""

    kind: ClassVar[str] = "sampler"
    hook: ClassVar[str] = "dlm_samplers"
    package_prefix: ClassVar[str] = "dlm-sampler-"


@attrs.frozen(kw_only=True)
class JudgeSpec(_Spec):
    """A judge; ``factory(context, argument)`` returns a :class:`~dlm_core.protocols.Judge`."""

    kind: ClassVar[str] = "judge"
    hook: ClassVar[str] = "dlm_judges"
    package_prefix: ClassVar[str] = "dlm-judge-"


@attrs.frozen(kw_only=True)
class TrainerSpec(_Spec):
    """A trainer; ``factory(context)`` returns a :class:`~dlm_core.protocols.Trainer`."""

    kind: ClassVar[str] = "trainer"
    hook: ClassVar[str] = "dlm_trainers"
    package_prefix: ClassVar[str] = "dlm-trainer-"


SPEC_TYPES: tuple[type[_Spec], ...] = (SectionTypeSpec, SamplerSpec, JudgeSpec, TrainerSpec)

PluginStatus = Literal["loaded", "failed", "blocked"]


@attrs.define
class PluginInfo:
    """One plugin as ``dlm plugins`` shows it."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    status: PluginStatus
    error: str | None = None
    registers: dict[str, list[str]] = attrs.Factory(dict)


@attrs.frozen
class _Registered:
    spec: Any
    plugin: str


def disabled_from_env(environ: dict[str, str] | None = None) -> frozenset[str]:
    """Entry-point names blocked by ``DLM_DISABLE_PLUGINS=a,b``."""
    raw = (environ if environ is not None else os.environ).get(DISABLE_ENV, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


class PluginHost:
    """The pluggy manager plus what discovery found, and lookups by name.

    Tests build their own with :meth:`with_builtins` and register throwaway
    plugins; the CLI uses :meth:`discover`, which also loads entry points.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self._infos: dict[str, PluginInfo] = {}

    # -- construction ---------------------------------------------------

    @classmethod
    def with_builtins(cls) -> PluginHost:
        """A host holding only the core's built-in plugins."""
        from dlm_core.document import builtin_types

        host = cls()
        host.register(
            builtin_types, "dlm-core", distribution="dlm-core", version=_version_of("dlm-core")
        )
        return host

    @classmethod
    def discover(cls, disabled: Iterable[str] | None = None) -> PluginHost:
        """Built-ins plus every plugin installed under the ``dlm`` entry-point group."""
        host = cls.with_builtins()
        host.load_entry_points(disabled_from_env() if disabled is None else frozenset(disabled))
        host.pm.check_pending()
        return host

    def register(
        self,
        plugin: ModuleType | object,
        name: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        """Register a plugin object (usually a module) under ``name``."""
        if name in self._infos and self._infos[name].status == "loaded":
            raise PluginError(f"a plugin named {name!r} is already registered")
        self.pm.register(plugin, name=name)
        self.pm.check_pending()
        module = getattr(plugin, "__name__", type(plugin).__name__)
        self._infos[name] = PluginInfo(name, module, distribution, version, "loaded")

    def unregister(self, name: str) -> None:
        """Remove a plugin registered under ``name`` (tests clean up with this)."""
        self.pm.unregister(name=name)
        self._infos.pop(name, None)

    def load_entry_points(self, disabled: frozenset[str] = frozenset()) -> None:
        """Load the ``dlm`` entry points with stevedore, skipping blocked ones.

        A plugin whose import fails is logged once and recorded as failed.
        """
        from stevedore import NamedExtensionManager

        dists = _entry_point_distributions()
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        wanted = []
        for ep in entry_points:
            dist, version = dists.get((ep.name, ep.value), (None, None))
            if ep.name in disabled:
                self._infos[self._unique(ep.name)] = PluginInfo(
                    ep.name, ep.value, dist, version, "blocked", error=f"blocked by {DISABLE_ENV}"
                )
            else:
                wanted.append(ep.name)

        def failed(_manager: Any, ep: importlib.metadata.EntryPoint, err: BaseException) -> None:
            dist, version = dists.get((ep.name, ep.value), (None, None))
            message = f"{type(err).__name__}: {err}"
            log.warning("plugin %r from %s could not be loaded: %s", ep.name, dist or ep.value, message)
            self._infos[self._unique(ep.name)] = PluginInfo(
                ep.name, ep.value, dist, version, "failed", error=message
            )

        manager = NamedExtensionManager(
            ENTRY_POINT_GROUP,
            names=wanted,
            on_load_failure_callback=failed,
            on_missing_entrypoints_callback=None,
        )
        for ext in manager.extensions:
            dist, version = dists.get((ext.name, ext.entry_point.value), (None, None))
            name = self._unique(ext.name)
            try:
                self.register(ext.plugin, name, distribution=dist, version=version)
            except Exception as err:  # a hook with no spec, a duplicate object...
                self.pm.unregister(name=name) if self.pm.has_plugin(name) else None
                message = f"{type(err).__name__}: {err}"
                log.warning("plugin %r from %s was not registered: %s", ext.name, dist, message)
                self._infos[name] = PluginInfo(
                    ext.name, ext.entry_point.value, dist, version, "failed", error=message
                )

    def _unique(self, name: str) -> str:
        candidate, n = name, 2
        while candidate in self._infos:
            candidate, n = f"{name}#{n}", n + 1
        return candidate

    # -- what is there --------------------------------------------------

    def plugins(self) -> list[PluginInfo]:
        """Every plugin with its status and, for loaded ones, what it registers."""
        registers: dict[str, dict[str, list[str]]] = {}
        for spec_type in SPEC_TYPES:
            for item in self._collect(spec_type):
                registers.setdefault(item.plugin, {}).setdefault(spec_type.kind, []).append(
                    item.spec.name
                )
        infos = []
        for key, info in self._infos.items():
            infos.append(attrs.evolve(info, registers=registers.get(key, {})))
        return infos

    def specs(self, spec_type: type[_Spec]) -> dict[str, Any]:
        """Name → spec for one kind; a name claimed twice is an error naming both."""
        by_name: dict[str, _Registered] = {}
        for item in self._collect(spec_type):
            other = by_name.get(item.spec.name)
            if other is not None:
                raise DuplicatePluginName(
                    f"{spec_type.kind} {item.spec.name!r} is registered by both "
                    f"{self._describe(other.plugin)} and {self._describe(item.plugin)}; "
                    f"uninstall one of them or block it with {DISABLE_ENV}"
                )
            by_name[item.spec.name] = item
        return {name: item.spec for name, item in sorted(by_name.items())}

    def spec(self, spec_type: type[_Spec], name: str) -> Any:
        """The spec of ``name``, or an error listing what is installed."""
        available = self.specs(spec_type)
        if name in available:
            return available[name]
        raise UnknownPluginName(self._unknown_message(spec_type, name, sorted(available)))

    def _collect(self, spec_type: type[_Spec]) -> list[_Registered]:
        hook = getattr(self.pm.hook, spec_type.hook)
        found = []
        for impl in reversed(hook.get_hookimpls()):  # registration order
            result = impl.function()
            if result is None:
                continue
            for spec in result:
                if not isinstance(spec, spec_type):
                    raise PluginError(
                        f"{self._describe(impl.plugin_name)} returned {type(spec).__name__} from "
                        f"{spec_type.hook}; expected {spec_type.__name__}"
                    )
                found.append(_Registered(spec, impl.plugin_name))
        return found

    def _describe(self, plugin_name: str) -> str:
        info = self._infos.get(plugin_name)
        if info is None or info.distribution is None:
            return f"plugin {plugin_name!r}"
        return f"plugin {plugin_name!r} ({info.distribution})"

    def _unknown_message(self, spec_type: type[_Spec], name: str, installed: list[str]) -> str:
        for info in self._infos.values():
            if info.status == "loaded":
                continue
            dist = (info.distribution or "").lower()
            if info.name == name or dist.endswith(f"-{name}"):
                what = info.distribution or info.module
                return (
                    f"{spec_type.kind} {name!r} is not available: plugin {info.name!r} ({what}) "
                    f"{'is blocked' if info.status == 'blocked' else 'failed to load'}: {info.error}"
                )
        choices = ", ".join(installed) if installed else "none"
        return (
            f"unknown {spec_type.kind} {name!r}; installed: {choices}. "
            f"Another one comes from a package such as {spec_type.package_prefix}{name} "
            f"(pip install {spec_type.package_prefix}{name})"
        )

    # -- building extensions --------------------------------------------

    def section_types(self) -> dict[str, SectionType]:
        """Fence name → section type, for the parser."""
        return {name: spec.factory() for name, spec in self.specs(SectionTypeSpec).items()}

    def sampler(self, name: str, context: PluginContext) -> Sampler:
        """Build the sampler called ``name``."""
        sampler: Sampler = self.spec(SamplerSpec, name).factory(context)
        return sampler

    def judge(self, selector: str, context: PluginContext) -> Judge:
        """Build a judge from ``NAME`` or ``NAME:ARGUMENT`` (``hf:org/model``)."""
        name, argument = split_selector(selector)
        judge: Judge = self.spec(JudgeSpec, name).factory(context, argument)
        return judge

    def trainer(self, name: str, context: PluginContext) -> Trainer:
        """Build the trainer called ``name`` (``sft``, ``dpo``, ``orpo``, ...)."""
        trainer: Trainer = self.spec(TrainerSpec, name).factory(context)
        return trainer


def split_selector(selector: str) -> tuple[str, str | None]:
    """``"hf:org/model"`` → ``("hf", "org/model")``; ``"sway"`` → ``("sway", None)``."""
    name, sep, argument = selector.partition(":")
    return name.strip(), (argument if sep else None)


def _entry_point_distributions() -> dict[tuple[str, str], tuple[str, str]]:
    """(entry-point name, value) → (distribution, version) for the ``dlm`` group."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP:
                found.setdefault((ep.name, ep.value), (dist.metadata["Name"], dist.version))
    return found


def _version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
