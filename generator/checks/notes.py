"""Check 8: what the stack leaves to deploy time or does not prove, said out loud (never a failure).

- A traffic alarm posting to a chat webhook uses OCI Notifications' SLACK protocol. Slack's
  incoming webhooks are what it documents; a Discord webhook at its ``/slack`` URL takes
  Slack-format messages, but whether OCI's confirmation and alarm posts work against it is
  untested here: unverified.
- A variable with no default that is not a secret or filled in by Resource Manager is a
  question the form (or ``rm-apply --var``) must answer, e.g. ``socket_git_url`` when the
  config keeps the example repository.
- A pinned ssh host key of the deploy-key route (``data/git_host_keys.yaml``) marked unverified.
- A reserved public IP whose price ``data/prices.yaml`` does not know (or has not verified):
  the stack asks OCI for something whose cost is unverified.

>>> check_notes(Stack({})).status  # doctest: +SKIP
'pass'
"""

from __future__ import annotations

from generator.core.gitssh import host_keys, unverified_hosts
from generator.core.prices import price_book

from .report import PASS, WARN, CheckResult
from .stack import Stack

SLACK_UNVERIFIED = (
    "traffic alarm webhook: OCI Notifications sends Slack-format messages (protocol SLACK); a Discord "
    "webhook with /slack appended accepts that format, but OCI -> Discord is untested: unverified"
)


def check_notes(stack: Stack) -> CheckResult:
    notes: list[str] = []
    for _f, _type, _name, body in stack.all_blocks("resource"):
        if str(body.get("protocol", "")).strip('"${}') == "SLACK":
            notes.append(SLACK_UNVERIFIED)
    git_url = stack.variables().get("socket_git_url")
    if git_url is not None and "default" not in git_url:
        notes.append("socket_git_url has no default (the config gives no app repository, or only the example): "
                     "the console form requires it, and rm-apply needs --var socket_git_url=https://...")
    if "socket_git_ssh_key" in stack.variables():  # the deploy-key route pins the public hosts' keys (data/git_host_keys.yaml)
        notes += [f"pinned ssh host key of {host} (generator/data/git_host_keys.yaml, checked {host_keys()['checked']}): unverified; "
                  "compare its fingerprint with the host's published one before deploying" for host in unverified_hosts()]
    reserved = [n for _f, t, n, body in stack.all_blocks("resource")
                if t == "oci_core_public_ip" and str(body.get("lifetime", "")).strip('"') == "RESERVED"]
    price = price_book().reserved_ip
    if reserved and (price.usd is None or not price.verified):
        known = "no price known" if price.usd is None else f"${price.usd}/{price.unit}, not verified"
        notes.append(f"reserved public IP (oci_core_public_ip.{reserved[0]}): {known} as of {price.as_of.isoformat()} "
                     "(generator/data/prices.yaml; `flowstack cost` shows it): unverified; network.reserved_ip: false "
                     "keeps an ephemeral IP instead")
    if notes:
        return CheckResult("deploy notes", WARN, f"{len(notes)} thing(s) to know before deploying", notes)
    return CheckResult("deploy notes", PASS, "nothing left unverified or unanswered")
