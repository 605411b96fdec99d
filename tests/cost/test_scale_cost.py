"""Issue 25, step 4: the N-node stack is priced before apply (`flowstack cost`, `validate`),
from the dated prices and the Always Free readings; nothing is hard-coded here but the
arithmetic the test re-does from those same data files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from click.testing import CliRunner

from generator.cli import cli
from generator.config.load import parse_config
from generator.core.limits import in_force
from generator.core.prices import price_book
from generator.cost.estimate import Scenario
from generator.cost.fleet import check_scale_cost, fleet_cost

THREE = """name: demo
always_free: false
domains: {socket_host: socket.example.com, livekit_host: livekit.example.com}
scale: {nodes: 3}
"""
DAY = dt.date(2026, 12, 7)


def test_compute_of_the_fleet_is_billed_beyond_the_tenancys_free_hours() -> None:
    fc = fleet_cost(parse_config(THREE), Scenario(), DAY)
    book, reading = price_book(), in_force(DAY)[-1]
    ocpu_h, gb_h = 3 * 2 * book.hours_per_month, 3 * 12 * book.hours_per_month
    want = (max(ocpu_h - reading.a1_ocpu_hours_per_month, 0) * book.a1_ocpu.usd
            + max(gb_h - reading.a1_gb_hours_per_month, 0) * book.a1_memory.usd)
    assert fc.report.oracle[-1].compute.usd == want > 0
    assert fc.reserved_ips == 4 and fc.nlb_usd == Decimal(0)
    assert fc.usd == fc.report.oracle[-1].usd  # the NLB is no-cost, the reserved IPs have no known price


def test_one_node_prices_as_before_and_validate_has_no_scale_line() -> None:
    one = parse_config("name: demo\n")
    assert fleet_cost(one, Scenario(), DAY).ocpus == Decimal(2)
    assert check_scale_cost(one, DAY) is None


def test_cost_and_validate_print_the_fleet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(THREE)
    out = CliRunner().invoke(cli, ["cost", str(path), "--date", "2026-12-07"]).output
    assert "Several nodes (scale.nodes: 3): 3 x 2 OCPU / 12 GB = 6 OCPU / 36 GB" in out and "Network Load Balancer" in out
    result = CliRunner().invoke(cli, ["validate", "--no-external", str(path)])
    line = next(x for x in result.output.splitlines() if x.startswith("scale cost"))
    assert "3 nodes: $" in line


def test_a_paid_fleet_without_always_free_false_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(THREE.replace("always_free: false\n", ""))
    result = CliRunner().invoke(cli, ["cost", str(path)])
    assert result.exit_code != 0 and result.output.count("Error:") == 1 and "always_free: false" in result.output
