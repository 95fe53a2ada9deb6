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

import difflib
import importlib.metadata
import logging
import os
import re
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs
import pluggy

from dlm_core import PROJECT_NAME, hookspecs
from dlm_core.errors import DlmError, DuplicatePluginName, PluginError, UnknownPluginName
from dlm_core.specs import SPEC_TYPES as SPEC_TYPES
from dlm_core.specs import JudgeSpec as JudgeSpec
from dlm_core.specs import SamplerSpec as SamplerSpec
from dlm_core.specs import SectionTypeSpec as SectionTypeSpec
from dlm_core.specs import Spec
from dlm_core.specs import TrainerSpec as TrainerSpec

if TYPE_CHECKING:
    from dlm_core.context import PluginContext
    from dlm_core.document.types import SectionType
    from dlm_core.protocols import Judge, Sampler, Trainer

log = logging.getLogger(__name__)

SpecT = TypeVar("SpecT", bound=Spec)

ENTRY_POINT_GROUP = PROJECT_NAME
CORE_DISTRIBUTION = "dlm-core"  # the distribution of the core's own built-in plugins
DISABLE_ENV = "DLM_DISABLE_PLUGINS"

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

    @property
    def label(self) -> str:
        """``plugin 'name' (distribution)``, as messages name it."""
        return _describe_plugin(self.name, self.distribution)


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
        # Each plugin's answer to each hook, asked once when it is registered.
        self._answers: dict[str, dict[type[Spec], list[Any]]] = {}

    # -- construction ---------------------------------------------------

    @classmethod
    def with_builtins(cls) -> PluginHost:
        """A host holding only the core's built-in plugins."""
        from dlm_core.document import builtin_types

        host = cls()
        host.register(
            builtin_types,
            CORE_DISTRIBUTION,
            distribution=CORE_DISTRIBUTION,
            version=_version_of(CORE_DISTRIBUTION),
        )
        return host

    @classmethod
    def discover(cls, disabled: Iterable[str] | None = None) -> PluginHost:
        """Built-ins plus every plugin installed under the ``dlm`` entry-point group.

        :param disabled: entry-point names to block; default ``$DLM_DISABLE_PLUGINS``.
        """
        host = cls.with_builtins()
        host.load_entry_points(disabled_from_env() if disabled is None else frozenset(disabled))
        return host

    def register(
        self,
        plugin: ModuleType | object,
        name: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        """Register a plugin object (usually a module) under ``name``.

        The plugin is checked before it counts as loaded: every ``@hookimpl``
        must name a hook of :mod:`dlm_core.hookspecs` (pluggy's
        ``check_pending``) and each hook must return specs of the right type.
        A plugin that fails a check is not left registered.

        :raises PluginError: naming the plugin and what is wrong with it.
        """
        if name in self._infos and self._infos[name].status == "loaded":
            raise PluginError(f"a plugin named {name!r} is already registered")
        who = _describe_plugin(name, distribution)
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as err:
            raise PluginError(f"{who} cannot be registered: {_one_line(err)}") from err
        try:
            self._check_plugin(name, who)
            self._answers[name] = {
                spec_type: self._ask(plugin, who, spec_type) for spec_type in SPEC_TYPES
            }
        except PluginError:
            self.pm.unregister(name=name)
            raise
        module = getattr(plugin, "__name__", type(plugin).__name__)
        self._infos[name] = PluginInfo(name, module, distribution, version, "loaded")

    def unregister(self, name: str) -> None:
        """Remove the plugin registered under ``name`` (tests clean up with this)."""
        if not self.pm.has_plugin(name):
            raise PluginError(f"no plugin named {name!r} is registered")
        self.pm.unregister(name=name)
        self._infos.pop(name, None)
        self._answers.pop(name, None)

    def _check_plugin(self, name: str, who: str) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as err:
            unknown = sorted(
                hook
                for hook, caller in vars(self.pm.hook).items()
                if isinstance(caller, pluggy.HookCaller)
                and not caller.has_spec()
                and any(impl.plugin_name == name for impl in caller.get_hookimpls())
            )
            if not unknown:
                raise PluginError(f"{who} cannot be registered: {_one_line(err)}") from err
            hints = [_closest_hook(hook) for hook in unknown]
            raise PluginError(
                f"{who} implements {', '.join(map(repr, unknown))}, which is not a dlm hook"
                + "".join(f" (did you mean {hint!r}?)" for hint in hints if hint)
                + f"; dlm's hooks are {', '.join(_hook_names())}"
            ) from err

    def load_entry_points(self, disabled: frozenset[str] = frozenset()) -> None:
        """Load the ``dlm`` entry points with stevedore, skipping blocked ones.

        The entry points are read afresh from the installed distributions each
        time, so a plugin installed a moment ago is found. A plugin whose
        import or registration fails is logged once, recorded as failed and
        skipped; a blocked one is recorded and never imported.
        """
        wanted: list[importlib.metadata.EntryPoint] = []
        for ep in installed_entry_points():
            dist, version = _distribution_of(ep)
            if ep.name in disabled:
                self._infos[self._unique(ep.name)] = PluginInfo(
                    ep.name, ep.value, dist, version, "blocked", error=f"blocked by {DISABLE_ENV}"
                )
            else:
                wanted.append(ep)

        def failed(_manager: Any, ep: importlib.metadata.EntryPoint, err: BaseException) -> None:
            dist, _version = _distribution_of(ep)
            error = f"{type(err).__name__}: {err}"
            who = _describe_plugin(ep.name, dist)
            self._record_failure(ep, error, f"{who} could not be imported: {error}")

        for ext in _load_with_stevedore(wanted, failed):
            dist, version = _distribution_of(ext.entry_point)
            name = self._unique(ext.name)
            try:
                self.register(ext.plugin, name, distribution=dist, version=version)
            except PluginError as err:
                self._record_failure(ext.entry_point, str(err), str(err))

    def _record_failure(self, ep: importlib.metadata.EntryPoint, error: str, report: str) -> None:
        dist, version = _distribution_of(ep)
        # Reported once, here; a later lookup explains the failure from the record.
        log.warning("%s; skipped it (see `dlm plugins`)", report)
        self._infos[self._unique(ep.name)] = PluginInfo(
            ep.name, ep.value, dist, version, "failed", error=error
        )

    def _unique(self, name: str) -> str:
        candidate, n = name, 2
        while candidate in self._infos or self.pm.has_plugin(candidate):
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
        return [
            attrs.evolve(info, registers=registers.get(key, {}))
            for key, info in self._infos.items()
        ]

    def specs(self, spec_type: type[Spec]) -> dict[str, Any]:
        """Name → spec for one kind; a name claimed twice is an error naming both."""
        claims = self._claims(spec_type)
        for name in claims:
            self._check_single(spec_type, name, claims)
        return {name: items[0].spec for name, items in sorted(claims.items())}

    def spec(self, spec_type: type[SpecT], name: str) -> SpecT:
        """The spec of ``name``, or an error listing what is installed.

        Only the name asked for must be unambiguous: two plugins claiming some
        other name do not stop this lookup.
        """
        claims = self._claims(spec_type)
        if name in claims:
            self._check_single(spec_type, name, claims)
            found: SpecT = claims[name][0].spec
            return found
        raise UnknownPluginName(self._unknown_message(spec_type, name, sorted(claims)))

    def _claims(self, spec_type: type[Spec]) -> dict[str, list[_Registered]]:
        claims: dict[str, list[_Registered]] = {}
        for item in self._collect(spec_type):
            claims.setdefault(item.spec.name, []).append(item)
        return claims

    def _check_single(
        self, spec_type: type[Spec], name: str, claims: dict[str, list[_Registered]]
    ) -> None:
        items = claims[name]
        if len(items) > 1:
            owners = " and ".join(self._describe(item.plugin) for item in items)
            raise DuplicatePluginName(
                f"{spec_type.kind} {name!r} is registered by both {owners}; "
                f"uninstall one of them or block one with {DISABLE_ENV}=<plugin>"
            )

    def _collect(self, spec_type: type[Spec]) -> list[_Registered]:
        """Every registered spec of one kind, in registration order."""
        return [
            _Registered(spec, name)
            for name, answers in self._answers.items()
            for spec in answers[spec_type]
        ]

    def _ask(self, plugin: object, who: str, spec_type: type[Spec]) -> list[Any]:
        """One plugin's answer to one hook, through pluggy's hook caller, checked.

        The plugin is asked on its own (in a scratch manager holding only it),
        so its specs are known to be its own. A plugin bug becomes a
        :class:`PluginError` naming the plugin.
        """
        alone = pluggy.PluginManager(PROJECT_NAME)
        alone.add_hookspecs(hookspecs)
        alone.register(plugin)
        try:
            results: list[Any] = getattr(alone.hook, spec_type.hook)()
            specs = [spec for result in results if result is not None for spec in result]
        except Exception as err:
            raise PluginError(
                f"{who} failed in {spec_type.hook}: {type(err).__name__}: {err}"
            ) from err
        for spec in specs:
            if not isinstance(spec, spec_type):
                raise PluginError(
                    f"{who} returned {type(spec).__name__} from "
                    f"{spec_type.hook}; expected {spec_type.__name__}"
                )
        return specs

    def _describe(self, plugin_name: str) -> str:
        info = self._infos.get(plugin_name)
        return _describe_plugin(plugin_name, info.distribution if info else None)

    def _unknown_message(self, spec_type: type[Spec], name: str, installed: list[str]) -> str:
        unavailable = [info for info in self._infos.values() if info.status != "loaded"]
        for info in unavailable:
            dist = (info.distribution or "").lower()
            if info.name == name or dist.endswith(f"-{name}"):
                why = (
                    "is blocked by " + DISABLE_ENV if info.status == "blocked" else "failed to load"
                )
                detail = f" ({info.error})" if info.status == "failed" else ""
                return (
                    f"{spec_type.kind} {name!r} is not available: "
                    f"{_describe_plugin(info.name, info.distribution)} {why}{detail}"
                )
        choices = ", ".join(installed) if installed else "none"
        message = (
            f"unknown {spec_type.kind} {name!r}; installed: {choices}. "
            f"Another one comes from a package such as {spec_type.package_prefix}{name} "
            f"(pip install {spec_type.package_prefix}{name})"
        )
        failed = [info for info in unavailable if info.status == "failed"]
        if failed:
            who = ", ".join(_describe_plugin(info.name, info.distribution) for info in failed)
            message += f"; note that {who} failed to load (see `dlm plugins`)"
        return message

    def blame(self, exc: BaseException) -> PluginInfo | None:
        """The loaded plugin whose own code raised ``exc`` (the innermost such frame).

        For an exception that no guarded call site turned into a
        :class:`PluginError` (a section type's ``examples``, a judge's
        attribute...): the CLI then names the plugin instead of reporting a
        dlm bug. None when no third-party plugin's code is in the traceback.
        """
        modules = {
            info.module.split(":")[0]: info
            for info in self._infos.values()
            if info.status == "loaded" and info.distribution != CORE_DISTRIBUTION
        }
        names = []
        tb = exc.__traceback__
        while tb is not None:
            names.append(str(tb.tb_frame.f_globals.get("__name__", "")))
            tb = tb.tb_next
        for module_name in reversed(names):
            for module, info in modules.items():
                if module_name == module or module_name.startswith(module + "."):
                    return info
        return None

    # -- building extensions --------------------------------------------

    def section_types(self) -> dict[str, SectionType]:
        """Fence name → section type, for the parser."""
        return {name: spec.factory() for name, spec in self.specs(SectionTypeSpec).items()}

    def sampler(self, name: str, context: PluginContext) -> Sampler:
        """Build the sampler called ``name``."""
        spec = self.spec(SamplerSpec, name)
        sampler: Sampler = _built(spec, name, lambda: spec.factory(context))
        return sampler

    def judge(self, selector: str, context: PluginContext) -> Judge:
        """Build a judge from ``NAME`` or ``NAME:ARGUMENT`` (``hf:org/model``)."""
        name, argument = split_selector(selector)
        spec = self.spec(JudgeSpec, name)
        judge: Judge = _built(spec, selector, lambda: spec.factory(context, argument))
        return judge

    def trainer(self, name: str, context: PluginContext) -> Trainer:
        """Build the trainer called ``name`` (``sft``, ``dpo``, ``orpo``, ...)."""
        spec = self.spec(TrainerSpec, name)
        trainer: Trainer = _built(spec, name, lambda: spec.factory(context))
        return trainer


def _built(spec: Spec, selector: str, build: Callable[[], Any]) -> Any:
    """Call a plugin's factory; its own exception becomes one line naming it.

    A :class:`DlmError` it raises is already written for the user and passes as is.
    """
    try:
        return build()
    except DlmError:
        raise
    except Exception as exc:
        raise PluginError(
            f"{spec.kind} {selector!r} could not start: {type(exc).__name__}: {_one_line(exc)}"
        ) from exc


def split_selector(selector: str) -> tuple[str, str | None]:
    """``"hf:org/model"`` → ``("hf", "org/model")``; ``"sway"`` → ``("sway", None)``."""
    name, sep, argument = selector.partition(":")
    return name.strip(), (argument if sep else None)


def installed_entry_points() -> list[importlib.metadata.EntryPoint]:
    """The ``dlm`` entry points of the installed distributions, read now.

    One distribution found twice on ``sys.path`` (an editable install next
    to its source folder) counts once: the first, as Python's import would.
    Read fresh on purpose: stevedore's own cache is kept per process, and on
    disk keyed on mtimes packed as 32-bit floats (about two minutes of
    resolution), so it can still show a plugin as it was before a reinstall.
    """
    seen: set[str] = set()
    found: list[importlib.metadata.EntryPoint] = []
    for dist in importlib.metadata.distributions():
        key = _normalize(dist.metadata["Name"] or "")
        if key in seen:
            continue
        seen.add(key)
        found.extend(ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP)
    return found


def _load_with_stevedore(
    entry_points: list[importlib.metadata.EntryPoint],
    on_load_failure: Callable[[Any, importlib.metadata.EntryPoint, BaseException], None],
) -> list[Any]:
    """Import ``entry_points`` through stevedore; returns its loaded extensions.

    stevedore is handed the list we just read instead of consulting its own
    caches (see :func:`installed_entry_points`). Imported here, not at module
    level, so ``dlm --help`` does not pay for it.
    """
    from stevedore import NamedExtensionManager

    class FreshEntryPoints(NamedExtensionManager):  # type: ignore[type-arg]
        def list_entry_points(self) -> list[importlib.metadata.EntryPoint]:
            return list(entry_points)

    manager = FreshEntryPoints(
        ENTRY_POINT_GROUP,
        names=[ep.name for ep in entry_points],
        on_load_failure_callback=on_load_failure,
        on_missing_entrypoints_callback=None,
    )
    return list(manager.extensions)


def _distribution_of(ep: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _describe_plugin(name: str, distribution: str | None) -> str:
    return f"plugin {name!r}" if distribution is None else f"plugin {name!r} ({distribution})"


def _one_line(err: BaseException) -> str:
    """pluggy's messages span lines; the CLI prints one."""
    return "; ".join(line.strip() for line in str(err).splitlines() if line.strip())


def _hook_names() -> list[str]:
    return [spec_type.hook for spec_type in SPEC_TYPES]


def _closest_hook(name: str) -> str | None:
    matches = difflib.get_close_matches(name, _hook_names(), n=1)
    return matches[0] if matches else None


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
