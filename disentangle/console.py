"""The terminal of the `disentangle` program: its output and error consoles, and the one way a
command turns a DisentangleError into a clear message and exit code 1 (no traceback).

Part of the public face a plugin's commands use (`register_commands`, docs/hooks.md):

    from disentangle.console import out, user_errors

    with user_errors():
        out.print("...")
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from disentangle.errors import DisentangleError, RecipeError

out = Console()
err = Console(stderr=True)


def show_error(exc: DisentangleError) -> None:
    """One Rich panel on stderr: the source and each problem, no traceback."""
    if isinstance(exc, RecipeError):
        table = Table.grid(padding=(0, 2))
        for p in exc.problems:
            got = Text(f"got {p.value}", style="dim") if p.value is not None else ""
            table.add_row(Text(p.where, style="bold"), Text(p.message), got)
        title = f"{len(exc.problems)} problem(s) in a recipe"
        body = Group(Text(exc.source, style="bold"), table)
        err.print(Panel(body, title=title, title_align="left", border_style="red"))
    else:
        err.print(Panel(Text(str(exc)), title="error", title_align="left", border_style="red"))


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except DisentangleError as exc:
        show_error(exc)
        raise typer.Exit(1) from None
    except BrokenPipeError:  # the reader stopped early (`disentangle schema | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except OSError as exc:  # a path the command cannot use: a file for a folder, no permission
        where = exc.filename or "a file"
        show_error(DisentangleError(f"{where}: {exc.strerror or exc}"))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: continue from the last checkpoint with --resume RUN_DIR")
        raise typer.Exit(130) from None
