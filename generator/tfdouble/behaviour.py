"""What each resource and data source of the double does: plan, apply, read, refresh.

The generic rules live in ``values``; this module adds what the real providers do for the
types flowstack uses (OCIDs and lifecycle states, an instance's public IP, the images and
availability domains of the fake tenancy, ``random_password``'s defaults and secret) and
the faults of ``cloud.Faults``.

Example::

    >>> from .schema import load_schemas
    >>> cloud = Cloud(load_schemas()["oci"], "eu-frankfurt-1", Faults())
    >>> [a["name"][-4:] for a in cloud.read_data("oci_identity_availability_domains",
    ...      {"compartment_id": "ocid1.tenancy.oc1..t", "filter": []})["availability_domains"]]
    ['AD-1', 'AD-2', 'AD-3']
"""

from __future__ import annotations

import secrets
import string
from typing import Any

import bcrypt

from . import cloud as fake
from .cloud import Faults
from .schema import ProviderSchema
from .values import (
    UNKNOWN,
    apply_values,
    conform,
    plan_create,
    plan_update,
    value_at,
    zero,
)

_STATE = {
    "oci_core_instance": "RUNNING",
    "oci_core_vcn": "AVAILABLE",
    "oci_core_subnet": "AVAILABLE",
    "oci_core_internet_gateway": "AVAILABLE",
    "oci_core_route_table": "AVAILABLE",
    "oci_core_security_list": "AVAILABLE",
    "oci_core_network_security_group": "AVAILABLE",
}


class ProviderError(Exception):
    """An error the real provider would report for an operation (shown by Terraform)."""


class Cloud:
    """One provider process's view of the fake cloud."""

    def __init__(self, schema: ProviderSchema, region: str, faults: Faults) -> None:
        self.schema = schema
        self.region = region
        self.faults = faults

    # ---------- planning ----------
    def plan(self, tf_type: str, prior: dict[str, Any] | None, proposed: dict[str, Any]) -> tuple[dict[str, Any], list[list[Any]]]:
        """(planned state, requires-replace paths) for a create (``prior`` None) or update."""
        block = self.schema.resources[tf_type]["block"]
        if prior is None:
            planned = plan_create(block, proposed)
            if tf_type == "random_password":
                planned = _password_defaults(planned)
            return planned, []
        planned = plan_update(block, prior, proposed)
        return planned, self._requires_replace(tf_type, prior, planned)

    def _requires_replace(self, tf_type: str, prior: dict[str, Any], planned: dict[str, Any]) -> list[list[Any]]:
        paths = []
        for dotted in self.schema.force_new.get(tf_type, []):
            if value_at(prior, dotted) == value_at(planned, dotted):
                continue
            head, _, key = dotted.partition(".")
            # A map key (metadata.user_data): only that key's change replaces, as the OCI
            # provider's CustomizeDiff does (ForceNewIfChange("metadata") comparing user_data and
            # ssh_authorized_keys only); other metadata keys update in place.
            if key and isinstance(prior.get(head), dict) and head in self.schema.resources[tf_type]["block"].get("attributes", {}):
                paths.append([head, (key,)])
            else:
                paths.append([head])
        return paths

    # ---------- apply ----------
    def create(self, tf_type: str, planned: dict[str, Any]) -> dict[str, Any]:
        if tf_type == "oci_core_instance" and self.faults.capacity_fails(planned.get("availability_domain") or ""):
            raise ProviderError(fake.CAPACITY_ERROR.format(
                region=self.region, request_id=fake.digest("opc", planned).upper()[:32]))
        return self._fill(tf_type, planned)

    def update(self, tf_type: str, planned: dict[str, Any]) -> dict[str, Any]:
        return self._fill(tf_type, planned)

    def _fill(self, tf_type: str, planned: dict[str, Any]) -> dict[str, Any]:
        block = self.schema.resources[tf_type]["block"]
        known = {k: v for k, v in planned.items() if v is not UNKNOWN}
        rid = planned["id"] if isinstance(planned.get("id"), str) else fake.ocid(tf_type, known, self.region)
        if tf_type == "random_password":
            return _password_apply(planned)
        specific = self._specific(tf_type, planned, rid)

        def fill(path: list[str], ty: Any) -> Any:
            name = path[-1]
            if len(path) == 1 and name in specific:
                return specific[name]
            if name.startswith("time_") and ty == "string":
                return fake.timestamp((rid, name))
            # Anything else the configuration left unset stays empty, as the provider stores
            # an unset optional string (no made-up VLANs, clusters or hosts).
            return zero(ty)

        return apply_values(block, planned, fill)

    def _specific(self, tf_type: str, planned: dict[str, Any], rid: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": rid, "state": _STATE.get(tf_type, "ACTIVE"), "region": self.region}
        if tf_type == "oci_core_vcn":
            cidrs = planned.get("cidr_blocks") or []
            label = planned.get("dns_label") or "vcn"
            out |= {"cidr_block": cidrs[0] if cidrs else "10.0.0.0/16", "vcn_domain_name": f"{label}.oraclevcn.com",
                    "default_route_table_id": fake.ocid("oci_core_route_table", (rid, "default"), self.region),
                    "default_security_list_id": fake.ocid("oci_core_security_list", (rid, "default"), self.region),
                    "default_dhcp_options_id": fake.ocid("dhcpoptions", (rid, "default"), self.region)}
        elif tf_type == "oci_core_subnet":
            # A subnet without its own DHCP options gets the VCN's default ones (same OCID as
            # the VCN's default_dhcp_options_id).
            out |= {"subnet_domain_name": f"{planned.get('dns_label') or 'subnet'}.vcn.oraclevcn.com",
                    "dhcp_options_id": fake.ocid("dhcpoptions", (planned.get("vcn_id"), "default"), self.region),
                    "virtual_router_ip": _first_host(planned.get("cidr_block"))}
        elif tf_type == "oci_core_instance":
            vnic = vnic_id(rid, self.region)
            out |= {"public_ip": fake.public_ip(vnic), "private_ip": _first_host("10.0.1.0/24", 1 + int(fake.digest(vnic)[:2], 16) % 200),
                    "boot_volume_id": fake.ocid("bootvolume", rid, self.region), "image": (value_at(planned, "source_details.source_id") or [None])[0],
                    "launch_mode": "PARAVIRTUALIZED", "fault_domain": "FAULT-DOMAIN-1"}
        elif tf_type == "oci_ons_notification_topic":
            out |= {"api_endpoint": f"https://cell1.notification.{self.region}.oci.oraclecloud.com",
                    "topic_id": rid, "short_topic_id": fake.digest(rid)[:10], "etag": fake.digest(rid, "etag")[:32]}
        return out

    # ---------- refresh ----------
    def read(self, tf_type: str, current: dict[str, Any]) -> dict[str, Any]:
        """The refreshed state; an instance told to need replacement has moved AD (drift)."""
        if tf_type == "oci_core_instance" and self.faults.must_replace(current):
            ads = [a["name"] for a in fake.availability_domains(self.region, current.get("compartment_id") or "")]
            here = current.get("availability_domain")
            others = [a for a in ads if a != here]
            return {**current, "availability_domain": others[0] if others else f"{here}-RETIRED"}
        return current

    # ---------- data sources ----------
    def read_data(self, tf_type: str, config: dict[str, Any]) -> dict[str, Any]:
        block = self.schema.data_sources[tf_type]["block"]
        attrs = block.get("attributes", {})
        answer = self._answer(tf_type, config)
        out = dict(config)
        for name, attr in attrs.items():
            if name in answer:
                out[name] = conform(attr["type"], answer[name])
            elif attr.get("computed") and out.get(name) is None:
                out[name] = zero(attr["type"])
        out["id"] = out.get("id") or f"{tf_type}-{fake.digest(config)[:12]}"
        return out

    def _answer(self, tf_type: str, config: dict[str, Any]) -> dict[str, Any]:
        filters = config.get("filter") or []
        if tf_type == "oci_identity_availability_domains":
            ads = fake.availability_domains(self.region, config.get("compartment_id") or "")
            return {"availability_domains": fake.apply_filters(ads, filters)}
        if tf_type == "oci_core_images":
            found = fake.images(self.region, config.get("compartment_id") or "", config)
            return {"images": fake.apply_filters(found, filters)}
        if tf_type == "oci_core_vnic_attachments":
            iid = config.get("instance_id") or ""
            att = {"id": fake.ocid("vnicattachment", iid, self.region), "instance_id": iid,
                   "vnic_id": vnic_id(iid, self.region), "compartment_id": config.get("compartment_id"),
                   "availability_domain": config.get("availability_domain"), "state": "ATTACHED",
                   "display_name": "primary", "nic_index": 0, "time_created": fake.timestamp(iid)}
            return {"vnic_attachments": fake.apply_filters([att], filters)}
        if tf_type == "oci_core_vnic":
            vid = config.get("vnic_id") or ""
            return {"public_ip_address": fake.public_ip(vid), "private_ip_address": "10.0.1.2", "is_primary": True,
                    "state": "AVAILABLE", "hostname_label": "server", "mac_address": "02:00:17:00:00:01"}
        if tf_type == "oci_identity_compartment":
            return {"name": "flowstack", "description": "fake compartment (flowstack offline double)", "state": "ACTIVE"}
        return {}


def vnic_id(instance_id: str, region: str) -> str:
    """The primary VNIC of an instance (the same in the instance's state and in data sources)."""
    return fake.ocid("vnic", instance_id, region)


def _first_host(cidr: str | None, n: int = 1) -> str:
    base = (cidr or "10.0.0.0/24").split("/")[0].rsplit(".", 1)[0]
    return f"{base}.{n}"


# random_password (hashicorp/random 3.7.2, internal/provider/resource_password.go): the
# framework provider sets these defaults at plan time.
_PASSWORD_DEFAULTS = {"lower": True, "upper": True, "numeric": True, "number": True, "special": True,
                      "min_lower": 0, "min_upper": 0, "min_numeric": 0, "min_special": 0}
_DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"


def _password_defaults(planned: dict[str, Any]) -> dict[str, Any]:
    out = dict(planned)
    for k, v in _PASSWORD_DEFAULTS.items():
        if k in out and out[k] is UNKNOWN:
            out[k] = v
    return out


def _password_apply(planned: dict[str, Any]) -> dict[str, Any]:
    """A real secret from ``secrets``, honouring the character classes and minimums."""
    special = planned.get("override_special") or _DEFAULT_SPECIAL
    classes = [(string.ascii_lowercase, "lower", "min_lower"), (string.ascii_uppercase, "upper", "min_upper"),
               (string.digits, "numeric", "min_numeric"), (special, "special", "min_special")]
    chars: list[str] = []
    pool = ""
    for alphabet, flag, minimum in classes:
        if planned.get(flag):
            pool += alphabet
        chars += [secrets.choice(alphabet) for _ in range(int(planned.get(minimum) or 0))]
    length = int(planned["length"])
    chars += [secrets.choice(pool) for _ in range(max(0, length - len(chars)))]
    secrets.SystemRandom().shuffle(chars)
    result = "".join(chars)
    hashed = bcrypt.hashpw(result.encode()[:72], bcrypt.gensalt(rounds=10)).decode()
    out = {k: v for k, v in planned.items()}
    out |= {"result": result, "bcrypt_hash": hashed, "id": "none"}
    return out
