"""The `disentangle` command: a thin Typer layer over the library (torch is imported lazily).

One module per command group: training (run, validate), info (plugins, schema), images
(traverse, figures, sample), analysis (eval, curve, compare, report, table, select); a
plugin's commands come from its `register_commands` hook.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from disentangle.console import STANDARD_OUTPUT, NamedStandardOutput, err, show_os_error

if TYPE_CHECKING:
    from disentangle.plugins import PluginHost

# the command groups, in the order --help lists them (each registers its commands on `app`)
from disentangle.cli import training  # noqa: I001, F401
from disentangle.cli import info  # noqa: F401
from disentangle.cli import images  # noqa: F401
from disentangle.cli import analysis  # noqa: F401
from disentangle.cli.app import app

#: the apps that have their plugins' commands already
_WITH_PLUGIN_COMMANDS: list[typer.Typer] = []


def add_plugin_commands(cli: typer.Typer, plugins: PluginHost | None = None) -> None:
    """Commands from the plugins' `register_commands(cli)` hooks (`data` comes from the
    datasets plugin), once per app; a hook that fails is reported and skipped."""
    from disentangle.plugins import host

    if any(cli is done for done in _WITH_PLUGIN_COMMANDS):
        return
    _WITH_PLUGIN_COMMANDS.append(cli)
    plugins = plugins or host
    plugins.load()
    # pluggy's order (tryfirst, then the last registered, …, trylast), one plugin at a time
    for impl in reversed(plugins.manager.hook.register_commands.get_hookimpls()):
        try:
            impl.function(cli=cli)
        except Exception as exc:  # a broken plugin must not take the CLI down
            err.print(
                f"disentangle: plugin {impl.plugin_name!r} failed to add its commands: "
                f"{type(exc).__name__}: {exc}"
            )


def core_commands() -> set[str]:
    """The names of the commands the core defines itself."""
    return {
        command.name or command.callback.__name__.replace("_", "-")
        for command in app.registered_commands
        if command.callback is not None
    }


def main() -> None:
    """The `disentangle` program. A core command runs without importing the plugins first
    (each loads what it needs); anything else (help, a plugin's command) gets the plugins'
    commands added."""
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if command not in core_commands():
        add_plugin_commands(app)
    sys.stdout = NamedStandardOutput(sys.stdout)  # type: ignore[assignment]
    try:
        app(prog_name="disentangle")
    except OSError as exc:  # writing standard output, in a command without user_errors
        if exc.filename != STANDARD_OUTPUT:
            raise
        show_os_error(exc)
        sys.exit(1)
