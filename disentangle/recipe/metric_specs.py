"""Metrics with their params, wherever the user is: `"mig"` or `{type = "mig", bins = 30}` in a
recipe's `[evaluate] metrics` and in `disentangle.evaluate(run, [...])`, `mig:bins=30` after
`--metric`. Each is validated by the metric's params model: key paths, ranges, did-you-mean."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from disentangle.errors import Problem, RecipeError
from disentangle.plugins import host
from disentangle.recipe.keys import did_you_mean, format_key
from disentangle.registry import UnknownNameError

#: what a metric may be given as: a name, `name:key=value,…`, a table, or a validated spec
MetricSpec = str | Mapping[str, Any] | BaseModel


def metric_spec(item: MetricSpec, where: str) -> BaseModel:
    """The metric's validated params (with its `type`); a RecipeError at `where` if not."""
    if isinstance(item, BaseModel):
        return item
    data = parse_metric(item, where) if isinstance(item, str) else item
    if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
        problem = 'a metric is a name or a table with its `type`, e.g. {type = "mig", bins = 30}'
        raise RecipeError(where, [Problem(where, problem, repr(item))])
    try:
        entry = host.metrics.get(data["type"])
    except UnknownNameError as exc:
        raise RecipeError(where, [Problem(f"{where}.type", str(exc))]) from None
    model = entry.spec_model()
    try:  # strictly, as a recipe's tables are: "30" is no number
        return model.model_validate_json(json.dumps(dict(data), default=str), strict=True)
    except ValidationError as err:
        raise RecipeError(where, param_problems(err, model, where)) from None


def metric_specs(items: list[MetricSpec], where: str) -> list[BaseModel]:
    """Each item's spec (`where[i]`); a metric named twice is an error."""
    specs = [metric_spec(item, f"{where}[{i}]") for i, item in enumerate(items)]
    names = [spec.type for spec in specs]  # type: ignore[attr-defined]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problem = "asks for the same metric twice (each metric's scores are kept under its name)"
        raise RecipeError(where, [Problem(where, problem, ", ".join(twice))])
    return specs


def parse_metric(text: str, where: str = "--metric") -> dict[str, Any]:
    """`mig:bins=30,fast=true` -> {"type": "mig", "bins": 30, "fast": True}; each value is
    read as TOML, else kept as a string."""
    name, _, rest = text.partition(":")
    data: dict[str, Any] = {"type": name.strip()}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            problem = "expected NAME:KEY=VALUE[,KEY=VALUE], e.g. mig:bins=30"
            raise RecipeError(where, [Problem(where, problem, repr(text))])
        try:
            data[key.strip()] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            data[key.strip()] = raw.strip()
    return data


def params_of(spec: BaseModel) -> dict[str, Any]:
    """A metric's params as eval.json records them (its `type` aside)."""
    return spec.model_dump(mode="json", exclude={"type"})


def param_problems(err: ValidationError, model: type[BaseModel], where: str) -> list[Problem]:
    """Pydantic's errors at `where.key`, an unknown key with the closest known ones."""
    problems = []
    for e in err.errors():
        key = format_key([where, *e["loc"]]) if e["loc"] else where
        if e["type"] == "extra_forbidden":
            problems.append(Problem(key, unknown_key(str(e["loc"][-1]), model)))
        else:
            value = None if e["type"] == "missing" else repr(e["input"])
            problems.append(Problem(key, e["msg"].removeprefix("Value error, "), value))
    return problems


def unknown_key(key: str, model: type[BaseModel]) -> str:
    """'unknown key', with a did-you-mean from the model's fields and the keys it knows."""
    known = sorted(f.alias or name for name, f in model.model_fields.items())
    return f"unknown key{did_you_mean(key, known)}; known: {', '.join(known)}"
