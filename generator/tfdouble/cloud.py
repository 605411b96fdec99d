"""The fake cloud behind the double: deterministic values, data-source answers, faults.

Nothing here is random (except ``random_password``'s secret, which must be): an OCID is a
hash of the resource type and its planned configuration, so applying the same stack twice
gives the same OCIDs, public IP and timestamps.

Faults come from a JSON file named by ``FLOWSTACK_TFDOUBLE_FAULTS`` (read when the provider
starts, i.e. for each Terraform command)::

    {"out_of_host_capacity": ["AD-1", "AD-2"],      # AD names or their "AD-n" suffixes
     "replace_instances": ["flowspace-server"]}     # instance display names or OCIDs

Example::

    >>> ocid("oci_core_vcn", {"display_name": "x"}, "eu-frankfurt-1")[:24]
    'ocid1.vcn.oc1.eu-frankfu'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schema import DATA_DIR

FAULTS_ENV = "FLOWSTACK_TFDOUBLE_FAULTS"

_OCID_KIND = {
    "oci_core_vcn": "vcn",
    "oci_core_subnet": "subnet",
    "oci_core_internet_gateway": "internetgateway",
    "oci_core_route_table": "routetable",
    "oci_core_security_list": "securitylist",
    "oci_core_network_security_group": "networksecuritygroup",
    "oci_core_network_security_group_security_rule": "networksecuritygroupsecurityrule",
    "oci_core_instance": "instance",
    "oci_core_public_ip": "publicip",
    "oci_core_private_ip": "privateip",
    "oci_budget_budget": "budget",
    "oci_budget_alert_rule": "alertrule",
    "oci_ons_notification_topic": "onstopic",
    "oci_ons_subscription": "onssubscription",
    "oci_monitoring_alarm": "alarm",
}

# A fixed epoch: fake creation times are this plus a hash-derived offset (deterministic).
_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

# Shown by Terraform exactly as the real provider shows an OCI service error (summary lines
# from oci-go-sdk's ServiceError plus the provider's hints).
CAPACITY_ERROR = (
    "500-InternalError, Out of host capacity.\n"
    "Suggestion: The service for this resource encountered an error. Please contact support for help with service: Core Instance\n"
    "Documentation: https://registry.terraform.io/providers/oracle/oci/latest/docs/resources/core_instance\n"
    "API Reference: https://docs.oracle.com/iaas/api/#/en/iaas/20160918/Instance/LaunchInstance\n"
    "Request Target: POST https://iaas.{region}.oraclecloud.com/20160918/instances\n"
    "Provider version: 7.19.0 (flowstack offline double)\n"
    "Service: Core Instance\n"
    "Operation Name: LaunchInstance\n"
    "OPC request ID: {request_id}"
)


def digest(*parts: Any) -> str:
    """A stable hex digest of JSON-able parts.

    Example::

        >>> digest("a", 1) == digest("a", 1) != digest("a", 2)
        True
    """
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def ocid(tf_type: str, seed: Any, region: str) -> str:
    """A well-formed, deterministic OCID for a resource of ``tf_type``.

    Example::

        >>> ocid("oci_core_instance", {"a": 1}, "ap-chuncheon-1").startswith("ocid1.instance.oc1.ap-chuncheon-1.")
        True
    """
    kind = _OCID_KIND.get(tf_type, tf_type.removeprefix("oci_").replace("_", ""))
    return f"ocid1.{kind}.oc1.{region}.aaaaaaaa{digest(tf_type, seed)[:52]}"


def timestamp(seed: Any) -> str:
    """A deterministic creation time, in the provider's format (Go's time.String()).

    Example::

        >>> timestamp("x").endswith(" +0000 UTC") and timestamp("x") == timestamp("x")
        True
    """
    t = _EPOCH + dt.timedelta(seconds=int(digest(seed)[:8], 16) % (300 * 86400))
    return t.strftime("%Y-%m-%d %H:%M:%S.000 +0000 UTC")


def public_ip(seed: Any) -> str:
    """An address from TEST-NET-3 (203.0.113.0/24, RFC 5737), never a real host.

    Example::

        >>> public_ip("vnic").startswith("203.0.113.")
        True
    """
    return f"203.0.113.{int(digest(seed)[:4], 16) % 254 + 1}"


@dataclass
class Faults:
    """What the double is told to get wrong."""

    out_of_host_capacity: list[str] = field(default_factory=list)
    replace_instances: list[str] = field(default_factory=list)

    def capacity_fails(self, availability_domain: str) -> bool:
        return any(availability_domain == ad or availability_domain.endswith(ad) for ad in self.out_of_host_capacity)

    def must_replace(self, instance: dict[str, Any]) -> bool:
        return any(x in (instance.get("display_name"), instance.get("id")) for x in self.replace_instances)


def load_faults(env: dict[str, str] | None = None) -> Faults:
    """The faults named by ``FLOWSTACK_TFDOUBLE_FAULTS`` (none when unset).

    Example::

        >>> load_faults({}).out_of_host_capacity
        []
    """
    path = (os.environ if env is None else env).get(FAULTS_ENV)
    if not path:
        return Faults()
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    unknown = set(doc) - {"out_of_host_capacity", "replace_instances"}
    if unknown:
        raise ValueError(f"{path}: unknown fault keys {sorted(unknown)}; known: out_of_host_capacity, replace_instances")
    return Faults(list(doc.get("out_of_host_capacity", [])), list(doc.get("replace_instances", [])))


def catalogue() -> dict[str, Any]:
    """The fake tenancy's listing (``data/cloud.json``)."""
    return json.loads((DATA_DIR / "cloud.json").read_text(encoding="utf-8"))


def availability_domains(region: str, compartment_id: str) -> list[dict[str, Any]]:
    """The region's availability domains, named as OCI names them (``Xxxx:EU-FRANKFURT-1-AD-1``).

    Example::

        >>> [a["name"] for a in availability_domains("ap-chuncheon-1", "ocid1.tenancy.oc1..x")]
        ['Uocm:AP-CHUNCHEON-1-AD-1']
    """
    cat = catalogue()
    count = cat["ad_count"].get(region, cat["ad_count"]["default"])
    return [
        {
            "compartment_id": compartment_id,
            "id": f"ocid1.availabilitydomain.oc1..aaaaaaaa{digest(region, n)[:52]}",
            "name": f"{cat['availability_domain_prefix']}:{region.upper()}-AD-{n}",
        }
        for n in range(1, count + 1)
    ]


def images(region: str, compartment_id: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Platform images answering an ``oci_core_images`` query (before its ``filter`` blocks).

    ``operating_system``, ``operating_system_version`` and ``shape`` narrow the list as the
    ListImages API does; ``sort_by``/``sort_order`` order it.
    """
    cat = catalogue()
    arch = cat["shape_arch"].get(query.get("shape") or "")
    found = []
    for img in cat["images"]:
        if query.get("operating_system") not in (None, img["operating_system"]):
            continue
        if query.get("operating_system_version") not in (None, img["operating_system_version"]):
            continue
        if query.get("shape") and img["arch"] != arch:
            continue
        found.append({
            "id": f"ocid1.image.oc1.{region}.aaaaaaaa{digest(img['display_name'])[:52]}",
            "compartment_id": None,
            "display_name": img["display_name"],
            "operating_system": img["operating_system"],
            "operating_system_version": img["operating_system_version"],
            "time_created": img["time_created"],
            "state": "AVAILABLE",
            "launch_mode": "PARAVIRTUALIZED",
            "size_in_mbs": "47694",
            "billable_size_in_gbs": "3",
            "create_image_allowed": True,
            "listing_type": "NONE",
            "lifecycle_state": "AVAILABLE",
        })
    key = "display_name" if (query.get("sort_by") or "TIMECREATED") == "DISPLAYNAME" else "time_created"
    found.sort(key=lambda i: i[key], reverse=(query.get("sort_order") or "DESC") == "DESC")
    return found


def apply_filters(items: list[dict[str, Any]], filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The provider's client-side ``filter`` blocks: every filter must match (values OR-ed).

    As in the provider, ``regex = true`` makes each value a regular expression searched in
    the item's field; otherwise values are compared as strings.

    Example::

        >>> apply_filters([{"n": "ab"}, {"n": "b"}], [{"name": "n", "values": ["^a"], "regex": True}])
        [{'n': 'ab'}]
    """
    out = items
    for f in filters or []:
        def match(item: dict[str, Any], f: dict[str, Any] = f) -> bool:
            v = item.get(f["name"])
            text = json.dumps(v) if isinstance(v, bool) else ("" if v is None else str(v))
            if f.get("regex"):
                return any(re.search(p, text) for p in f["values"])
            return text in f["values"]
        out = [i for i in out if match(i)]
    return out
