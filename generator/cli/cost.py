"""`flowstack cost`: monthly traffic and cost of a stack.

>>> cost_command.name
'cost'
"""

from __future__ import annotations

import json

import click

from generator.config.load import load_config

from ..cost.estimate import Scenario
from ..cost.fleet import fleet_cost
from ..cost.sizing import format_sizing, size
from ..cost.table import format_table


@click.command("cost")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
# Defaults come from Scenario so the CLI and the library share one baseline (the
# user's guide's unit: 1 space x 50 users, 9 h x 22 days, 1.5 Mbps).
@click.option("--spaces", type=int, default=Scenario.spaces, show_default=True, help="Spaces (rooms) in use at the same time.")
@click.option("--users-per-space", type=int, default=Scenario.users_per_space, show_default=True, help="Users in each space.")
@click.option("--hours-per-day", type=float, default=Scenario.hours_per_day, show_default=True, help="Hours each user is connected per day.")
@click.option("--days-per-month", type=int, default=Scenario.days_per_month, show_default=True, help="Days of use per month.")
@click.option("--mbps-per-user", type=float, default=Scenario.mbps_per_user, show_default=True, help="Media the server sends each user (Mbps).")
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Use the Always Free limits in force on this date (YYYY-MM-DD; default today).",
)
@click.option("--subscribed-per-user", type=int, default=None,
              help="Proximity groups: how many others each user receives video from (default: everyone in the space).")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def cost_command(
    config_path: str,
    spaces: int,
    users_per_space: int,
    hours_per_day: float,
    days_per_month: int,
    mbps_per_user: float,
    on: object,
    subscribed_per_user: int | None,
    as_json: bool,
) -> None:
    """Monthly traffic and cost of CONFIG's stack, and the same workload on LiveKit Cloud.

    \b
    Example (3 spaces of 20 users, 6 hours a day, each seeing only 4 others' video):
      flowstack cost stacks/flowspace.yaml --spaces 3 --users-per-space 20 --hours-per-day 6 --subscribed-per-user 4
    """
    config = load_config(config_path)
    scenario = Scenario(
        spaces=spaces,
        users_per_space=users_per_space,
        hours_per_day=hours_per_day,
        days_per_month=days_per_month,
        mbps_per_user=mbps_per_user,
    )
    day = on.date() if on is not None else None  # type: ignore[attr-defined]
    # Several nodes (scale:): the fleet's totals against the tenancy's free hours, plus the NLB and IPs.
    fleet = fleet_cost(config, scenario, day)
    report = fleet.report
    advice = size(float(fleet.ocpus), spaces=spaces, users_per_space=users_per_space, subscribed_per_user=subscribed_per_user, on=day)
    scaled = config.scale.scaled
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "sizing": advice.to_dict(), **({"scale": fleet.to_dict()} if scaled else {})}, indent=2))
    else:
        click.echo(format_table(report) + ("\n\n" + "\n".join(fleet.lines()) if scaled else "") + "\n\n" + format_sizing(advice))

