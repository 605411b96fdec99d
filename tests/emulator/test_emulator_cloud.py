"""The emulator's Compute and Monitoring APIs (issue 14) through the real `oci` SDK.

Replaced: OCI itself. What is checked: OCI's field names reach the SDK's models, the MQL
subset is evaluated (windows, statistics, dimension filters) and everything else is a
400 naming what the emulator does not evaluate; signatures are required.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import oci
import pytest

# End to end: the emulator's Compute/VNIC/Monitoring APIs as a real HTTP server and the real oci SDK. The slow suite runs it (make test); make test-fast skips it.
pytestmark = pytest.mark.slow

START = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.timezone.utc)


def spec(values: list[float]) -> dict:
    return {
        "instances": [{"displayName": "web-server", "lifecycleState": "RUNNING", "ocpus": 4, "memoryInGBs": 24, "publicIp": "146.56.1.2"}],
        "series": [{"namespace": "oci_computeagent", "name": "CpuUtilization", "instance": "web-server",
                    "start": START.strftime("%Y-%m-%dT%H:%M:%SZ"), "step_seconds": 60, "values": values}],
    }


def clients(em):
    kw = {"service_endpoint": em.url, "retry_strategy": oci.retry.NoneRetryStrategy()}
    return oci.core.ComputeClient(em.config, **kw), oci.core.VirtualNetworkClient(em.config, **kw), oci.monitoring.MonitoringClient(em.config, **kw)


def summarize(mon, em, query: str, hours: float = 2, resolution: str = "1h"):
    details = oci.monitoring.models.SummarizeMetricsDataDetails(namespace="oci_computeagent", query=query, start_time=START,
                                                               end_time=START + dt.timedelta(hours=hours), resolution=resolution)
    return mon.summarize_metrics_data(em.compartment_id, details).data


def test_instance_and_vnic_lookups(rm_emulator) -> None:
    described = rm_emulator._admin("POST", "/_emulator/metrics", spec([1.0]))
    compute, network, _ = clients(rm_emulator)
    found = compute.list_instances(rm_emulator.compartment_id, display_name="web-server").data
    assert [i.display_name for i in found] == ["web-server"] and found[0].id == described["instances"][0]["id"]
    inst = compute.get_instance(found[0].id).data
    assert inst.lifecycle_state == "RUNNING" and inst.shape_config.ocpus == 4 and inst.shape_config.memory_in_gbs == 24
    attachments = compute.list_vnic_attachments(rm_emulator.compartment_id, instance_id=inst.id).data
    vnic = network.get_vnic(attachments[0].vnic_id).data
    assert vnic.is_primary and vnic.public_ip == "146.56.1.2"
    assert compute.list_instances(rm_emulator.compartment_id, display_name="other").data == []
    with pytest.raises(oci.exceptions.ServiceError) as err:
        compute.get_instance("ocid1.instance.oc1..nope")
    assert err.value.status == 404


def test_statistics_over_hour_windows(rm_emulator) -> None:
    values = [float(i % 60) for i in range(120)]  # two hours of 0..59 per minute
    rm_emulator._admin("POST", "/_emulator/metrics", spec(values))
    _, _, mon = clients(rm_emulator)
    rid = rm_emulator._admin("GET", "/_emulator/metrics")["instances"][0]["id"]
    for stat, expected in (("mean()", 29.5), ("max()", 59.0), ("min()", 0.0), ("sum()", 1770.0), ("count()", 60.0), ("percentile(0.95)", 56.0)):
        data = summarize(mon, rm_emulator, f'CpuUtilization[1h]{{resourceId = "{rid}"}}.{stat}')
        assert len(data) == 1 and data[0].name == "CpuUtilization" and data[0].dimensions == {"resourceId": rid}
        points = data[0].aggregated_datapoints
        assert [p.value for p in points] == [expected, expected], stat
        assert [p.timestamp for p in points] == [START, START + dt.timedelta(hours=1)]
    # Another resourceId: nothing (OCI answers an empty list, not an error).
    assert summarize(mon, rm_emulator, 'CpuUtilization[1h]{resourceId = "ocid1.instance.oc1..other"}.mean()') == []


@pytest.mark.parametrize(("query", "resolution", "message"), [
    ("CpuUtilization[1h].mean() + 1", "1h", "evaluates Metric[interval]"),
    ("CpuUtilization[90m].mean()", "1h", "out of range"),
    ("CpuUtilization[1h]{resourceId =~ \"x\"}.mean()", "1h", "dimension filter"),
    ("CpuUtilization[1m].mean()", "1h", "must not exceed"),
    ("CpuUtilization[1h].percentile(95)", "1h", "fraction"),
])
def test_unsupported_queries_are_a_400_that_says_why(rm_emulator, query: str, resolution: str, message: str) -> None:
    rm_emulator._admin("POST", "/_emulator/metrics", spec([1.0]))
    _, _, mon = clients(rm_emulator)
    with pytest.raises(oci.exceptions.ServiceError) as err:
        summarize(mon, rm_emulator, query, resolution=resolution)
    assert err.value.status == 400 and message in err.value.message


@pytest.mark.parametrize(("bad", "message"), [
    ({"instances": [{"displayName": "a", "lifecycleState": "ASLEEP"}]}, "unknown lifecycleState"),
    ({"series": [{"namespace": "oci_vnic", "name": "X", "resourceId": "r", "start": "2026-11-30T00:00:00Z"}]}, "unsupported namespace"),
    ({"series": [{"namespace": "oci_vcn", "name": "X", "instance": "nope", "start": "2026-11-30T00:00:00Z"}]}, "names no seeded instance"),
    ({"bogus": []}, "instances: and series:"),
])
def test_bad_seed_is_refused_and_names_the_field(rm_emulator, bad: dict, message: str) -> None:
    request = urllib.request.Request(rm_emulator.url + "/_emulator/metrics", data=json.dumps(bad).encode(), method="POST",
                                     headers={"content-type": "application/json"})  # the admin endpoints' browser rule
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert err.value.code == 400 and message in json.loads(err.value.read())["message"]
