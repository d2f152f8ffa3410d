"""`disentangle schema`: the JSON Schema of recipes accepts every shipped recipe (variants
included) and refuses what validation refuses, with every component's params, descriptions and
bounds; `--plugins` gives each component's own schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from support.cli import invoke

from disentangle.plugins import host
from disentangle.recipe import read_toml, recipe_schema

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = recipe_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_fits_the_schema(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    assert list(validator.iter_errors(read_toml(path))) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"train": {"batch_size": 1_000_000}}, "maximum"),
        ({"train": {"batch_size": 1}}, "minimum"),
        ({"train": {"bogus": 1}}, "Additional properties"),
        ({"codes": [{"type": "categorical", "k": 1}]}, "minimum"),
        ({"codes": [{"type": "categorial"}]}, "categorial"),
    ],
)
def test_the_schema_refuses_what_validation_refuses(
    change: dict, where: str, validator: jsonschema.Draft202012Validator
) -> None:
    data = {**read_toml(ROOT / "recipes" / "quickstart.toml"), **change}
    errors = list(validator.iter_errors(data))
    messages = [e.message for error in errors for e in [error, *error.context]]
    assert errors and any(where in m for m in messages), messages


def test_the_schema_describes_every_component_with_its_bounds() -> None:
    text = json.dumps(recipe_schema())
    for kind, registry in host.registries.items():
        for name in registry.names() if kind != "metrics" else []:  # metrics are not recipe parts
            assert f'"const": "{name}"' in text, name
    assert "number of categories" in text  # a plugin's field description
    assert '"maximum": 10000' in text  # a plugin's bound (categorical k)


def test_schema_command_prints_the_recipe_schema_and_the_components() -> None:
    code, output = invoke("schema")
    assert code == 0 and json.loads(output) == recipe_schema()
    code, output = invoke("schema", "--plugins")
    components = json.loads(output)
    assert code == 0 and set(components) == set(host.registries)
    assert components["codes"]["categorical"]["plugin"] == "disentangle-toolkit"
    assert "k" in components["codes"]["categorical"]["params"]["properties"]
