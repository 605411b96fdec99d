"""The config's network sections: the VCN and subnet, who may reach SSH, the public address,
and extra ports the user opens.

Example: ``Network().reserved_ip`` -> ``True``; ``ExtraPort(protocol="tcp", port=8443, reason="admin UI").port_end`` -> ``None``.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from generator.config.base import Model as _Model
from generator.config.base import Port
from generator.core.contract import SSH_MIN_PREFIX


class Network(_Model):
    vcn_cidr: ipaddress.IPv4Network = Field(
        ipaddress.IPv4Network("10.0.0.0/16"), description="Address range of the VCN (CIDR)."
    )
    subnet_cidr: ipaddress.IPv4Network = Field(
        ipaddress.IPv4Network("10.0.1.0/24"), description="Address range of the public subnet, inside vcn_cidr."
    )
    ssh_source_cidr: ipaddress.IPv4Network | None = Field(
        None,
        description="Default for the deploy-time ssh_source_cidr variable (who may reach port 22). "
        "Leave empty to make it a required answer at deploy time; 0.0.0.0/0 is refused.",
    )
    reserved_ip: bool = Field(
        True,
        description="Give the server a reserved public IP, kept when the instance is replaced (DNS is set once; "
        "destroying the stack releases it). false: an ephemeral IP, which changes with every new instance. "
        "`flowstack cost` shows its price and whether that is verified.",
    )

    @model_validator(mode="after")
    def _subnet_inside(self) -> Network:
        if not self.subnet_cidr.subnet_of(self.vcn_cidr):
            raise ValueError(f"subnet_cidr {self.subnet_cidr} is not inside vcn_cidr {self.vcn_cidr}")
        if self.ssh_source_cidr is not None and self.ssh_source_cidr.prefixlen < SSH_MIN_PREFIX:
            raise ValueError(f"ssh_source_cidr {self.ssh_source_cidr} opens SSH to (nearly) the whole internet; give your own "
                             f"address, e.g. 203.0.113.7/32 (at widest a /{SSH_MIN_PREFIX})")
        return self


class ExtraPort(_Model):
    protocol: Literal["tcp", "udp"] = Field(description="tcp or udp.")
    port: Port = Field(description="First port.")
    port_end: Port | None = Field(None, description="Last port of a range (default: same as port).")
    source: ipaddress.IPv4Network = Field(ipaddress.IPv4Network("0.0.0.0/0"), description="Who may connect (CIDR).")
    reason: str = Field(min_length=3, description="Why this port is open: required, shown in `flowstack ports`.")

    @field_validator("reason")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v or "\r" in v:
            raise ValueError("must be a single line")
        return v

    @model_validator(mode="after")
    def _range(self) -> ExtraPort:
        if self.port_end is not None:
            if self.port_end < self.port:
                raise ValueError("port_end is below port")
        return self
