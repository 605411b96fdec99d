"""The instance and its metrics through the real `oci` SDK: Compute, Virtual Network, Monitoring.

Which instance: ``ListInstances`` in the compartment with the display name the stack gives
it (``<name>-server``, templates/main.tf.j2), newest not terminated; its public IP is the
``publicIp`` of the primary VNIC (``ListVnicAttachments`` -> ``GetVnic``).  Metrics:
``SummarizeMetricsData`` in ``oci_computeagent`` (CpuUtilization, MemoryUtilization;
resourceId = instance OCID) and ``oci_vcn`` (VnicToNetworkBytes, bytes sent from the
VNIC to the network; resourceId = VNIC OCID).  Sources: research notes section E.

>>> mql("CpuUtilization", "5m", "ocid1.instance.x", "mean()")
'CpuUtilization[5m]{resourceId = "ocid1.instance.x"}.mean()'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import oci

from generator.core.errors import FlowstackError, OciConfigError

COMPUTE_NS = "oci_computeagent"
VCN_NS = "oci_vcn"


class TelemetryError(FlowstackError):
    """An OCI API answer status could not use (exit 6)."""

    exit_code = 6


@dataclass(frozen=True)
class InstanceInfo:
    id: str
    display_name: str
    lifecycle_state: str
    shape: str
    ocpus: float | None
    memory_gbs: float | None
    bandwidth_gbps: float | None
    region: str
    public_ip: str | None
    vnic_id: str | None


def mql(metric: str, interval: str, resource_id: str, statistic: str) -> str:
    """One metric of one resource; the resourceId in double quotes, as the SDK docs require."""
    return f'{metric}[{interval}]{{resourceId = "{resource_id}"}}.{statistic}'


def _retry() -> Any:
    # Short and bounded: status is interactive, and a throttled Monitoring API must
    # become a line in the report within seconds, not a minute of silence.
    return oci.retry.RetryStrategyBuilder(
        max_attempts_check=True, max_attempts=3, total_elapsed_time_check=True, total_elapsed_time_seconds=15,
        service_error_check=True, service_error_retry_config={-1: [], 429: []}, service_error_retry_on_any_5xx=True,
        retry_base_sleep_time_seconds=0.2, retry_max_wait_between_calls_seconds=1.0,
        backoff_type=oci.retry.BACKOFF_FULL_JITTER_EQUAL_ON_THROTTLE_VALUE,
    ).get_retry_strategy()


def describe(exc: Exception) -> str:
    """One line for an SDK failure: ``429 TooManyRequests: ...``."""
    if isinstance(exc, oci.exceptions.ServiceError):
        return f"{exc.status} {exc.code}: {str(exc.message).splitlines()[0] if exc.message else ''}".strip()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class Telemetry:
    """Compute, Virtual Network and Monitoring clients for one OCI config (one endpoint for all, if given)."""

    def __init__(self, config: dict[str, Any], signer: Any, compartment: str, endpoint: str | None = None,
                 timeout: tuple[float, float] = (5.0, 20.0)) -> None:
        sdk_config = {k: v for k, v in config.items() if not k.startswith("_flowstack")}
        kw: dict[str, Any] = {"signer": signer, "retry_strategy": _retry(), "timeout": timeout,
                              "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy()}
        if endpoint:
            kw["service_endpoint"] = endpoint
        try:
            self.compute = oci.core.ComputeClient(sdk_config, **kw)
            self.network = oci.core.VirtualNetworkClient(sdk_config, **kw)
            self.monitoring = oci.monitoring.MonitoringClient(sdk_config, **kw)
        except (oci.exceptions.ClientError, ValueError) as exc:
            raise OciConfigError(f"OCI config: {describe(exc)}") from None
        self.compartment = compartment
        self.region = str(sdk_config.get("region", ""))

    def find_instance(self, display_name: str) -> InstanceInfo | None:
        """The newest instance of that name not terminated, with its public IP; None if there is none."""
        try:
            found = oci.pagination.list_call_get_all_results(self.compute.list_instances, self.compartment, display_name=display_name).data
        except oci.exceptions.ServiceError as exc:
            raise TelemetryError(f"Compute ListInstances in {self.compartment}: {describe(exc)}") from None
        alive = [i for i in found if i.lifecycle_state not in ("TERMINATED", "TERMINATING")]
        if not alive:
            return None
        newest = max(alive, key=lambda i: i.time_created or dt.datetime.min.replace(tzinfo=dt.timezone.utc))
        return self.instance(newest.id)

    def instance(self, instance_id: str) -> InstanceInfo:
        try:
            inst = self.compute.get_instance(instance_id).data
            attachments = oci.pagination.list_call_get_all_results(
                self.compute.list_vnic_attachments, inst.compartment_id or self.compartment, instance_id=instance_id).data
            vnics = [self.network.get_vnic(a.vnic_id).data for a in attachments if a.lifecycle_state == "ATTACHED"]
        except oci.exceptions.ServiceError as exc:
            raise TelemetryError(f"Compute/VNIC look-up of {instance_id}: {describe(exc)}") from None
        primary = next((v for v in vnics if v.is_primary), vnics[0] if vnics else None)
        cfg = inst.shape_config
        return InstanceInfo(
            id=inst.id, display_name=inst.display_name, lifecycle_state=inst.lifecycle_state, shape=inst.shape,
            ocpus=getattr(cfg, "ocpus", None), memory_gbs=getattr(cfg, "memory_in_gbs", None),
            bandwidth_gbps=getattr(cfg, "networking_bandwidth_in_gbps", None), region=inst.region or self.region,
            public_ip=primary.public_ip if primary else None, vnic_id=primary.id if primary else None,
        )

    def series(self, namespace: str, query: str, start: dt.datetime, end: dt.datetime, resolution: str) -> list[tuple[dt.datetime, float]]:
        """(timestamp, value) of every aggregated datapoint, oldest first; `TelemetryError` on failure."""
        details = oci.monitoring.models.SummarizeMetricsDataDetails(
            namespace=namespace, query=query, start_time=start, end_time=end, resolution=resolution)
        try:
            data = self.monitoring.summarize_metrics_data(self.compartment, details).data
        except oci.exceptions.ServiceError as exc:
            raise TelemetryError(f"Monitoring SummarizeMetricsData ({namespace}): {describe(exc)}") from None
        except (oci.exceptions.RequestException, oci.exceptions.ConnectTimeout) as exc:
            raise TelemetryError(f"Monitoring SummarizeMetricsData ({namespace}): {describe(exc)}") from None
        points = [(p.timestamp, float(p.value)) for metric in data for p in (metric.aggregated_datapoints or [])]
        return sorted(points, key=lambda p: p[0])
