"""Compute (20160918) and Monitoring (20180401) beside Resource Manager, for `flowstack status`.

``CloudEmulator`` is the Resource Manager emulator plus these routes, answered from a
`telemetry.Telemetry` the test seeds (``--metrics FILE`` or ``POST /_emulator/metrics``).
Requests are signature-checked and fault-injectable (``status_429``/``status_500`` with a
``path_prefix`` such as ``/20180401``) exactly like the RM routes; field names are the
camelCase names of ``oci.core.models`` and ``oci.monitoring.models``.

Routes::

    GET  /20160918/instances?compartmentId=&displayName=&lifecycleState=   ListInstances
    GET  /20160918/instances/{instanceId}                                  GetInstance
    GET  /20160918/vnicAttachments?compartmentId=&instanceId=              ListVnicAttachments
    GET  /20160918/vnics/{vnicId}                                          GetVnic
    POST /20180401/metrics/actions/summarizeMetricsData?compartmentId=      SummarizeMetricsData

>>> match("GET", "/20160918/vnics/ocid1.vnic.x")
('get_vnic', {'vnicId': 'ocid1.vnic.x'}, '/20160918/vnics/{vnicId}')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import mql
from .applied import applied_instances
from .auth import AuthError, KeyRing, verify_request
from .errors import EmulatorError
from .faults import FaultSpec
from .limits import admin_request_problem, is_loopback, parse_json
from .server import NOT_AUTHENTICATED, EmulatorServer, Request, Response, error_response, json_response, stderr_log
from .state import ApiError, EmulatorState, parse_time_us
from .telemetry import Telemetry, rfc3339

PREFIXES = ("/20160918/", "/20180401/")
_ROUTES = [
    ("GET", "/20160918/instances", "list_instances"),
    ("GET", "/20160918/instances/{instanceId}", "get_instance"),
    ("GET", "/20160918/vnicAttachments", "list_vnic_attachments"),
    ("GET", "/20160918/vnics/{vnicId}", "get_vnic"),
    ("POST", "/20180401/metrics/actions/summarizeMetricsData", "summarize_metrics_data"),
]
_COMPILED = [(method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), template, name)
             for method, template, name in _ROUTES]
MAX_DATAPOINTS = 100_000  # OCI's documented cap per SummarizeMetricsData answer (SDK docstring)


def match(method: str, path: str) -> tuple[str | None, dict[str, str], str]:
    """(handler name, path params, path template); (None, {}, path) if no route has this method and path."""
    for route_method, pattern, template, name in _COMPILED:
        found = pattern.match(path)
        if found and route_method == method:
            return name, {k: unquote(v) for k, v in found.groupdict().items()}, template
    return None, {}, path


def _instance_view(inst: dict[str, Any], compartment: str | None) -> dict[str, Any]:
    return {
        "id": inst["id"], "displayName": inst["displayName"], "compartmentId": inst["compartmentId"] or compartment,
        "availabilityDomain": inst["availabilityDomain"], "faultDomain": "FAULT-DOMAIN-1", "region": inst["region"],
        "lifecycleState": inst["lifecycleState"], "shape": inst["shape"], "timeCreated": inst["timeCreated"],
        "imageId": f"ocid1.image.oc1.{inst['region']}.emulated",
        "shapeConfig": {"ocpus": inst["ocpus"], "memoryInGBs": inst["memoryInGBs"],
                        # A1.Flex: 1 Gbps per OCPU (computeshapes page, see research notes section J).
                        "networkingBandwidthInGbps": inst["ocpus"] * 1.0, "maxVnicAttachments": max(2, int(inst["ocpus"]))},
        "metadata": {}, "freeformTags": {}, "definedTags": {},
    }


class CloudApi:
    """Handlers of the Compute and Monitoring routes, over a `Telemetry`."""

    def __init__(self, telemetry: Telemetry, applied: Callable[[], list[dict[str, Any]]] | None = None) -> None:
        self.telemetry = telemetry
        self.applied = applied

    def instances(self) -> list[dict[str, Any]]:
        """The seeded instances, then those the emulator's APPLY jobs created (a seeded name wins)."""
        seeded = list(self.telemetry.instances)
        names = {i["displayName"] for i in seeded}
        return seeded + [i for i in (self.applied() if self.applied else []) if i["displayName"] not in names]

    def _in(self, compartment: str | None) -> list[dict[str, Any]]:
        if not compartment:
            raise ApiError(400, "MissingParameter", "compartmentId is required")
        return [i for i in self.instances() if i["compartmentId"] in (None, compartment)]

    def _instance(self, instance_id: str) -> dict[str, Any]:
        for inst in self.instances():
            if inst["id"] == instance_id and inst["lifecycleState"] != "TERMINATED":
                return inst
        raise ApiError(404, "NotAuthorizedOrNotFound", f"instance {instance_id} not found or not authorized")

    def list_instances(self, request: Request) -> Response:
        found = self._in(request.arg("compartmentId"))
        for key in ("displayName", "lifecycleState", "availabilityDomain"):
            if request.arg(key):
                found = [i for i in found if i[key] == request.arg(key)]
        return json_response(200, [_instance_view(i, request.arg("compartmentId")) for i in found])

    def get_instance(self, request: Request) -> Response:
        return json_response(200, _instance_view(self._instance(request.params["instanceId"]), None), {"etag": "e1"})

    def list_vnic_attachments(self, request: Request) -> Response:
        found = self._in(request.arg("compartmentId"))
        if request.arg("instanceId"):
            found = [i for i in found if i["id"] == request.arg("instanceId")]
        return json_response(200, [{
            "id": i["vnicAttachmentId"], "instanceId": i["id"], "vnicId": i["vnicId"], "compartmentId": i["compartmentId"] or request.arg("compartmentId"),
            "availabilityDomain": i["availabilityDomain"], "displayName": "primaryvnic", "nicIndex": 0,
            "lifecycleState": "DETACHED" if i["lifecycleState"] == "TERMINATED" else "ATTACHED", "subnetId": f"ocid1.subnet.oc1.{i['region']}.emulated",
            "timeCreated": i["timeCreated"], "vlanTag": 0,
        } for i in found])

    def get_vnic(self, request: Request) -> Response:
        for i in self.instances():
            if i["vnicId"] == request.params["vnicId"]:
                return json_response(200, {
                    "id": i["vnicId"], "availabilityDomain": i["availabilityDomain"], "compartmentId": i["compartmentId"],
                    "displayName": "primaryvnic", "hostnameLabel": i["displayName"], "isPrimary": True,
                    "lifecycleState": "AVAILABLE", "macAddress": "02:00:17:00:00:01", "privateIp": i["privateIp"],
                    "publicIp": None if i["lifecycleState"] == "TERMINATED" else i["publicIp"],
                    "subnetId": f"ocid1.subnet.oc1.{i['region']}.emulated", "skipSourceDestCheck": False, "timeCreated": i["timeCreated"],
                    "nsgIds": [], "freeformTags": {}, "definedTags": {},
                }, {"etag": "e1"})
        raise ApiError(404, "NotAuthorizedOrNotFound", f"vnic {request.params['vnicId']} not found or not authorized")

    def summarize_metrics_data(self, request: Request) -> Response:
        compartment = request.arg("compartmentId")
        if not compartment:
            raise ApiError(400, "MissingParameter", "compartmentId is required")
        body = request.json()
        if not isinstance(body, dict) or not body.get("namespace") or not body.get("query"):
            raise ApiError(400, "InvalidParameter", "the body needs namespace and query (SummarizeMetricsDataDetails)")
        query = mql.parse(body["query"])
        end = parse_time_us(body["endTime"]) / 1e6 if body.get("endTime") else None
        if end is None:
            raise ApiError(400, "InvalidParameter", "the emulator needs endTime (it has no clock of its own for metrics)")
        start = parse_time_us(body["startTime"]) / 1e6 if body.get("startTime") else end - 3 * 3600
        step = mql.seconds(body.get("resolution") or "1m", "resolution")
        if step > query.interval:
            raise ApiError(400, "InvalidParameter", f"resolution {body.get('resolution')} must not exceed the query interval")
        starts = mql.windows(start, end, step)
        out = []
        for series in self.telemetry.find_series(body["namespace"], query.metric, query.dimensions):
            points = []
            for t in starts:
                values = series.window(t, t + query.interval)
                if values:
                    points.append({"timestamp": rfc3339(t), "value": mql.statistic(values, query, query.interval)})
            if len(points) > MAX_DATAPOINTS:
                raise ApiError(400, "InvalidParameter", f"the query would return {len(points)} datapoints (limit {MAX_DATAPOINTS}); use a coarser resolution")
            if points:
                out.append({"namespace": series.namespace, "resourceGroup": None, "compartmentId": compartment, "name": series.name,
                            "dimensions": {"resourceId": series.resource_id}, "metadata": {}, "resolution": body.get("resolution") or "1m",
                            "aggregatedDatapoints": points})
        return json_response(200, out)


class CloudEmulator(EmulatorServer):
    """The Resource Manager emulator answering Compute and Monitoring requests too."""

    def __init__(self, state: EmulatorState, keys: KeyRing, telemetry: Telemetry, **kwargs: Any) -> None:
        super().__init__(state, keys, **kwargs)
        self.cloud = CloudApi(telemetry, applied=lambda: applied_instances(state))

    def handle(self, method: str, target: str, headers: Any, body: bytes, client: str) -> Response:
        split = urlsplit(target)
        if split.path == "/_emulator/metrics":
            return self._metrics_admin(method, headers, body, client)
        if not split.path.startswith(PREFIXES):
            return super().handle(method, target, headers, body, client)
        name, params, template = match(method, split.path)
        request = Request(method, target, split.path, parse_qs(split.query, keep_blank_values=True), headers, body, params)
        response = self._cloud(request, name)
        self.count(f"{method} {template}", response.status)
        return response

    def _cloud(self, request: Request, name: str | None) -> Response:
        try:
            request.principal = verify_request(self.keys, request.method, request.target, request.headers, request.body)
        except AuthError as exc:
            return error_response(401, "NotAuthenticated", f"{NOT_AUTHENTICATED} ({exc.detail})")
        status = self.state.faults.take_http_fault(request.method, request.path)
        if status is not None:
            self.state.save()
            if status == 429:
                return error_response(429, "TooManyRequests", "Too many requests for the tenancy (injected by the emulator)")
            return error_response(500, "InternalServerError", "Internal server error (injected by the emulator)")
        if name is None:
            return error_response(404, "NotAuthorizedOrNotFound", f"the emulator does not implement {request.method} {request.path}")
        try:
            handler: Callable[[Request], Response] = getattr(self.cloud, name)
            return handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)

    def _metrics_admin(self, method: str, headers: Any, body: bytes, client: str) -> Response:
        if not is_loopback(client):  # the one loopback rule of the admin endpoints
            return error_response(403, "NotAllowed", "the emulator's admin endpoints answer loopback clients only")
        problem = admin_request_problem(method, headers)  # the same browser rule as /_emulator/faults
        if problem:
            return error_response(403, "NotAllowed", f"the admin endpoints refuse {problem}")
        if method == "POST":
            try:
                self.cloud.telemetry.replace(parse_json(body, "{}"))  # the one JSON size and depth limit
            except (UnicodeDecodeError, ValueError) as exc:
                return error_response(400, "InvalidParameter", str(exc))
        elif method != "GET":
            return error_response(405, "MethodNotAllowed", f"{method} is not allowed on /_emulator/metrics")
        return json_response(200, self.cloud.telemetry.describe())


def build_cloud_emulator(*, state_file: str, public_keys: list[str], metrics_file: str | None = None, host: str = "127.0.0.1",
                         port: int = 0, job_seconds: float = 3.0, faults_file: str | None = None,
                         log: Callable[[str], None] | None = stderr_log) -> CloudEmulator:
    """`server.build_emulator` plus the seeded telemetry; raises `EmulatorError`."""
    keys = KeyRing.from_sources(public_keys)
    if not len(keys):
        raise EmulatorError("the emulator needs at least one --public-key to verify requests against")
    faults = FaultSpec.from_file(faults_file) if faults_file else None
    telemetry = Telemetry.from_file(metrics_file) if metrics_file else Telemetry()
    state = EmulatorState(state_file, faults=faults, job_seconds=job_seconds)
    return CloudEmulator(state, keys, telemetry, host=host, port=port, log=log)
