"""The config's opt-in cost alerts: a budget with e-mail alerts, and the outbound-traffic alarm.

Example: ``Budget(enabled=True, recipients=["ops@example.com"]).thresholds`` -> ``[80.0, 100.0]``.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from generator.config.base import Model as _Model


class Budget(_Model):
    enabled: bool = Field(False, description="Create an OCI budget with e-mail alerts (needs tenancy-level rights).")
    amount: float = Field(1.0, gt=0, description="Monthly budget in the account's currency.")
    thresholds: list[float] = Field(default_factory=lambda: [80.0, 100.0], description="Alert at these percentages of the budget.")
    recipients: list[str] = Field(default_factory=list, description="E-mail addresses that get the alerts.")

    @field_validator("thresholds")
    @classmethod
    def _percentages(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("give at least one percentage, e.g. [80, 100]")
        for i, t in enumerate(v):
            # OCI takes at most two decimals; above 100 % the money is already spent.
            if not 0 < t <= 100 or round(t, 2) != t:
                raise ValueError(f"thresholds[{i}] = {t:g} is not a percentage of the budget above 0 and at most 100 (two decimals at most)")
        if len(set(v)) != len(v):
            raise ValueError("the same percentage is listed twice")
        return v

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, v: list[str]) -> list[str]:
        return Budget.check_emails(v, "recipients")

    @staticmethod
    def check_emails(v: list[str], what: str) -> list[str]:
        """Plain addresses (RFC 5322 dot-atoms): OCI reads a comma, semicolon or space as a separator."""
        atom = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
        label = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        for i, addr in enumerate(v):
            if len(addr) > 254 or not re.fullmatch(rf"{atom}(\.{atom})*@({label}\.)+{label}", addr):
                raise ValueError(f"{what}[{i}] = {addr!r} is not an e-mail address such as ops@example.com")
        if len({a.lower() for a in v}) != len(v):
            raise ValueError("the same e-mail address is listed twice")
        return v


class TrafficAlarm(_Model):
    enabled: bool = Field(False, description="Alarm when outbound traffic would use up the free allowance before month end.")
    emails: list[str] = Field(default_factory=list, description="E-mail subscriptions of the alarm topic.")
    slack: bool = Field(
        False,
        description="Also post to a Slack-format webhook (a Slack incoming webhook; a Discord webhook URL + /slack takes the format, but OCI -> Discord is untested: unverified). The URL is a secret: "
        "it is asked at deploy time (sensitive variable alarm_slack_url), never written in this file.",
    )

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        return Budget.check_emails(v, "emails")
