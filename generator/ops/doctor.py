"""`flowstack doctor`: probe, from the user's machine, every public port a browser and a LiveKit client need.

Each check is a `Row` (PASS / WARN / FAIL, what was seen, the fix in one line).  Checks
that connect use the instance IP (``--ip``, else the address the LiveKit host resolves
to), not each host's DNS answer, so a wrong A record fails the DNS row only.

>>> Row("dns", "PASS", "ok").to_dict()["status"]
'PASS'
"""

from __future__ import annotations

import datetime as dt
import os

from generator.config.load import load_config
from generator.config.schema import StackConfig
from generator.core.errors import FlowstackError

from . import agentssh, media, probe, stun
from .hosts import HostsUnknown, stack_hosts
from .probe import Row

WARN_DAYS = 14  # Caddy renews 30 days before expiry; under 14 left means renewal is failing


def hosts(config: StackConfig, ip: str | None = None) -> list[str]:
    """Every host name to probe (derived from ``ip`` for an auto-domain stack)."""
    return list(stack_hosts(config, ip).values())


def _sslip(host: str) -> bool:
    """An auto-domain name: sslip.io answers it from the name itself; nobody can create its records."""
    return host.lower().endswith(".sslip.io")


def port_fix(error: str, port: int, proto: str, service: str) -> str:
    """The fix for a port that did not answer, by how it failed.

    Refused: the packet reached the host and nothing listens (no firewall in the way);
    no answer: a firewall drops it (the security list, usually); no route / prohibited:
    the host firewall rejects it (OCI's Ubuntu rules end in REJECT icmp-host-prohibited).

    >>> port_fix("10.0.0.2:7881/tcp: Connection refused", 7881, "tcp", "LiveKit")[:30]
    'nothing listens on 7881/tcp (t'
    """
    text = error.lower()
    if "refused" in text:
        return (f"nothing listens on {port}/{proto} (the connection was refused, so no firewall is in the way): "
                f"start {service} on the server (`docker ps`, `docker logs`)")
    if "no answer within" in text or "timed out" in text:
        return (f"no answer at all: a firewall drops {port}/{proto}; add an ingress rule for it to the VCN's security list "
                "(and check the host firewall: re-run flowstack-firewall)")
    return f"open {port}/{proto} in the security list and the host firewall (re-run flowstack-firewall), and check {service} runs"


def check_dns(target: probe.Target, host: str, ip: str | None) -> Row:
    try:
        found = target.addresses(host)
    except probe.ProbeError as exc:
        if _sslip(host):
            return Row(f"DNS {host}", "FAIL", str(exc),
                       f"{host} is an sslip.io name: it resolves by itself and has no record to create; your resolver does not "
                       f"answer for sslip.io (some routers and filters block it): try another resolver (e.g. 1.1.1.1)")
        return Row(f"DNS {host}", "FAIL", str(exc), f"create an A record {host} -> {ip or 'the instance public IP'}")
    if ip is None:
        return Row(f"DNS {host}", "WARN", f"A {', '.join(found)} (no --ip to compare with)", "pass --ip with the instance's public IP (flowstack status shows it)")
    if found != [ip]:
        if _sslip(host):
            return Row(f"DNS {host}", "FAIL", f"A {', '.join(found)}, expected {ip}",
                       f"{host} names the address {', '.join(found)}, not the instance's {ip}: the server's sslip.io names follow its "
                       "public IP, so use the current ones (host_names in `flowstack rm-outputs`)")
        return Row(f"DNS {host}", "FAIL", f"A {', '.join(found)}, expected {ip}", f"set the A record of {host} to {ip} (only that one), then wait for the TTL")
    return Row(f"DNS {host}", "PASS", f"A {ip}")


def check_redirect(target: probe.Target, host: str, ip: str) -> Row:
    name = f"HTTP 80 {host}"
    try:
        r = probe.http(target, host, ip, "/", secure=False)
    except probe.ProbeError as exc:
        return Row(name, "FAIL", str(exc), port_fix(str(exc), 80, "tcp", "Caddy") + " (Caddy needs port 80 for ACME and the redirect)")
    location = r.headers.get("location", "")
    if r.status in (301, 302, 307, 308) and location.startswith(f"https://{host}"):
        return Row(name, "PASS", f"{r.status} -> {location}")
    return Row(name, "FAIL", f"{r.status} without a redirect to https://{host}/ (location {location or 'none'})",
               "let Caddy own port 80 (automatic HTTPS redirects it); stop whatever else answers there")


def check_tls(target: probe.Target, host: str, ip: str, label: str = "TLS 443") -> Row:
    name = f"{label} {host}"
    result = probe.tls(target, host, ip)
    cert = result.cert
    seen = "" if cert is None else f"issuer {cert.issuer}, names {', '.join(cert.names) or cert.subject}, expires {cert.not_after:%Y-%m-%d}"
    if result.error is None and cert is not None:
        days = cert.days_left()
        if days < WARN_DAYS:
            return Row(name, "WARN", f"{seen} ({days} days left)", "renewal is failing: read `docker logs caddy` on the server (ACME rate limit? port 80 closed?)")
        return Row(name, "PASS", f"{seen} ({days} days left)")
    error = result.error or "no certificate"
    if cert is not None and cert.not_after < dt.datetime.now(dt.timezone.utc):
        fix = f"the certificate expired on {cert.not_after:%Y-%m-%d}: restart Caddy and read its log for why renewal failed"
    elif cert is not None and host not in cert.names:
        fix = f"the certificate is for {', '.join(cert.names) or cert.subject}, not {host}: check the DNS name in the config and Caddy's log"
    elif "refused" in error or "no answer" in error or "route" in error:
        fix = port_fix(error, 443, "tcp", "Caddy")
    else:
        fix = "the certificate does not verify: wait for Caddy to obtain a public one (tls.mode acme) or pass --ca-file for a private CA"
    return Row(name, "FAIL", f"{error}{'; ' + seen if seen else ''}", fix)


def check_socketio(target: probe.Target, host: str, ip: str, verify: bool = True) -> list[Row]:
    fix = "check the Socket.IO app container (docker logs) and that Caddy proxies the socket host to it"
    try:
        r = probe.http(target, host, ip, "/socket.io/?EIO=4&transport=polling", verify=verify)
        ok = r.status == 200 and r.body[:1] == b"0" and b'"sid"' in r.body
        rows = [Row("Socket.IO polling", "PASS" if ok else "FAIL", f"{r.status} {r.body[:60]!r}", "" if ok else fix)]
    except probe.ProbeError as exc:
        rows = [Row("Socket.IO polling", "FAIL", str(exc), fix)]
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": probe.websocket_key(), "Sec-WebSocket-Version": "13"}
    try:
        r = probe.http(target, host, ip, "/socket.io/?EIO=4&transport=websocket", headers=headers, verify=verify)
        ok = r.status == 101
        rows.append(Row("Socket.IO WebSocket", "PASS" if ok else "FAIL", f"{r.status}" + (" Switching Protocols" if ok else ""),
                        "" if ok else "something between the browser and the app refuses the upgrade (a proxy or CDN without WebSockets?)"))
    except probe.ProbeError as exc:
        rows.append(Row("Socket.IO WebSocket", "FAIL", str(exc), fix))
    return rows


def check_livekit_http(target: probe.Target, host: str, ip: str, verify: bool = True) -> Row:
    try:
        r = probe.http(target, host, ip, "/", verify=verify)
    except probe.ProbeError as exc:
        return Row("LiveKit HTTP", "FAIL", str(exc), "check the LiveKit container and Caddy's proxy to livekit.port")
    ok = r.status == 200
    return Row("LiveKit HTTP", "PASS" if ok else "FAIL", f"{r.status} {r.body[:20]!r}", "" if ok else "LiveKit is not answering behind Caddy: `docker logs livekit`")


def check_tcp(target: probe.Target, ip: str, port: int, what: str) -> Row:
    try:
        probe.connect(ip, port, target.timeout).close()
    except probe.ProbeError as exc:
        return Row(what, "FAIL", str(exc), port_fix(str(exc), port, "tcp", "LiveKit"))
    return Row(what, "PASS", f"{ip}:{port}/tcp accepts")


def check_stun(target: probe.Target, ip: str, port: int) -> Row:
    try:
        mapped = stun.binding(ip, port, timeout=min(target.timeout, 3.0))
    except stun.StunError as exc:
        return Row(f"TURN/UDP {port}", "FAIL", str(exc), f"open {port}/udp in the security list and the host firewall, and check livekit turn.enabled")
    return Row(f"TURN/UDP {port}", "PASS", f"STUN Binding answered; your address as seen: {mapped[0]}:{mapped[1]}")


def run(config: StackConfig, target: probe.Target, ip: str | None = None) -> list[Row]:
    """Every check for ``config``; nothing raises for a failed probe."""
    try:
        names = stack_hosts(config, ip)
    except HostsUnknown as exc:
        return [Row("host names", "FAIL", str(exc), "pass --ip with the instance's public IP")]
    rows = [check_dns(target, h, ip) for h in names.values()]
    socket_host, livekit_host = names["socket_host"], names["livekit_host"]
    if ip is None:
        try:
            ip = target.addresses(livekit_host)[0]
        except probe.ProbeError as exc:
            return rows + [Row("instance IP", "FAIL", str(exc), "pass --ip with the instance's public IP")]
    lk = config.livekit
    rows += [check_redirect(target, h, ip) for h in (socket_host, livekit_host)]
    tls_rows = [check_tls(target, h, ip) for h in (socket_host, livekit_host)]
    rows += tls_rows
    # A bad certificate is the TLS row's finding; the app checks then look past it (unverified)
    # so each row fails only for its own reason, and say so.
    rows += _unverified_note(check_socketio(target, socket_host, ip, tls_rows[0].status != "FAIL"), tls_rows[0])
    rows += _unverified_note([check_livekit_http(target, livekit_host, ip, tls_rows[1].status != "FAIL")], tls_rows[1])
    if lk.rtc.tcp_port:
        rows.append(check_tcp(target, ip, lk.rtc.tcp_port, f"ICE/TCP {lk.rtc.tcp_port}"))
    if lk.turn.enabled and lk.turn.udp_port:
        rows.append(check_stun(target, ip, lk.turn.udp_port))
    if lk.turn.enabled and lk.turn.via_caddy and names.get("turn_host"):
        rows.append(check_tls(target, names["turn_host"], ip, label="TURN/TLS 443"))
    return rows


def _unverified_note(rows: list[Row], tls_row: Row) -> list[Row]:
    if tls_row.status != "FAIL":
        return rows
    return [Row(r.check, r.status, f"{r.detail} (certificate not verified: see {tls_row.check})", r.fix) for r in rows]


def format_rows(rows: list[Row]) -> str:
    width = max((len(r.check) for r in rows), default=10)
    out = []
    for r in rows:
        out.append(f"{r.status:4}  {r.check:<{width}}  {r.detail}")
        if r.fix:
            out.append(f"      {'':<{width}}  fix: {r.fix}")
    failed = sum(r.status == "FAIL" for r in rows)
    out.append(f"{len(rows)} checks: {sum(r.status == 'PASS' for r in rows)} pass, {sum(r.status == 'WARN' for r in rows)} warn, {failed} fail")
    return "\n".join(out)


def diagnose(config_path: str, target: probe.Target, ip: str | None = None, media_secret: str | None = None,
             media_key: str | None = None, ssh: agentssh.SshRequest | None = None) -> list[Row]:
    """Load the config and run every check (what `flowstack doctor` does); with ``media_secret``, the media
    check too; with ``ssh``, the server's own view (agent, disk, certificates) read over SSH."""
    config = load_config(config_path)
    rows = run(config, target, ip)
    if media_secret:
        rows.append(media_row(config, target, media_secret, media_key))
    if ssh is not None:
        rows += server_rows(ssh, ip or _livekit_ip(config, target))
    return rows


def _livekit_ip(config: StackConfig, target: probe.Target) -> str | None:
    try:
        return target.addresses(stack_hosts(config, None)["livekit_host"])[0]
    except (HostsUnknown, probe.ProbeError):
        return None


def server_rows(ssh: agentssh.SshRequest, default_host: str | None, now: dt.datetime | None = None) -> list[Row]:
    """The agent's state, the disk and the served certificates as rows; a failed login is one FAIL row."""
    try:
        t = ssh.target(default_host)
    except FlowstackError as exc:
        return [Row("server agent", "FAIL", str(exc), "pass --ssh USER@HOST, or --ip with the instance's public IP")]
    try:
        doc = agentssh.read_agent(t)
    except agentssh.SshFailed as exc:
        return [agentssh.unreachable_row(exc)]
    return agentssh.doctor_rows(doc, t.dest, now or dt.datetime.now(dt.timezone.utc))


def media_row(config: StackConfig, target: probe.Target, secret: str, key: str | None = None) -> Row:
    """`media.check_media` against ``wss://<livekit host>``; ``--ca-file`` reaches the SDK as SSL_CERT_FILE."""
    saved = os.environ.get("SSL_CERT_FILE")
    if target.ca_file:
        os.environ["SSL_CERT_FILE"] = target.ca_file
    try:
        return media.check_media(f"wss://{config.domains.livekit_host}", key or config.livekit.api_key, secret, timeout=max(target.timeout * 3, 10.0))
    finally:
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved
