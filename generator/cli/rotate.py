"""Secret rotation: `flowstack rotate-secret CONFIG`.

Parses the argument, calls `rotate.rotate_secret` and prints what changed and what to do next.

>>> rotate_secret_command.name
'rotate-secret'
"""

from __future__ import annotations

import shlex

import click

from generator.config.rotate import FIELD_PATH, front_end_steps, rotate_secret


@click.command("rotate-secret")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
def rotate_secret_command(config_path: str) -> None:
    """Make a new LiveKit API secret at the next deploy: bump livekit.api_secret_version in CONFIG.

    Only that number changes in the file (or one line is added under livekit:); comments
    and everything else stay as they are.  The secret itself is made by Terraform at the
    next rm-apply and never shown here.

    \b
    Example:
      flowstack rotate-secret stacks/flowspace.yaml && flowstack rm-apply stacks/flowspace.yaml --at 04:00
    """
    done = rotate_secret(config_path)
    click.echo(f"{done.path}:{done.edit.line}: {FIELD_PATH} {done.old_version} -> {done.new_version} "
               f"({done.edit.how}; nothing else in the file changed)")
    quoted = shlex.quote(config_path)
    click.echo("Next steps:")
    click.echo(f"  1. flowstack rm-apply {quoted}   (Terraform makes the new secret; LiveKit restarts with it, "
               "so live calls drop: add --at HH:MM for a quiet hour)")
    for number, step in enumerate(front_end_steps(config_path), start=2):
        click.echo(f"  {number}. {step}")
