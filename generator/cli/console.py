"""The terminal view of a Resource Manager job: log lines on stdout, notes and the status line on stderr.

>>> RmConsole(as_json=True).quiet
True
"""

from __future__ import annotations

import json
import sys

import click

from ..deploy import results


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, default=lambda o: o.isoformat() if hasattr(o, "isoformat") else str(o))


def print_outputs(outputs: list[results.Output], show_sensitive: bool) -> None:
    """A job's outputs as ``name = value`` lines; sensitive ones masked unless shown."""
    if not outputs:
        return
    click.echo("Outputs:")
    width = max(len(o.name) for o in outputs)
    for o in outputs:
        click.echo(f"  {o.name.ljust(width)} = {o.shown(show_sensitive)}")


def outputs_json(outputs: list[results.Output], show_sensitive: bool) -> dict:
    """Outputs as data: masked sensitive values are null, never the secret."""
    return {o.name: (o.value if show_sensitive or not o.sensitive else None) for o in outputs}


class RmConsole:
    """Prints job progress: log lines on stdout, notes and the TTY status line on stderr."""

    def __init__(self, as_json: bool) -> None:
        self.quiet = as_json
        self.tty = not as_json and sys.stderr.isatty()
        self.status_shown = False

    def hooks(self) -> results.Hooks:
        if self.quiet:
            return results.Hooks()
        return results.Hooks(on_log=self.log, on_status=self.status, on_note=self.note, on_job_started=self.started)

    def _clear(self) -> None:
        if self.status_shown:
            click.echo("\r\033[K", nl=False, err=True)
            self.status_shown = False

    def log(self, line: results.LogLine) -> None:
        self._clear()
        click.echo(line.message)

    def status(self, status: results.JobStatus) -> None:
        if self.tty:
            minutes, seconds = divmod(int(status.elapsed), 60)
            click.echo(f"\r\033[K{status.operation} {status.state} {minutes:02d}:{seconds:02d}", nl=False, err=True)
            self.status_shown = True

    def note(self, text: str) -> None:
        self._clear()
        click.echo(text, err=True)

    def started(self, job_id: str, operation: str) -> None:
        self.note(f"{operation} job {job_id} started")

    def done(self) -> None:
        self._clear()

    def emit(self, data: object) -> None:
        click.echo(dumps(data))


def print_plan(summary: tuple[int, int, int] | None, job_id: str) -> None:
    if summary is None:
        click.echo(f"Plan job {job_id} succeeded (its log has no plan summary).")
    else:
        add, change, destroy = summary
        click.echo(f"Plan: {add} to add, {change} to change, {destroy} to destroy (job {job_id}).")
