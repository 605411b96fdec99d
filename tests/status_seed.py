"""Metric series for `flowstack status` tests, seeded into the emulator (POST /_emulator/metrics).

Every series ends at the test's "now" and starts 8 days earlier (or at the month start, if
that is earlier), one raw datapoint per ``step`` seconds, so the 7-day and month-to-date
queries status sends both find data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

NAME = "flowspace-server"


def _start(now: dt.datetime) -> dt.datetime:
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return min(month, (now - dt.timedelta(days=8)).replace(minute=0, second=0, microsecond=0))


def seed(now: dt.datetime, *, cpu: float, memory: float, gb_per_hour: float, state: str = "RUNNING",
         public_ip: str = "146.56.10.20", compartment: str | None = None, metrics_until: dt.datetime | None = None) -> dict[str, Any]:
    """A spec with one instance and CPU/memory (per minute, with a daily swing) and egress (per hour)."""
    start = _start(now)
    until = metrics_until or now
    minutes = int((until - start).total_seconds() // 60)
    hours = int((until - start).total_seconds() // 3600) + 1
    # A swing: the 95th percentile sits above the mean, as real load does.
    cpu_values = [round(cpu * (1.3 if (k // 60) % 24 in (9, 10, 11, 20) else 0.9), 3) for k in range(minutes)]
    mem_values = [memory] * minutes
    instance: dict[str, Any] = {"displayName": NAME, "lifecycleState": state, "shape": "VM.Standard.A1.Flex",
                                "ocpus": 2, "memoryInGBs": 12, "publicIp": public_ip}
    if compartment:
        instance["compartmentId"] = compartment
    stamp = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "instances": [instance],
        "series": [
            {"namespace": "oci_computeagent", "name": "CpuUtilization", "instance": NAME, "start": stamp, "step_seconds": 60, "values": cpu_values},
            {"namespace": "oci_computeagent", "name": "MemoryUtilization", "instance": NAME, "start": stamp, "step_seconds": 60, "values": mem_values},
            {"namespace": "oci_vcn", "name": "VnicToNetworkBytes", "instance": NAME, "start": stamp, "step_seconds": 3600,
             "values": [gb_per_hour * 1e9] * hours},
        ],
    }
