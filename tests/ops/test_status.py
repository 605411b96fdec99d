"""`flowstack status` (issue 14) through the real `oci` SDK against the emulator.

Replaced: OCI itself (Compute, Virtual Network, Monitoring, Resource Manager) by
`flowstack emulator`, which checks every request's signature and answers the exact MQL
queries status sends from series seeded here (tests/status_seed.py) with OCI's field
names. The HTTPS health probes are skipped here (--no-health): they need port 443 on a
host, which tests/ops/test_doctor.py gives them inside network namespaces.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
import status_seed
from click.testing import CliRunner

from generator.cli import cli
from generator.ops.chart import png_size

# End to end: real oci SDK against a real emulator server (Compute, VNIC, Monitoring). The slow suite runs it (make test); make test-fast skips it.
pytestmark = pytest.mark.slow

NOW = dt.datetime.now(dt.timezone.utc)
FREE_GB = 10_000


@pytest.fixture(autouse=True)
def _now_is_the_tests_own() -> None:
    """The seeded series end at NOW, and `status` reads "now" from the last 15 minutes of the real
    clock: NOW is taken when each test starts, not when the module was imported (a long slow
    suite ran this module more than 15 minutes after collecting it, so "now" had no sample)."""
    global NOW
    NOW = dt.datetime.now(dt.timezone.utc)


def run_status(em, *extra: str) -> tuple[int, str]:
    argv = ["status", "stacks/flowspace.yaml", "--config-file", str(em.config_file), "--compartment", em.compartment_id,
            "--endpoint", em.url, "--no-health", *extra]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    return result.exit_code, result.output


def seeded(em, **kw) -> dict:
    return em._admin("POST", "/_emulator/metrics", status_seed.seed(NOW, **kw))


def status_json(em, *extra: str) -> tuple[int, dict]:
    code, out = run_status(em, "--json", *extra)
    return code, json.loads(out)


def month_fraction(now: dt.datetime) -> float:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + dt.timedelta(days=32)).replace(day=1)
    return (now - start).total_seconds() / (nxt - start).total_seconds()


def test_healthy_month(rm_emulator) -> None:
    seeded(rm_emulator, cpu=35, memory=45, gb_per_hour=4)
    code, r = status_json(rm_emulator)
    assert code == 0, r["problems"]
    assert r["instance"]["lifecycle_state"] == "RUNNING" and r["instance"]["public_ip"] == "146.56.10.20"
    assert r["instance"]["shape"] == "VM.Standard.A1.Flex" and r["instance"]["ocpus"] == 2
    # p95 of the seeded swing (x1.3 for 4 hours a day, x0.9 otherwise) is the high value.
    assert r["usage"]["cpu"]["p95_7d_pct"] == pytest.approx(35 * 1.3)
    assert r["usage"]["memory"]["p95_7d_pct"] == pytest.approx(45)
    assert r["usage"]["cpu"]["now_pct"] in (pytest.approx(35 * 1.3), pytest.approx(35 * 0.9))
    e = r["egress"]
    hours = len(e["daily_gb"]) and sum(e["daily_gb"]) / 4
    assert e["month_to_date_gb"] == pytest.approx(4 * hours)
    assert e["projected_gb"] < FREE_GB and not e["over_pace"] and e["overage_usd"] == 0
    assert e["free_gb"] == FREE_GB and e["free_verified"] is True
    assert r["idle"]["at_risk"] is False
    # The terminal view carries the same figures and the chart.
    code, text = run_status(rm_emulator)
    assert "idle risk:  not at risk" in text and "daily GB:" in text and "┃" in text


def test_over_pace_month_prices_the_overage(rm_emulator, tmp_path: Path) -> None:
    seeded(rm_emulator, cpu=40, memory=50, gb_per_hour=25)
    plot = tmp_path / "egress.svg"
    code, r = status_json(rm_emulator, "--plot", str(plot))
    assert code == 0, r["problems"]
    e = r["egress"]
    assert e["over_pace"] and e["projected_gb"] > FREE_GB
    # The pace: month-to-date over the elapsed part of the month.
    assert e["projected_gb"] == pytest.approx(e["month_to_date_gb"] / month_fraction(NOW), rel=0.01)
    # ap-chuncheon-1 is in Oracle's APAC price group: $0.025/GB (generator/data/prices.yaml).
    assert e["price"]["usd"] == 0.025 and e["price"]["as_of"] == "2026-11-26" and "APAC" in e["price_group"]
    assert e["overage_usd"] == pytest.approx((e["projected_gb"] - FREE_GB) * 0.025, abs=0.01)
    svg = ET.parse(plot).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("width") == "800" and svg.get("height") == "420"
    bars = [el for el in svg.iter("{http://www.w3.org/2000/svg}rect") if el.get("fill") == "#ef4444"]
    assert len(bars) == len([d for d in e["daily_gb"] if d > e["pace_gb_per_day"]]) >= 1
    code, text = run_status(rm_emulator)
    assert "overage:" in text and "$0.025/GB" in text and "over pace" in text


def test_png_plot_is_a_real_png(rm_emulator, tmp_path: Path) -> None:
    seeded(rm_emulator, cpu=40, memory=50, gb_per_hour=25)
    plot = tmp_path / "egress.png"
    code, _ = status_json(rm_emulator, "--plot", str(plot))
    data = plot.read_bytes()
    assert code == 0 and png_size(data) == (800, 420)
    # Walk the chunks, check every CRC, inflate the pixels: 420 rows of filter byte + 800 RGB.
    pos, chunks = 8, {}
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert int.from_bytes(data[pos + 8 + length:pos + 12 + length], "big") == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == 420 * (1 + 800 * 3) and b"IEND" in chunks
    assert bytes((0xEF, 0x44, 0x44)) in raw  # an over-pace (red) bar was drawn


def test_idle_week_is_at_risk_and_says_what_averts_it(rm_emulator) -> None:
    seeded(rm_emulator, cpu=2.0, memory=11.0, gb_per_hour=0.05)
    code, r = status_json(rm_emulator)
    assert code == 0
    v = r["idle"]
    assert v["at_risk"] is True and v["rule"]["verified"] is False and v["rule"]["effective"] == "2023-09-13"
    assert {f["metric"]: f["below"] for f in v["findings"]} == {"cpu": True, "network": True, "memory": True}
    assert any("CPU p95 at or above 20%" in a for a in v["avert"]) and any("Pay As You Go" in a for a in v["avert"])
    _, text = run_status(rm_emulator)
    assert "AT RISK of reclamation" in text and "UNVERIFIED" in text and "(unverified)" in text


def test_one_busy_figure_is_enough(rm_emulator) -> None:
    """Negative control of the verdict: all conditions must hold, so busy memory alone averts it."""
    seeded(rm_emulator, cpu=2.0, memory=60.0, gb_per_hour=0.05)
    _, r = status_json(rm_emulator)
    assert r["idle"]["at_risk"] is False and "memory above" in r["idle"]["summary"]


def test_stopped_instance(rm_emulator) -> None:
    stopped_at = NOW - dt.timedelta(hours=2)
    seeded(rm_emulator, cpu=30, memory=40, gb_per_hour=1, state="STOPPED", metrics_until=stopped_at)
    code, r = status_json(rm_emulator)
    assert code == 1
    assert r["instance"]["lifecycle_state"] == "STOPPED"
    assert r["usage"]["cpu"]["now_pct"] is None  # nothing in the last 15 minutes
    assert any("STOPPED, not RUNNING" in p and "--action START" in p for p in r["problems"])


def test_no_instance_is_a_clear_problem(rm_emulator) -> None:
    code, out = run_status(rm_emulator)
    assert code == 1 and "no instance named 'flowspace-server'" in out and "rm-apply" in out


@pytest.mark.parametrize("status", [429, 500])
def test_monitoring_failing_is_reported_and_the_rest_still_shown(rm_emulator, status: int) -> None:
    seeded(rm_emulator, cpu=30, memory=40, gb_per_hour=1)
    rm_emulator.set_faults({f"status_{status}": {"path_prefix": "/20180401", "count": 50}})
    code, r = status_json(rm_emulator)
    assert code == 1
    assert r["instance"]["lifecycle_state"] == "RUNNING" and r["usage"] is None and r["idle"] is None
    name = {429: "TooManyRequests", 500: "InternalServerError"}[status]
    assert any("SummarizeMetricsData" in p and f"{status} {name}" in p for p in r["problems"]), r["problems"]
    # Bounded: the SDK tried 3 times, then status gave up on Monitoring.
    assert rm_emulator.stats()["statuses"].get(str(status)) == 3


def test_one_transient_500_is_retried(rm_emulator) -> None:
    seeded(rm_emulator, cpu=30, memory=40, gb_per_hour=1)
    rm_emulator.set_faults({"status_500": {"path_prefix": "/20180401", "count": 1}})
    code, r = status_json(rm_emulator)
    assert code == 0 and r["usage"]["cpu"]["p95_7d_pct"] is not None
    assert rm_emulator.stats()["statuses"]["500"] == 1


def test_unsigned_requests_are_refused(rm_emulator) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(rm_emulator.url + "/20160918/instances?compartmentId=x", timeout=5)
    assert err.value.code == 401


def test_bad_plot_suffix_is_refused_before_any_request(rm_emulator, tmp_path: Path) -> None:
    out_dir = tmp_path / "plots"
    out_dir.mkdir()
    code, out = run_status(rm_emulator, "--plot", str(out_dir / "egress.jpg"))
    assert code != 0 and "must end in .png or .svg" in out and "egress.png" in out
    assert rm_emulator.stats()["total"] == 0 and not list(out_dir.iterdir())


def test_last_apply_comes_from_resource_manager(rm_cli) -> None:
    """After `rm-apply` on the emulator, status names that APPLY job."""
    applied = rm_cli("rm-apply", "--auto-approve", "--json", first_run=True)
    assert applied.exit_code == 0, applied.output
    em = rm_cli.emulator
    seeded(em, cpu=30, memory=40, gb_per_hour=1)
    code, r = status_json(em)
    la = r["last_apply"]
    assert code == 0 and la["state"] == "SUCCEEDED" and la["job_id"].startswith("ocid1.ormjob")
    assert la["job_id"] in json.dumps(json.loads(applied.output))
    assert "GET /20160918/instances/{instanceId}" in em.stats()["requests"]
