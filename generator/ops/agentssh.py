"""`status --ssh` and `doctor --ssh`: the server's config agent, read over the user's SSH (issue 21).

The agent on the server (templates/boot/flowstack-agent.py) keeps its state in files under its
state directory: the last run (status.json), the failed attempts of a change and its next try
(attempts.json), a change waiting for its apply_at hour (pending.json), the last readiness check
with the certificates Caddy serves (ready.json). ``flowstack-agent --status-json`` prints them,
with the boot volume's disk use now, as one JSON document and changes nothing.

Nothing else carries that to the laptop: the instance metadata budget (checks/fit.py) leaves no
room for an HTTP endpoint, and SSH is already there (the config's ``ssh_public_key``, port 22
open from ``ssh_source_cidr``). So this module runs, with the user's own ssh client, keys and agent::

    ssh -o BatchMode=yes [-o OPT...] -o ConnectTimeout=10 ... [-p PORT] [-i KEY] -- USER@HOST \\
        sudo -n /usr/local/sbin/flowstack-agent --status-json

(no ``sudo`` as root), bounded in time; any failure is one `SshFailed` line naming the host and
what to check. `summary_lines` and `doctor_rows` turn the document into the terminal view.

>>> parse_dest("203.0.113.10")
('ubuntu', '203.0.113.10')
"""

from __future__ import annotations

import datetime as dt
import json
import re
import ssl
import subprocess
from dataclasses import dataclass
from typing import Any

from generator.core.contract import AGENT_LOG, AGENT_SCRIPT
from generator.core.errors import FlowstackError, InvalidOption, one_line

from .probe import Row

DEFAULT_USER = "ubuntu"  # the login of Canonical's Ubuntu images on OCI (ssh_public_key is installed for it)
CONNECT_SECONDS = 10  # ssh's own ConnectTimeout: the TCP connect and the key exchange
TOTAL_SECONDS = 30  # the whole run: connect, log in, the agent's read
CERT_WARN_DAYS = 14  # as doctor's TLS row: Caddy renews 30 days (or a third of a short-lived one) before expiry
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}")


class SshFailed(FlowstackError):
    """The agent's state could not be read over SSH (exit 6 where it is all a command does)."""

    exit_code = 6

    def __init__(self, dest: str, port: int | None, problem: str, check: str) -> None:
        self.dest, self.problem, self.check = dest, problem, check
        where = dest + (f" port {port}" if port else "")
        super().__init__(f"ssh {one_line(where)}: {one_line(problem)}; {check}")


def parse_dest(text: str, default_host: str | None = None) -> tuple[str, str]:
    """``[USER@]HOST`` as (user, host); an empty host is ``default_host`` (the instance's IP).

    >>> parse_dest("root@10.0.0.10"), parse_dest("opc@", "203.0.113.7")
    (('root', '10.0.0.10'), ('opc', '203.0.113.7'))
    """
    user, _, host = text.rpartition("@")
    user, host = user or DEFAULT_USER, host or default_host or ""
    if not host:
        raise InvalidOption("--ssh", text, "[USER@]HOST (no instance IP was found to default to)")
    # Checked, not quoted: the value becomes ssh's destination argument (after `--`), never a shell word.
    if not _USER.fullmatch(user):
        raise InvalidOption("--ssh", text, "a login name of letters, digits, '_', '.', '-' before the '@' (e.g. ubuntu@HOST)")
    if not _HOST.fullmatch(host):
        raise InvalidOption("--ssh", text, "a host name or IP address after the '@' (e.g. ubuntu@203.0.113.10)")
    return user, host


_OPTION = re.compile(r"[A-Za-z][A-Za-z0-9]*(=| ).*", re.DOTALL)


@dataclass(frozen=True)
class SshRequest:
    """The ssh options as the user gave them; `target` fills in the instance's IP when no host was named."""

    dest: str  # [USER@]HOST, USER@, or "" for the instance's own public IP
    port: int | None = None
    identity: str | None = None
    options: tuple[str, ...] = ()

    def target(self, default_host: str | None = None) -> SshTarget:
        for opt in self.options:
            if not _OPTION.fullmatch(opt) or "\n" in opt:
                raise InvalidOption("--ssh-option", opt, "KEY=VALUE as `ssh -o` takes it (e.g. UserKnownHostsFile=/tmp/known_hosts)")
        user, host = parse_dest(self.dest, default_host)
        return SshTarget(user, host, self.port, self.identity, self.options)


@dataclass(frozen=True)
class SshTarget:
    """Where and how to log in: ``user@host``, and the ssh options the user gave."""

    user: str
    host: str
    port: int | None = None
    identity: str | None = None
    options: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        return f"{self.user}@{self.host}"

    def argv(self) -> list[str]:
        """The ssh command line. The user's ``-o`` options come before the defaults (ssh keeps the first
        value of each), so ``-o StrictHostKeyChecking=yes`` or another ``UserKnownHostsFile`` wins.

        >>> SshTarget("ubuntu", "h").argv()[-3:]
        ['ubuntu@h', 'sudo -n /usr/local/sbin/flowstack-agent --status-json']
        """
        argv = ["ssh", "-o", "BatchMode=yes"]
        for opt in self.options:
            argv += ["-o", opt]
        # accept-new: a first login to a new server records its key; a changed key still fails (said below).
        argv += ["-o", f"ConnectTimeout={CONNECT_SECONDS}", "-o", "StrictHostKeyChecking=accept-new", "-o", "LogLevel=ERROR"]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.identity:
            argv += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        command = f"{AGENT_SCRIPT} --status-json"
        return [*argv, "--", self.dest, command if self.user == "root" else f"sudo -n {command}"]


def read_agent(target: SshTarget, timeout: float = TOTAL_SECONDS) -> dict[str, Any]:
    """The agent's document from the server; raises `SshFailed` with what to check."""
    try:
        r = subprocess.run(target.argv(), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False)
    except FileNotFoundError:
        raise SshFailed(target.dest, target.port, "no `ssh` client on PATH", "install OpenSSH's client (Debian/Ubuntu: openssh-client)") from None
    except subprocess.TimeoutExpired:
        raise SshFailed(target.dest, target.port, f"no answer within {timeout:g} s", _cidr_hint(target)) from None
    if r.returncode == 0:
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and "disk" in doc:
            return doc
        raise SshFailed(target.dest, target.port, "the agent printed no status document (an agent older than --status-json?)",
                        "deploy the stack again with this flowstack (`flowstack rm-apply CONFIG`) so the server gets the current agent")
    raise SshFailed(target.dest, target.port, *explain(r.returncode, r.stderr, target))


def _cidr_hint(t: SshTarget) -> str:
    return (f"check that the instance runs and that your address is inside the config's ssh_source_cidr "
            f"(the security list opens port {t.port or 22} only from there)")


def explain(code: int, stderr: str, t: SshTarget) -> tuple[str, str]:
    """(what happened, what to check) for a failed ssh run, from ssh's exit code and last error line.

    >>> explain(255, "ssh: connect to host h port 22: Connection refused", SshTarget("ubuntu", "h"))[0]
    'ssh: connect to host h port 22: Connection refused'
    """
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = stderr.lower()
    said = lines[-1][:200] if lines else f"ssh exited with {code}"
    if "remote host identification has changed" in text or "host key verification failed" in text:
        return "the server's host key is not the one known_hosts holds", (
            f"a new instance on the same address has a new key: if that is so, `ssh-keygen -R {t.host}` and retry")
    if code == 255 and "permission denied" in text:  # ssh's own (exit 255), not a remote command's
        return said, (f"the server refused the login of {t.user}: pass -i with the private key of the config's ssh_public_key "
                      f"(or add it to ssh-agent); the Ubuntu image's user is {DEFAULT_USER}")
    if "refused" in text:
        return said, f"nothing accepts SSH on {t.host}:{t.port or 22}: is the instance running (flowstack status) and sshd up?"
    if "timed out" in text or "no route" in text or "unreachable" in text:
        return said, _cidr_hint(t)
    if "could not resolve" in text:
        return said, "use the instance's public IP (flowstack status shows it)"
    if "password is required" in text or "not in the sudoers" in text:
        return said, f"{t.user} cannot run sudo without a password: log in as the image's user ({DEFAULT_USER})"
    if code in (126, 127) or "no such file" in text or "not found" in text:
        return said, f"{AGENT_SCRIPT} is not on the server (or not executable): has its first boot finished (cloud-init), and is this a flowstack server?"
    if code != 255:
        return f"the agent exited with {code}: {said}", f"read the agent's log on the server ({AGENT_LOG})"
    return said, _cidr_hint(t)


# -- the terminal view ---------------------------------------------------------------------------

def cert_days(not_after: str, now: dt.datetime) -> int | None:
    """Whole days from ``now`` to a certificate's notAfter as Python's ssl prints it (``Mar  6 12:00:00 2027 GMT``)."""
    try:
        end = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), dt.timezone.utc)
    except (ValueError, TypeError):
        return None
    return int((end - now).total_seconds() // 86400)


def _gb(n: Any) -> str:
    return f"{n / 1e9:.1f}" if isinstance(n, (int, float)) else "?"


def _stamp(text: Any) -> str:
    """The agent's ``YYYY-MM-DDTHH:MM:SS`` (server time) as ``YYYY-MM-DD HH:MM``."""
    return str(text or "-").replace("T", " ")[:16]


def _until(when: Any, server_now: Any) -> str:
    """`` (in 12 min)`` from the server's own clock (its time zone is the server's, not the laptop's)."""
    try:
        a, b = (dt.datetime.fromisoformat(str(x)) for x in (when, server_now))  # with or without seconds
    except ValueError:
        return ""
    s = (a - b).total_seconds()
    if s <= 0:
        return " (due now)"
    return f" (in {int(s // 60)} min)" if s < 5400 else f" (in {s / 3600:.1f} h)"


def summary_lines(doc: dict[str, Any], dest: str, now: dt.datetime) -> list[str]:
    """The agent's document as status's lines (the same labels as its other lines)."""
    st, att, pend = doc.get("status") or {}, doc.get("attempts") or {}, doc.get("pending") or {}
    ready, disk = doc.get("ready") or {}, doc.get("disk") or {}
    out = [f"server:     {dest} over SSH; server clock {_stamp(doc.get('now'))}"]
    out.append(f"agent:      {st.get('state') or 'no run recorded yet'}" + (f": {st['message']}" if st.get("message") else "")
               + (f" (checked {st['checked'].replace('T', ' ')[:16]} UTC)" if st.get("checked") else ""))
    lc = st.get("last_change")
    out.append("last change: " + (f"bundle {str(lc.get('digest'))[:12]} applied {_stamp(lc.get('applied'))} after {lc.get('attempts', 1)} "
                                  f"attempt(s); services {', '.join(lc.get('services') or []) or 'none'}" if lc else "none recorded"))
    if att:
        out.append(f"attempts:   {att.get('attempts')} failed for bundle {str(att.get('digest'))[:12]} since {_stamp(att.get('first_try'))}; "
                   f"next try {_stamp(att.get('next_try'))}{_until(att.get('next_try'), doc.get('now'))}; last error: {att.get('last_error') or '-'}")
    if pend:
        out.append(f"pending:    bundle {str(pend.get('digest'))[:12]} waits for its apply_at {pend.get('apply_at')} (server time): "
                   f"{_stamp(pend.get('until'))}{_until(pend.get('until'), doc.get('now'))}")
    if disk:
        over = isinstance(disk.get("used_pct"), (int, float)) and disk["used_pct"] > disk.get("prune_above_pct", 100)
        out.append(f"disk:       {_gb(disk.get('used'))} of {_gb(disk.get('total'))} GB used ({disk.get('used_pct')}%"
                   f"{'; OVER' if over else ' vs'} the {disk.get('prune_above_pct')}% share the agent prunes to)")
    else:
        out.append("disk:       unknown (the agent could not read the boot volume)")
    for host, c in sorted((ready.get("certificates") or {}).items()):
        days = cert_days(c.get("not_after", ""), now)
        out.append(f"certificate: {host} by {c.get('issuer')}, expires {c.get('not_after')}" + ("" if days is None else f" ({days} days left)"))
    if ready:
        probs = ready.get("problems") or []
        out.append(f"readiness:  {'not ready: ' + '; '.join(probs) if probs else 'ready'} (checked {_stamp(ready.get('checked'))})")
    # The server's texts (a build's stderr in last_error) may hold escapes: shown, never obeyed by the terminal.
    return ["  " + one_line(line) for line in out]


def problems(doc: dict[str, Any]) -> list[str]:
    """What the agent's document says is wrong (status lists them and exits 1)."""
    st, att, disk = doc.get("status") or {}, doc.get("attempts") or {}, doc.get("disk") or {}
    out = []
    if st.get("state") in ("error", "refused"):
        out.append(f"server agent: {st['state']}: {st.get('message')}")
    elif st.get("state") == "backoff" or att:
        out.append(f"server agent: a change failed {att.get('attempts')} time(s); next try {_stamp(att.get('next_try'))} (server time)")
    if isinstance(disk.get("used_pct"), (int, float)) and disk["used_pct"] > disk.get("prune_above_pct", 100):
        out.append(f"server disk: {disk['used_pct']}% used, over the {disk['prune_above_pct']}% share even after pruning: "
                   "remove what else fills the boot volume (`docker system df` on the server)")
    out += [f"server readiness: {p}" for p in (doc.get("ready") or {}).get("problems") or []]
    return [one_line(p) for p in out]


def doctor_rows(doc: dict[str, Any], dest: str, now: dt.datetime) -> list[Row]:
    """The agent's document as doctor rows: the agent, the disk, each certificate Caddy serves."""
    st, att, disk = doc.get("status") or {}, doc.get("attempts") or {}, doc.get("disk") or {}
    state = st.get("state") or "none"
    detail = f"{state} via {dest}: {st.get('message') or 'no run recorded yet'}"
    if state in ("error", "refused"):
        rows = [Row("server agent", "FAIL", detail, f"read {AGENT_LOG} on the server; fix the config and deploy again")]
    elif att:
        rows = [Row("server agent", "WARN", f"{detail}; next try {_stamp(att.get('next_try'))} (server time)",
                    "the change is retried with a back-off; its last error says why it failed")]
    else:
        rows = [Row("server agent", "PASS" if state in ("applied", "unchanged", "pending") else "WARN", detail)]
    if disk:
        over = disk.get("used_pct", 0) > disk.get("prune_above_pct", 100)
        rows.append(Row("server disk", "WARN" if over else "PASS",
                        f"{_gb(disk.get('used'))} of {_gb(disk.get('total'))} GB used ({disk.get('used_pct')}%, prunes to {disk.get('prune_above_pct')}%)",
                        "something besides Docker's unused images fills the boot volume: `docker system df`, `du -xsh /var/*`" if over else ""))
    for host, c in sorted(((doc.get("ready") or {}).get("certificates") or {}).items()):
        days = cert_days(c.get("not_after", ""), now)
        low = days is not None and days < CERT_WARN_DAYS
        rows.append(Row(f"server certificate {host}", "WARN" if low else "PASS", f"issuer {c.get('issuer')}, expires {c.get('not_after')}"
                        + ("" if days is None else f" ({days} days left)"), "renewal is failing: `docker logs caddy` on the server" if low else ""))
    return [Row(one_line(r.check), r.status, one_line(r.detail), r.fix) for r in rows]


def unreachable_row(exc: SshFailed) -> Row:
    return Row("server agent", "FAIL", f"ssh {exc.dest}: {exc.problem}", exc.check)
