"""A plugin's hook implementation as the host calls it through pluggy: credited to its plugin
(what `register` records as the provider) and isolated (an error is recorded, not raised, so
one broken plugin does not take the rest down); a wrapper (`wrapper=True`, `hookwrapper=True`)
keeps pluggy's protocol."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pluggy

#: the plugin whose hook implementation is running
_acting: ContextVar[str | None] = ContextVar("disentangle_acting_plugin", default=None)


def acting() -> str | None:
    """The entry-point name of the plugin whose hook is running (None outside a hook)."""
    return _acting.get()


def guarded(impl: pluggy.HookImpl, name: str, errors: dict[str, Exception]) -> Callable[..., Any]:
    """`impl`'s function, run as plugin `name`; its first error goes into `errors` (and its
    later calls are skipped) instead of propagating."""
    function = impl.function

    @contextmanager
    def as_plugin() -> Iterator[None]:
        token = _acting.set(name)
        try:
            yield
        except Exception as exc:
            errors.setdefault(name, exc)
        finally:
            _acting.reset(token)

    def plain(*args: Any) -> Any:
        if name not in errors:
            with as_plugin():
                return function(*args)
        return None

    def wrapper(*args: Any) -> Generator[None, Any, Any]:
        gen = None
        if name not in errors:
            with as_plugin():
                gen = function(*args)
                next(gen)
        result = yield
        if gen is not None and name not in errors:
            with as_plugin():
                try:
                    gen.send(result)
                except StopIteration as stop:
                    return stop.value if impl.wrapper else result
                raise RuntimeError("a hook wrapper must yield exactly once")
        return result

    return wrapper if impl.wrapper or impl.hookwrapper else plain
