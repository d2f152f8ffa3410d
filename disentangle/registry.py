"""One generic registry type: named factories with their typed params."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from disentangle.errors import DisentangleError

T = TypeVar("T")


class Params(BaseModel):
    """Base of every plugin's params model: unknown keys and non-finite numbers are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


@dataclass(frozen=True)
class Choice:
    """Marks a params field whose value is a component of another registry, chosen by its
    `type`, e.g. InfoGAN's `estimator: Annotated[dict[str, Any], Choice("estimators")]`: in a
    recipe the field is validated by that component's params (key paths, defaults, names)."""

    registry: str


class UnknownNameError(DisentangleError, KeyError):
    """A name that no plugin registered."""

    def __init__(self, kind: str, name: str, available: list[str]) -> None:
        close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listed = ", ".join(available) if available else "none (no plugin registered one)"
        super().__init__(f"unknown {kind} {name!r}.{hint} Available: {listed}.")
        self.kind, self.name, self.suggestions, self.available = kind, name, close, available

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered component: its name, factory, params model and provider."""

    name: str
    factory: Callable[..., T]
    params: type[Params]
    provider: str = "unknown"
    version: str = ""
    #: the plugin (entry-point name) that registered it: what DISENTANGLE_PLUGINS takes
    plugin: str = ""

    def spec_model(
        self, base: type[BaseModel] | None = None, fields: dict[str, Any] | None = None
    ) -> type[BaseModel]:
        """The params model with a `type: Literal[name]` tag (and `base`'s fields, and
        `fields` in place of the params' own of the same names) added."""
        bases = (self.params,) if base is None else (self.params, base)
        return create_model(
            f"{self.params.__name__}[{self.name}]",
            __base__=bases,
            type=(Literal[self.name], Field(description="the registered name")),
            **(fields or {}),
        )


class Registry(Generic[T]):
    """Named factories of one kind (codes, backbones, datasets, estimators, metrics)."""

    def __init__(self, kind: str, loader: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._loader = loader

    def _load(self) -> None:
        if self._loader is not None:
            loader, self._loader = self._loader, None
            loader()

    def register(
        self,
        name: str,
        factory: Callable[..., T],
        params: type[Params] = Params,
        *,
        override: bool = False,
        provider: str = "unknown",
        version: str = "",
        plugin: str = "",
    ) -> Entry[T]:
        """Add `factory` under `name`; a taken name raises unless `override` is true."""
        if not name.isidentifier():
            raise DisentangleError(f"{self.kind} name {name!r} must be a Python identifier")
        if not (isinstance(params, type) and issubclass(params, Params)):
            raise DisentangleError(
                f"{self.kind} {name!r}: params must subclass disentangle.Params, got {params!r}"
            )
        if name in self._entries and not override:
            taken = self._entries[name]
            raise DisentangleError(
                f"{self.kind} {name!r} is already registered by {taken.provider}; "
                "pass override=True to replace it"
            )
        entry = Entry(name, factory, params, provider, version, plugin)
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def restore(self, entry: Entry[T]) -> None:
        """Put back an entry exactly as it was (used to undo a failed plugin)."""
        self._entries[entry.name] = entry

    def get(self, name: str) -> Entry[T]:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a glob pattern, sorted."""
        self._load()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def build(self, spec: BaseModel | str, *args: Any, **kwargs: Any) -> T:
        """Build a component: `build("gaussian", dim=2)` validates the params by the
        component's model (a DisentangleError naming each bad key) and calls its factory;
        `build(spec, *args, **kwargs)` calls the factory named by a validated spec's `type`
        (`entry.spec_model()(type=..., ...)`, a recipe's table) with `args` and `kwargs`.
        Positional `args` go to the factory either way (a method's setup, an estimator's
        codes)."""
        if isinstance(spec, str):
            entry = self.get(spec)
            return entry.factory(self.spec(spec, **kwargs), *args)
        name = getattr(spec, "type", None)
        if not isinstance(name, str):
            raise DisentangleError(
                f"{type(spec).__name__} has no `type`: build a {self.kind} by its name, "
                "build('NAME', **params)"
            )
        return self.get(name).factory(spec, *args, **kwargs)

    def spec(self, name: str, **params: Any) -> BaseModel:
        """The validated params of component `name` with its `type` tag."""
        model = self.get(name).spec_model()
        try:
            return model(type=name, **params)
        except ValidationError as err:
            known = sorted(model.model_fields)
            problems = []
            for e in err.errors():
                where = ".".join(map(str, e["loc"]))
                if e["type"] == "extra_forbidden":
                    close = difflib.get_close_matches(where, known, n=1, cutoff=0.6)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    problems.append(f"{where}: unknown key{hint}")
                else:
                    problems.append(f"{where}: {e['msg']} (got {e['input']!r})")
            raise DisentangleError(f"{self.kind} {name!r}: " + "; ".join(problems)) from None
