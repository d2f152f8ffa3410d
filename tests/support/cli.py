"""The command line run in-process, and what a clean refusal looks like (exit 1, no traceback)."""

from __future__ import annotations

from typer.testing import CliRunner

from disentangle.cli import add_plugin_commands, app

add_plugin_commands(app)  # as `main` does for every command the core does not define
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def assert_clean_failure(code: int, output: str, *needles: str) -> None:
    assert code == 1, output
    assert "Traceback" not in output
    flat = " ".join(output.replace("│", " ").split())
    for needle in needles:
        assert needle in flat, f"{needle!r} not in:\n{output}"
