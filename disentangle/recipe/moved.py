"""Recipe keys that moved into `[method]`, the section of the method that owns them.

The core recipe holds what every method shares; a method's own settings (InfoGAN's learning
rates, G steps per D step, MI estimator) are its `[method]` params, and a method may declare
settings written beside each code (`Method.code_params`: InfoGAN's `lambda`). A recipe that
still writes a moved key is refused with the key's new place (`moved_problems`); a recipe a
run stored before the move (recipe.json, a checkpoint) is read with its keys moved, or dropped
where the method never read them (`upgrade_stored`), since it records what ran.
"""

from __future__ import annotations

import copy
from typing import Any

from disentangle.errors import Problem
from disentangle.plugins import host
from disentangle.registry import Entry

#: each moved key path and where it is now
MOVED = {
    "optim.lr_d": "method.lr_d",
    "optim.lr_g": "method.lr_g",
    "optim.beta1": "method.beta1",
    "optim.beta2": "method.beta2",
    "train.g_updates": "method.g_updates",
    "estimator": "method.estimator",
}
#: the sections that held nothing else
EMPTIED = ("optim", "estimator")
DEFAULT_METHOD = "infogan"


def method_entry(data: Any) -> Entry[Any] | None:
    """The registry entry of the recipe's method (None when it names none registered)."""
    if not isinstance(data, dict):
        return None
    method = data.get("method", {})
    name = method.get("type", DEFAULT_METHOD) if isinstance(method, dict) else None
    return host.methods.get(name) if isinstance(name, str) and name in host.methods else None


def code_params(entry: Entry[Any] | None) -> Any:
    """The params model a method declares for each code (None: the codes take none)."""
    return None if entry is None else getattr(entry.factory, "code_params", None)


def _present(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _remove(data: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    del node[last]
    for section in EMPTIED:
        if data.get(section) == {}:
            del data[section]


def _keys(entry: Entry[Any]) -> str:
    return ", ".join(entry.params.model_fields) or "none"


def _take_moved(data: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """Remove the moved keys `data` holds: each one's old path, field in [method] and value."""
    taken = []
    for old, new in MOVED.items():
        found, value = _present(data, old)
        if found:
            taken.append((old, new.split(".", 1)[1], value))
            _remove(data, old)
    return taken


def _take_lambdas(data: dict[str, Any]) -> list[int]:
    """Remove `lambda` from each code table that has one: the tables' indices."""
    codes = data.get("codes")
    taken = []
    for i, code in enumerate(codes if isinstance(codes, list) else []):
        if isinstance(code, dict) and "lambda" in code:
            del code["lambda"]
            taken.append(i)
    return taken


def moved_problems(data: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """A user's recipe without its moved keys, and one problem per moved key naming its new
    place (and, for a method that does not have it, what that method has)."""
    entry = method_entry(data)
    rest, problems = copy.deepcopy(data), []
    if entry is None:
        return rest, []
    for old, field, _ in _take_moved(rest):
        if field in entry.params.model_fields:
            problems.append(Problem(old, f"moved: it is now {MOVED[old]}"))
        else:
            problem = (
                f"moved to {MOVED[old]}, which method {entry.name!r} does not have "
                f"(its keys: {_keys(entry)})"
            )
            problems.append(Problem(old, problem))
    if code_params(entry) is None:
        weighed = [e.name for e in host.methods.entries() if code_params(e) is not None]
        problem = (
            f"method {entry.name!r} takes no setting beside a code (lambda weighs a "
            f"code's bound in {', '.join(weighed) or 'no registered method'})"
        )
        problems += [Problem(f"codes[{i}].lambda", problem) for i in _take_lambdas(rest)]
    return rest, problems


def upgrade_stored(data: Any) -> Any:
    """A recipe a run stored before the move, as the method now reads it: each moved key in
    the method's section when the method has it, else dropped (the method never read it)."""
    entry = method_entry(data)
    if entry is None:
        return data
    data = copy.deepcopy(data)
    for _, field, value in _take_moved(data):
        if field in entry.params.model_fields:
            data.setdefault("method", {"type": DEFAULT_METHOD}).setdefault(field, value)
    if code_params(entry) is None:
        _take_lambdas(data)
    return data
