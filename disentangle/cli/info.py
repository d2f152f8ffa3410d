"""`disentangle plugins` and `schema`: what is installed, and the recipe files' schema."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from disentangle.cli.app import app
from disentangle.console import err, out, user_errors
from disentangle.errors import DisentangleError


@app.command()
def plugins() -> None:
    """List every registered component with its params, plugin and providing package."""
    with user_errors():
        from disentangle.plugins import ENV_VAR, host

        table = Table("kind", "name", "params", "plugin")
        for registry in host.registries.values():
            for e in registry.entries():
                params = ", ".join(
                    f"{k}={f.default!r}" if not f.is_required() else k
                    for k, f in e.params.model_fields.items()
                )
                table.add_row(registry.kind, e.name, params, e.plugin)
        out.print(table)
        loaded = Table("plugin", "package", "version", title=f"plugins (names for {ENV_VAR})")
        for p in host.loaded:
            loaded.add_row(p.name, p.provider, p.version)
        out.print(loaded)
        for f in host.failures:
            err.print(f"[red]failed[/] plugin {f.name!r} ({f.provider}): {f.error}")
        if host.unknown:
            raise DisentangleError("\n".join(host.unknown.values()))


@app.command()
def schema(
    components: Annotated[
        bool,
        typer.Option("--plugins", help="Each registered component's params instead, by registry."),
    ] = False,
) -> None:
    """Print the JSON Schema of recipe files (for editor completion and checking)."""
    with user_errors():
        import json

        from disentangle.recipe import component_schemas, recipe_schema

        print(json.dumps(component_schemas() if components else recipe_schema(), indent=1))
