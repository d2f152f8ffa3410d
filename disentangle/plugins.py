"""Plugin loading through pluggy and the `disentangle` entry-point group, and the registries.

`DISENTANGLE_PLUGINS` limits autoloading: unset loads every installed plugin, an empty value
or `none` loads none, a comma-separated list loads only those entry-point names.

A plugin module may declare `requires = ["vae", ...]` (the entry-point names of the plugins
it builds on: it is loaded after them, or skipped with one warning naming the one missing) and
`hookspecs` (a module or class of `disentangle.hookspec` functions that other plugins may
implement). The `register_<kind>` hooks are called through pluggy, once per kind for every
plugin, so `wrapper=True`, `tryfirst` and `trylast` work as pluggy documents them; the
built-in plugins' implementations run first, and a plugin's after those of the plugins it
requires.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from disentangle import hookspecs
from disentangle.errors import DisentangleError
from disentangle.hookcalls import acting, guarded
from disentangle.registry import Entry, Registry

if TYPE_CHECKING:
    from disentangle.components import Backbone, Dataset, LatentCode, Metric, MIEstimator

GROUP = "disentangle"
ENV_VAR = "DISENTANGLE_PLUGINS"
OWN_DISTRIBUTION = "disentangle-toolkit"
#: hooks the core calls one plugin at a time (to name the plugin whose hook failed): a
#: wrapper there would never wrap anything, so it is refused when the plugin loads
ONE_AT_A_TIME = ("register_commands", "published_results")


@dataclass(frozen=True)
class PluginFailure:
    """An entry point that could not be loaded, and why."""

    name: str
    provider: str
    error: str


@dataclass(frozen=True)
class LoadedPlugin:
    name: str
    provider: str
    version: str


@dataclass
class _Candidate:
    """A plugin object on its way in: imported, not yet registered."""

    plugin: ModuleType | object
    name: str
    provider: str
    version: str
    requires: tuple[str, ...] = ()
    #: what it registered: (registry, name, the entry it replaced), to undo on failure
    added: list[tuple[Registry[Any], str, Entry[Any] | None]] = field(default_factory=list)


class PluginHost:
    """Owns the pluggy manager and the six registries; loads plugins once, on first use."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(GROUP)
        self.manager.add_hookspecs(hookspecs)
        # Registry[Method] for readers: disentangle.method imports the recipe, which imports this
        self.methods: Registry[Any] = Registry("method", self.load)
        self.codes: Registry[LatentCode] = Registry("latent code", self.load)
        self.backbones: Registry[Backbone] = Registry("backbone", self.load)
        self.datasets: Registry[Dataset] = Registry("dataset", self.load)
        self.estimators: Registry[MIEstimator] = Registry("MI estimator", self.load)
        self.metrics: Registry[Metric] = Registry("metric", self.load)
        self.loaded: list[LoadedPlugin] = []
        self.failures: list[PluginFailure] = []
        #: names asked for in DISENTANGLE_PLUGINS that no installed entry point has, and why
        self.unknown: dict[str, str] = {}
        #: every installed entry point's name, whether or not it was loaded
        self.installed: list[str] = []
        #: installed entry-point names DISENTANGLE_PLUGINS leaves out
        self._left_out: set[str] = set()
        self._done = False
        self._running: dict[str, _Candidate] = {}
        self._errors: dict[str, Exception] = {}

    @property
    def registries(self) -> dict[str, Registry[Any]]:
        return {
            "methods": self.methods,
            "codes": self.codes,
            "backbones": self.backbones,
            "datasets": self.datasets,
            "estimators": self.estimators,
            "metrics": self.metrics,
        }

    def load(self) -> None:
        """Import every allowed entry point, then register them (this toolkit's own first,
        each after the plugins it requires) and run their hooks."""
        if self._done:
            return
        self._done = True
        installed = list(entry_points(group=GROUP))
        self.installed = sorted({ep.name for ep in installed})
        wanted = requested()
        if wanted is not None:
            self._left_out = set(self.installed) - wanted
            for name in sorted(wanted - set(self.installed)):
                self.unknown[name] = unknown_plugin(name, installed)
                print(f"disentangle: {self.unknown[name]}", file=sys.stderr)
        candidates = []
        for ep in installed:
            if wanted is not None and ep.name not in wanted:
                continue
            provider, version = _distribution(ep)
            try:
                plugin = ep.load()
                candidates.append(_Candidate(plugin, ep.name, provider, version, _requires(plugin)))
            except Exception as exc:  # a broken plugin must not take the rest down
                self._fail(ep.name, provider, f"{type(exc).__name__}: {exc}")
        self._install(candidates)

    def add(
        self, plugin: ModuleType | object, name: str, provider: str = "", version: str = ""
    ) -> None:
        """Register an in-process plugin object (tests, notebooks) and run its hooks; a
        plugin that fails raises, with everything it registered undone."""
        self.load()
        candidate = _Candidate(plugin, name, provider or name, version, _requires(plugin))
        missing = [r for r in candidate.requires if r not in {p.name for p in self.loaded}]
        if missing:
            raise DisentangleError(
                f"plugin {name!r} requires plugin {missing[0]!r}, which is not loaded"
            )
        failed = self._install([candidate], report=False)
        if failed:
            raise failed[name]

    def _install(self, candidates: list[_Candidate], report: bool = True) -> dict[str, Exception]:
        """Register the candidates in the order their requirements give, run their
        `register_<kind>` hooks through pluggy, and undo each one that failed."""
        ordered = self._ordered(candidates)
        failed: dict[str, Exception] = {}
        for candidate in ordered:  # specs first: an implementation may come before its spec
            specs = getattr(candidate.plugin, "hookspecs", None)
            try:
                if specs is not None:
                    self.manager.add_hookspecs(specs)
            except Exception as exc:
                failed[candidate.name] = exc
        # pluggy calls the last registered first: register in reverse to call in order
        for candidate in reversed(ordered):
            if candidate.name in failed:
                continue
            try:
                self.manager.register(candidate.plugin, name=candidate.name)
            except Exception as exc:  # pluggy's validation, or a name already taken
                failed[candidate.name] = exc
                continue
            try:
                self._refuse_wrappers(candidate)
            except DisentangleError as exc:
                failed[candidate.name] = exc
                self.manager.unregister(candidate.plugin)
        failed |= self._pending()
        dropped: set[str] = set()
        for candidate in ordered:
            if candidate.name in failed and candidate.name not in dropped:
                self._undo(candidate, failed[candidate.name], ordered, report, dropped)
        running = [c for c in ordered if c.name not in dropped]
        self._call(running)
        errors = dict(self._errors)  # the guards record into this very dict: empty it
        self._errors.clear()
        for candidate in running:
            if candidate.name in errors and candidate.name not in dropped:
                self._undo(candidate, errors[candidate.name], ordered, report, dropped)
        self.loaded += [
            LoadedPlugin(c.name, c.provider, c.version) for c in ordered if c.name not in dropped
        ]
        return failed | errors

    def _ordered(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """The candidates, each after the plugins it requires (the toolkit's own first, then
        by name); one that requires a plugin that is missing is skipped with a warning."""
        by_name = {c.name: c for c in candidates}
        loaded = {p.name for p in self.loaded}
        order: list[_Candidate] = []
        state: dict[str, str] = {}

        def visit(candidate: _Candidate, chain: tuple[str, ...]) -> bool:
            if state.get(candidate.name) in ("done", "skipped"):
                return state[candidate.name] == "done"
            if candidate.name in chain:
                cycle = " → ".join([*chain[chain.index(candidate.name) :], candidate.name])
                self._fail(candidate.name, candidate.provider, f"requires itself: {cycle}")
                state[candidate.name] = "skipped"
                return False
            for required in candidate.requires:
                if required in loaded:
                    continue
                ok = required in by_name and visit(by_name[required], (*chain, candidate.name))
                if not ok and state.get(candidate.name) == "skipped":
                    return False  # in a cycle: said once, where it closed
                if not ok:
                    why = self._why_missing(required, by_name)
                    self._skip(candidate, f"it requires plugin {required!r}, which {why}")
                    state[candidate.name] = "skipped"
                    return False
            state[candidate.name] = "done"
            order.append(candidate)
            return True

        for candidate in sorted(candidates, key=lambda c: (c.provider != OWN_DISTRIBUTION, c.name)):
            visit(candidate, ())
        return order

    def _why_missing(self, name: str, by_name: dict[str, _Candidate]) -> str:
        if any(f.name == name for f in self.failures) or name in by_name:
            return "failed to load"
        if name in self._left_out:
            return f"{ENV_VAR} leaves out"
        return "is not installed" if name not in self.installed else "is not loaded"

    def _refuse_wrappers(self, candidate: _Candidate) -> None:
        for hook in ONE_AT_A_TIME:
            for impl in getattr(self.manager.hook, hook).get_hookimpls():
                if impl.plugin_name == candidate.name and (impl.wrapper or impl.hookwrapper):
                    raise DisentangleError(
                        f"its {hook} hook is a wrapper, but the core calls {hook} one plugin "
                        "at a time (to name the plugin that fails): use a plain hookimpl"
                    )

    def _pending(self) -> dict[str, Exception]:
        """pluggy's check_pending, one plugin at a time: each plugin with an unknown hook."""
        failed: dict[str, Exception] = {}
        while True:
            try:
                self.manager.check_pending()
                return failed
            except pluggy.PluginValidationError as exc:
                failed[self.manager.get_name(exc.plugin) or ""] = exc
                self.manager.unregister(exc.plugin)

    def _call(self, candidates: list[_Candidate]) -> None:
        """Each `register_<kind>` hook through pluggy, for these plugins only."""
        self._running = {c.name: c for c in candidates}
        others = [
            plugin for name, plugin in self.manager.list_name_plugin() if name not in self._running
        ]
        kinds = {f"register_{kind}" for kind in self.registries}
        for candidate in candidates:
            for caller in self.manager.get_hookcallers(candidate.plugin) or []:
                if caller.name in kinds:
                    for impl in caller.get_hookimpls():
                        if impl.plugin_name == candidate.name:
                            impl.function = guarded(impl, candidate.name, self._errors)
        try:
            for kind, registry in self.registries.items():
                caller = self.manager.subset_hook_caller(f"register_{kind}", others)
                caller(register=partial(self._register, registry))
        finally:
            self._running = {}

    def _register(
        self, registry: Registry[Any], name: str, *args: Any, **kwargs: Any
    ) -> Entry[Any]:
        """`register(name, factory, params, *, override=False)` as the hooks see it."""
        candidate = self._running.get(acting() or "")
        if candidate is None:
            raise DisentangleError("register() may be called only by a hook, while it runs")
        replaced = registry.get(name) if name in registry else None
        entry = registry.register(
            name,
            *args,
            provider=candidate.provider,
            version=candidate.version,
            plugin=candidate.name,
            **kwargs,
        )
        candidate.added.append((registry, name, replaced))
        return entry

    def _undo(
        self,
        candidate: _Candidate,
        exc: Exception,
        ordered: list[_Candidate],
        report: bool,
        dropped: set[str],
    ) -> None:
        """Remove what a failed plugin registered, and every plugin that requires it."""
        dropped.add(candidate.name)
        if self.manager.get_plugin(candidate.name) is candidate.plugin:
            self.manager.unregister(candidate.plugin)
        for registry, name, replaced in reversed(candidate.added):
            registry.unregister(name)
            if replaced is not None:
                registry.restore(replaced)
        candidate.added.clear()
        if report:
            self._fail(candidate.name, candidate.provider, f"{type(exc).__name__}: {exc}")
        for other in ordered:
            if candidate.name in other.requires and other.name not in dropped:
                self._skip(other, f"it requires plugin {candidate.name!r}, which failed to load")
                self._undo(other, exc, ordered, False, dropped)

    def _fail(self, name: str, provider: str, error: str) -> None:
        self.failures.append(PluginFailure(name, provider, error))
        print(
            f"disentangle: plugin {name!r} ({provider}) failed to load and was skipped: {error}",
            file=sys.stderr,
        )

    def _skip(self, candidate: _Candidate, why: str) -> None:
        self.failures.append(PluginFailure(candidate.name, candidate.provider, why))
        print(
            f"disentangle: plugin {candidate.name!r} ({candidate.provider}) was skipped: {why}",
            file=sys.stderr,
        )


def _requires(plugin: ModuleType | object) -> tuple[str, ...]:
    """The entry-point names a plugin declares it builds on (`requires = [...]`)."""
    requires = getattr(plugin, "requires", ())
    if isinstance(requires, str) or not all(isinstance(r, str) for r in requires):
        raise DisentangleError(
            f"`requires` must be a list of plugin (entry-point) names, got {requires!r}"
        )
    return tuple(requires)


def requested() -> set[str] | None:
    """The entry-point names DISENTANGLE_PLUGINS asks for; None when it is unset (load all)."""
    wanted = os.environ.get(ENV_VAR)
    if wanted is None:
        return None
    return {n.strip() for n in wanted.split(",") if n.strip() and n.strip() != "none"}


def unknown_plugin(name: str, installed: list[EntryPoint]) -> str:
    """Why a name in DISENTANGLE_PLUGINS loads nothing, with the name it probably meant."""
    by_module = {ep.module.split(".")[0]: ep.name for ep in installed}
    names = sorted({ep.name for ep in installed})
    if name in by_module:
        hint = f" Did you mean {by_module[name]!r} (the entry-point name of module {name!r})?"
    else:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"{ENV_VAR} asks for plugin {name!r}, but no installed plugin has that entry-point "
        f"name.{hint} Installed: {', '.join(names) or 'none'}."
    )


def selection_note() -> str:
    """Said beside 'nothing is registered' when DISENTANGLE_PLUGINS limits the plugins."""
    wanted = requested()
    if wanted is None:
        return ""
    loaded = ", ".join(p.name for p in host.loaded) or "none"
    note = f"; {ENV_VAR}={os.environ[ENV_VAR]!r} limits loading to: {loaded}"
    if host.unknown:
        note += f" (not installed: {', '.join(host.unknown)})"
    return note


def _distribution(ep: EntryPoint) -> tuple[str, str]:
    dist = ep.dist
    if dist is None:
        return ep.module, ""
    return dist.metadata["Name"], dist.version


host = PluginHost()
