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
from typing import IO, Any

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


#: what `user_errors` says when the user interrupts a command that gives no advice of its own
INTERRUPTED = "the command stopped before its end; run it again"


@contextmanager
def user_errors(interrupted: str = INTERRUPTED) -> Iterator[None]:
    """DisentangleError (and an OSError) as a message and exit 1; Ctrl-C as `interrupted`, what
    was kept and how to go on, and exit 130."""
    try:
        yield
    except DisentangleError as exc:
        show_error(exc)
        raise typer.Exit(1) from None
    except BrokenPipeError:  # the reader stopped early (`disentangle schema | head`): not an error
        silence_stdout()
        raise typer.Exit(0) from None
    except OSError as exc:  # a path the command cannot use: a file for a folder, no permission
        show_os_error(exc)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted[/]: {interrupted}")
        raise typer.Exit(130) from None


def show_os_error(exc: OSError) -> None:
    """An OSError as a message naming its file (or standard output, then given up on)."""
    if exc.filename == STANDARD_OUTPUT:
        silence_stdout()
    show_error(DisentangleError(f"{exc.filename or 'a file'}: {exc.strerror or exc}"))


def silence_stdout() -> None:
    """Point standard output at /dev/null: nothing more is written (or fails) there."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


#: the name an error writing standard output gives as its file
STANDARD_OUTPUT = "standard output"


class NamedStandardOutput:
    """A stream (the program's sys.stdout) whose write errors (`> /dev/full`, a full disk behind
    `> file`) name standard output as their file."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, STANDARD_OUTPUT) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, STANDARD_OUTPUT) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
