"""The method contract (docs/hooks.md, `register_methods`), checked when a method is built and
on its first step, so that a broken method is one error naming its plugin, the method and the
rule, before a checkpoint holds the wrong state."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from disentangle.errors import DisentangleError, Problem
from disentangle.registry import Entry

#: what every method implements
REQUIRED = ("step", "decoder", "encode")
#: names a checkpoint uses for its own state beside the networks and optimizers
RESERVED = ("rng",)


class ContractError(DisentangleError):
    """A method that breaks the contract the core relies on."""

    def __init__(self, entry: Entry[Any], rule: str) -> None:
        super().__init__(
            f"plugin {entry.plugin or entry.provider!r}, method {entry.name!r}: {rule}"
        )


def class_problems(entry: Entry[Any]) -> list[Problem]:
    """What the method's class lacks, found without building it (for `validate`)."""
    factory = entry.factory
    if not inspect.isclass(factory):
        return []
    missing = [
        name
        for name in REQUIRED
        if not callable(getattr(factory, name, None))
        or name in getattr(factory, "__abstractmethods__", ())
    ]
    return [Problem("method.type", str(ContractError(entry, _lacks(missing))))] if missing else []


def check_method(method: Any, entry: Entry[Any]) -> None:
    """Refuse a built method that breaks the contract (ContractError)."""
    missing = [name for name in REQUIRED if not callable(getattr(method, name, None))]
    if missing:
        raise ContractError(entry, _lacks(missing))
    for attr, kind, what in (
        ("networks", nn.Module, "torch.nn.Module"),
        ("optimizers", torch.optim.Optimizer, "torch.optim.Optimizer"),
    ):
        parts = getattr(method, attr, None)
        if not isinstance(parts, dict) or not all(isinstance(v, kind) for v in parts.values()):
            raise ContractError(entry, f"`{attr}` must be a dict of names to {what}")
    scalars = getattr(method, "scalars", None)
    if not isinstance(scalars, list | tuple) or not all(isinstance(s, str) for s in scalars):
        raise ContractError(entry, "`scalars` must be a list of the names of step()'s numbers")
    if len(set(scalars)) != len(scalars):
        raise ContractError(entry, f"`scalars` names a number twice: {list(scalars)}")
    both = sorted(set(method.networks) & set(method.optimizers))
    if both:
        raise ContractError(
            entry,
            f"{both} name both a network and an optimizer; checkpoints keep one state per name",
        )
    reserved = sorted(set(RESERVED) & {*method.networks, *method.optimizers})
    if reserved:
        raise ContractError(
            entry, f"{reserved} is a name checkpoints use themselves: name the part otherwise"
        )


def check_step(numbers: Any, method: Any, entry: Entry[Any]) -> None:
    """Refuse a first step whose numbers do not match `scalars` one to one."""
    want = len(method.scalars)
    if not isinstance(numbers, torch.Tensor) or tuple(numbers.shape) != (want,):
        got = tuple(numbers.shape) if isinstance(numbers, torch.Tensor) else type(numbers).__name__
        raise ContractError(
            entry,
            f"step() returned {got}, but `scalars` names {want} number(s) "
            f"({', '.join(method.scalars)}): step returns a tensor of shape [len(scalars)]",
        )


def _lacks(missing: list[str]) -> str:
    names = ", ".join(f"{m}()" for m in missing)
    return f"it has no {names}: every method implements {', '.join(REQUIRED)}"
