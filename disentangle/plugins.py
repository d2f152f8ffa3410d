"""Plugin loading through pluggy and the `disentangle` entry-point group, and the registries.

`DISENTANGLE_PLUGINS` limits autoloading: unset loads every installed plugin, an empty value
or `none` loads none, a comma-separated list loads only those entry-point names.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from disentangle import hookspecs
from disentangle.registry import Entry, Registry

GROUP = "disentangle"
ENV_VAR = "DISENTANGLE_PLUGINS"
OWN_DISTRIBUTION = "disentangle-toolkit"


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


class PluginHost:
    """Owns the pluggy manager and the six registries; loads plugins once, on first use."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(GROUP)
        self.manager.add_hookspecs(hookspecs)
        self.methods: Registry[Any] = Registry("method", self.load)
        self.codes: Registry[Any] = Registry("latent code", self.load)
        self.backbones: Registry[Any] = Registry("backbone", self.load)
        self.datasets: Registry[Any] = Registry("dataset", self.load)
        self.estimators: Registry[Any] = Registry("MI estimator", self.load)
        self.metrics: Registry[Any] = Registry("metric", self.load)
        self.loaded: list[LoadedPlugin] = []
        self.failures: list[PluginFailure] = []
        #: names asked for in DISENTANGLE_PLUGINS that no installed entry point has, and why
        self.unknown: dict[str, str] = {}
        #: every installed entry point's name, whether or not it was loaded
        self.installed: list[str] = []
        self._done = False

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
        """Import every allowed entry point (this toolkit's own first), then run its hooks."""
        if self._done:
            return
        self._done = True
        installed = list(entry_points(group=GROUP))
        self.installed = sorted({ep.name for ep in installed})
        wanted = requested()
        if wanted is not None:
            for name in sorted(wanted - set(self.installed)):
                self.unknown[name] = unknown_plugin(name, installed)
                print(f"disentangle: {self.unknown[name]}", file=sys.stderr)
        eps = sorted(
            (ep for ep in installed if wanted is None or ep.name in wanted),
            key=lambda ep: (_distribution(ep)[0] != OWN_DISTRIBUTION, ep.name),
        )
        for ep in eps:
            provider, version = _distribution(ep)
            try:
                self._register(ep.load(), ep.name, provider, version)
            except Exception as exc:  # a broken plugin must not take the rest down
                failure = PluginFailure(ep.name, provider, f"{type(exc).__name__}: {exc}")
                self.failures.append(failure)
                print(
                    f"disentangle: plugin {ep.name!r} ({provider}) failed to load and was "
                    f"skipped: {failure.error}",
                    file=sys.stderr,
                )

    def add(
        self, plugin: ModuleType | object, name: str, provider: str = "", version: str = ""
    ) -> None:
        """Register an in-process plugin object (tests, notebooks) and run its hooks."""
        self.load()
        self._register(plugin, name, provider or name, version)

    def _register(
        self, plugin: ModuleType | object, name: str, provider: str, version: str
    ) -> None:
        """Validate one plugin's hooks and run them; on any error, undo all of it and raise."""
        added: list[tuple[Registry[Any], str, Entry[Any] | None]] = []
        self.manager.register(plugin, name=name)
        try:
            self.manager.check_pending()
            for kind, registry in self.registries.items():
                caller = getattr(self.manager.hook, f"register_{kind}")
                for impl in caller.get_hookimpls():
                    if impl.plugin_name == name:
                        impl.function(
                            register=partial(
                                _recording,
                                registry,
                                added,
                                provider=provider,
                                version=version,
                                plugin=name,
                            )
                        )
        except Exception:
            self.manager.unregister(name=name)
            for registry, name_added, replaced in reversed(added):
                registry.unregister(name_added)
                if replaced is not None:
                    registry.restore(replaced)
            raise
        self.loaded.append(LoadedPlugin(name, provider, version))


def _recording(
    registry: Registry[Any],
    added: list[tuple[Registry[Any], str, Entry[Any] | None]],
    name: str,
    *args: Any,
    **kwargs: Any,
) -> Entry[Any]:
    """Register, remembering what to undo: the name, and the entry it replaced if any."""
    replaced = registry.get(name) if name in registry else None
    entry = registry.register(name, *args, **kwargs)
    added.append((registry, name, replaced))
    return entry


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
