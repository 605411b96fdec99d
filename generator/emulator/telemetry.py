"""What the emulator's Compute and Monitoring APIs answer from: instances and metric series a test seeds.

A telemetry spec is a JSON/YAML mapping (``flowstack emulator --metrics FILE``, or
``POST /_emulator/metrics`` with the same body)::

    instances:
      - displayName: flowspace-server      # required; ListInstances filters on it
        lifecycleState: RUNNING            # RUNNING, STOPPED, STOPPING, STARTING, TERMINATED, ...
        shape: VM.Standard.A1.Flex
        ocpus: 2
        memoryInGBs: 12
        publicIp: 146.56.10.20             # on the primary VNIC (null: none)
        compartmentId: ocid1.tenancy...    # optional: omitted, the instance is in every compartment
    series:
      - namespace: oci_computeagent        # oci_computeagent (instance OCID) or oci_vcn (VNIC OCID)
        name: CpuUtilization
        instance: flowspace-server         # the resourceId is this instance's (or its VNIC's) OCID
        start: "2026-11-24T00:00:00Z"      # time of values[0]
        step_seconds: 3600                 # one raw datapoint per step
        values: [3.2, 4.1, ...]

Instance and VNIC OCIDs are derived from the display name, so a restart or a re-seed
keeps them.  `describe` returns the spec with every OCID filled in, for tests.

>>> t = Telemetry({"instances": [{"displayName": "a"}]}); t.instances[0]["lifecycleState"]
'RUNNING'
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from .errors import FaultsError

LIFECYCLE_STATES = ("PROVISIONING", "RUNNING", "STARTING", "STOPPING", "STOPPED", "CREATING_IMAGE", "TERMINATING", "TERMINATED", "MOVING")
NAMESPACES = ("oci_computeagent", "oci_vcn")
_INSTANCE_KEYS = {"displayName", "lifecycleState", "shape", "ocpus", "memoryInGBs", "publicIp", "privateIp", "compartmentId", "region",
                  "availabilityDomain", "timeCreated"}
_SERIES_KEYS = {"namespace", "name", "instance", "resourceId", "start", "step_seconds", "values"}
REGION = "ap-chuncheon-1"


def _ocid(kind: str, region: str, seed: str) -> str:
    return f"ocid1.{kind}.oc1.{region}.amaaaaaa{hashlib.sha256(f'{kind}|{seed}'.encode()).hexdigest()[:60]}"


def rfc3339(epoch: float) -> str:
    """OCI's time format: ``2026-12-01T10:00:00.000Z``."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"


def parse_time(value: Any, where: str) -> float:
    """Epoch seconds of an RFC 3339 string (or a YAML datetime); `FaultsError` names ``where``."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise FaultsError("metrics", "not an RFC 3339 time", field=where, value=value, expected='e.g. "2026-11-24T00:00:00Z"') from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _instance(raw: Any, i: int) -> dict[str, Any]:
    where = f"instances[{i}]"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("displayName"), str) or not raw["displayName"]:
        raise FaultsError("metrics", "each instance needs a displayName", field=where, value=raw)
    unknown = sorted(set(raw) - _INSTANCE_KEYS)
    if unknown:
        raise FaultsError("metrics", "unknown key", field=f"{where}.{unknown[0]}", expected=", ".join(sorted(_INSTANCE_KEYS)))
    state = raw.get("lifecycleState", "RUNNING")
    if state not in LIFECYCLE_STATES:
        raise FaultsError("metrics", "unknown lifecycleState", field=f"{where}.lifecycleState", value=state, expected=", ".join(LIFECYCLE_STATES))
    name, region = raw["displayName"], raw.get("region", REGION)
    return {
        "displayName": name, "lifecycleState": state, "shape": raw.get("shape", "VM.Standard.A1.Flex"),
        "ocpus": float(raw.get("ocpus", 2)), "memoryInGBs": float(raw.get("memoryInGBs", 12)),
        "publicIp": raw.get("publicIp", "146.56.10.20"), "privateIp": raw.get("privateIp", "10.0.0.2"),
        "compartmentId": raw.get("compartmentId"), "region": region,
        "availabilityDomain": raw.get("availabilityDomain", f"Emul:{region.upper()}-AD-1"),
        "timeCreated": rfc3339(parse_time(raw.get("timeCreated", "2026-11-01T00:00:00Z"), f"{where}.timeCreated")),
        "id": _ocid("instance", region, name), "vnicId": _ocid("vnic", region, name),
        "vnicAttachmentId": _ocid("vnicattachment", region, name),
    }


instance_record = _instance  # public name: the emulator's applied instances (applied.py) use the same record


class Series:
    """One metric stream: sorted (epoch seconds, value) raw datapoints for one resource."""

    def __init__(self, namespace: str, name: str, resource_id: str, points: list[tuple[float, float]]) -> None:
        self.namespace, self.name, self.resource_id = namespace, name, resource_id
        self.times = [t for t, _ in points]
        self.values = [v for _, v in points]

    def window(self, start: float, end: float) -> list[float]:
        """Raw values with ``start <= time < end``."""
        return self.values[bisect.bisect_left(self.times, start):bisect.bisect_left(self.times, end)]


def _series(raw: Any, i: int, instances: dict[str, dict[str, Any]]) -> Series:
    where = f"series[{i}]"
    if not isinstance(raw, Mapping):
        raise FaultsError("metrics", "each series is a mapping", field=where, value=raw)
    unknown = sorted(set(raw) - _SERIES_KEYS)
    if unknown:
        raise FaultsError("metrics", "unknown key", field=f"{where}.{unknown[0]}", expected=", ".join(sorted(_SERIES_KEYS)))
    namespace = raw.get("namespace")
    if namespace not in NAMESPACES:
        raise FaultsError("metrics", "unsupported namespace", field=f"{where}.namespace", value=namespace, expected=" or ".join(NAMESPACES))
    if not isinstance(raw.get("name"), str):
        raise FaultsError("metrics", "needs the metric name", field=f"{where}.name", expected="e.g. CpuUtilization")
    resource = raw.get("resourceId")
    if resource is None:
        inst = instances.get(str(raw.get("instance")))
        if inst is None:
            raise FaultsError("metrics", "names no seeded instance", field=f"{where}.instance", value=raw.get("instance"),
                              expected=" or ".join(sorted(instances)) or "an instance under instances:")
        resource = inst["vnicId"] if namespace == "oci_vcn" else inst["id"]
    step = raw.get("step_seconds", 60)
    values = raw.get("values") or []
    if not isinstance(step, (int, float)) or step <= 0 or not isinstance(values, list):
        raise FaultsError("metrics", "needs step_seconds > 0 and a list of values", field=where)
    start = parse_time(raw.get("start"), f"{where}.start")
    return Series(namespace, raw["name"], str(resource), [(start + k * float(step), float(v)) for k, v in enumerate(values)])


class Telemetry:
    """The seeded instances and series; replaced whole by `replace` (thread-safe)."""

    def __init__(self, spec: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self.instances: list[dict[str, Any]] = []
        self.series: list[Series] = []
        self.replace(spec or {})

    @classmethod
    def from_file(cls, path: str | Path) -> Telemetry:
        try:
            spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise FaultsError(str(path), f"cannot read the metrics file: {exc}") from None
        return cls(spec)

    def replace(self, spec: Any) -> None:
        if not isinstance(spec, Mapping) or set(spec) - {"instances", "series"}:
            raise FaultsError("metrics", "the spec is a mapping with instances: and series:", value=sorted(spec) if isinstance(spec, Mapping) else spec)
        instances = [_instance(raw, i) for i, raw in enumerate(spec.get("instances") or [])]
        by_name = {inst["displayName"]: inst for inst in instances}
        series = [_series(raw, i, by_name) for i, raw in enumerate(spec.get("series") or [])]
        with self._lock:
            self.instances, self.series = instances, series

    def describe(self) -> dict[str, Any]:
        """The instances with their OCIDs, and a count of datapoints per series."""
        with self._lock:
            return {"instances": [dict(i) for i in self.instances],
                    "series": [{"namespace": s.namespace, "name": s.name, "resourceId": s.resource_id, "points": len(s.times)} for s in self.series]}

    def find_series(self, namespace: str, name: str, dimensions: Mapping[str, str]) -> list[Series]:
        """Series of ``namespace``/``name`` whose resourceId matches the query's (any, if not given)."""
        wanted = dimensions.get("resourceId")
        with self._lock:
            return [s for s in self.series if s.namespace == namespace and s.name == name and wanted in (None, s.resource_id)]
