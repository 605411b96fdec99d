"""`flowstack status`: the stack's last apply, the instance, usage, egress pace, idle-reclamation risk, health.

`gather` makes the report (a JSON-ready dict) from a Resource Manager `Deployer`, a
`telemetry.Telemetry` and a probe `Target`; a part that cannot be read (Monitoring
throttled, no instance) becomes an entry in ``problems`` and the rest is still reported.
`format_status` is the terminal view.

>>> gather  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from generator.config.load import load_config
from generator.config.schema import StackConfig
from generator.core.errors import FlowstackError

from ..deploy.results import RetrySettings
from ..deploy.rm import Deployer
from ..deploy.session import OciOptions, open_session
from . import agentssh, idle, probe, usage
from .chart import check_plot_path, sparkline, terminal_bars, write_plot
from .hosts import HostsUnknown, stack_hosts
from .telemetry import COMPUTE_NS, VCN_NS, InstanceInfo, Telemetry, TelemetryError, mql

WEEK = dt.timedelta(days=7)


def instance_name(config: StackConfig) -> str:
    """The display name templates/main.tf.j2 gives the server: ``<name>-server``."""
    return f"{config.name}-server"


def _last_apply(deployer: Deployer, config: StackConfig, compartment: str) -> dict[str, Any] | None:
    stack = deployer.find_stack(config.name, compartment)
    if stack is None:
        return None
    job = deployer.latest_job(stack.id, operation="APPLY")
    if job is None:
        return {"stack_id": stack.id, "job_id": None}
    return {"stack_id": stack.id, "job_id": job.id, "state": job.state, "time_created": job.time_created,
            "time_finished": job.time_finished}


def _percent_figures(tel: Telemetry, inst: InstanceInfo, now: dt.datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, metric in (("cpu", "CpuUtilization"), ("memory", "MemoryUtilization")):
        recent = tel.series(COMPUTE_NS, mql(metric, "1m", inst.id, "mean()"), now - dt.timedelta(minutes=15), now, "1m")
        week = tel.series(COMPUTE_NS, mql(metric, "5m", inst.id, "mean()"), now - WEEK, now, "5m")
        out[key] = {"now_pct": round(recent[-1][1], 2) if recent else None,
                    "p95_7d_pct": None if not week else round(usage.p95([v for _, v in week]) or 0.0, 2),
                    "samples_7d": len(week)}
    return out


def _traffic(tel: Telemetry, inst: InstanceInfo, config: StackConfig, now: dt.datetime) -> tuple[dict[str, Any], usage.Egress]:
    month_start, _, _ = usage.month_bounds(now)
    since = min(month_start, now - WEEK)
    hourly = tel.series(VCN_NS, mql("VnicToNetworkBytes", "1h", inst.vnic_id or "", "sum()"), since, now, "1h")
    eg = usage.egress(hourly, now, config.region)
    net = usage.network_pct(hourly, inst.bandwidth_gbps, now - WEEK)
    p = usage.p95(net)
    return {"p95_7d_pct": None if p is None else round(p, 4), "bandwidth_gbps": inst.bandwidth_gbps, "samples_7d": len(net)}, eg


def _health(config: StackConfig, target: probe.Target, ip: str | None, found: bool = True) -> list[dict[str, Any]]:
    try:
        names = stack_hosts(config, ip)
    except HostsUnknown:
        # status has no --ip: it reads the address from the instance's VNIC, so say why there is none.
        why = "the instance has no public IP" if found else "no instance was found"
        return [{"url": "auto-domain host names", "ok": False,
                 "error": f"{why}, so its sslip.io names (derived from that IP) are unknown; nothing to probe"}]
    checks = [(names["socket_host"], config.socket.health_path), (names["livekit_host"], "/")]
    out = []
    for host, path in checks:
        row: dict[str, Any] = {"url": f"https://{host}{path}"}
        try:
            ip = target.addresses(host)[0]
            result = probe.http(target, host, ip, path)
            row.update(ok=200 <= result.status < 400, status=result.status)
            row["certificate"] = _cert(target, host, ip)
        except probe.ProbeError as exc:
            row.update(ok=False, error=str(exc))
        out.append(row)
    return out


def _cert(target: probe.Target, host: str, ip: str) -> dict[str, Any] | None:
    tls = probe.tls(target, host, ip)
    return None if tls.cert is None else {**tls.cert.to_dict(), "valid": tls.error is None, "error": tls.error}


def gather(config: StackConfig, deployer: Deployer, tel: Telemetry, target: probe.Target, compartment: str,
           now: dt.datetime | None = None, health: bool = True) -> dict[str, Any]:
    """The whole status report; raises only for what makes every part meaningless (no OCI config)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    report: dict[str, Any] = {"stack": config.name, "region": config.region, "now": now, "problems": []}
    try:
        report["last_apply"] = _last_apply(deployer, config, compartment)
    except FlowstackError as exc:
        report["last_apply"], _ = None, report["problems"].append(f"Resource Manager: {exc}")
    inst = None
    try:
        inst = tel.find_instance(instance_name(config))
    except TelemetryError as exc:
        report["problems"].append(str(exc))
    report["instance"] = None if inst is None else {k: getattr(inst, k) for k in inst.__dataclass_fields__}
    if inst is None and not report["problems"]:
        report["problems"].append(f"no instance named {instance_name(config)!r} in compartment {compartment}: run `flowstack rm-apply` first")
    if inst is not None:
        _usage_into(report, tel, inst, config, now)
    report["health"] = _health(config, target, inst.public_ip if inst else None, inst is not None) if health else []
    return report


def _usage_into(report: dict[str, Any], tel: Telemetry, inst: InstanceInfo, config: StackConfig, now: dt.datetime) -> None:
    figures: dict[str, float | None] = {}
    try:
        report["usage"] = _percent_figures(tel, inst, now)
        report["usage"]["network"], eg = _traffic(tel, inst, config, now)
        report["egress"] = eg.to_dict()
        figures = {k: report["usage"][k]["p95_7d_pct"] for k in ("cpu", "memory", "network")}
    except TelemetryError as exc:
        report["problems"].append(str(exc))
        report["usage"] = report["egress"] = None
    if report["usage"] is not None:
        report["idle"] = idle.verdict(figures, inst.shape, now.date()).to_dict()
    else:
        report["idle"] = None
    if inst.lifecycle_state != "RUNNING":
        report["problems"].append(f"instance is {inst.lifecycle_state}, not RUNNING: start it (OCI console, or "
                                  f"`oci compute instance action --action START --instance-id {inst.id}`)")


def server_into(report: dict[str, Any], ssh: agentssh.SshRequest, read: Any = agentssh.read_agent) -> None:
    """The server's own view (the agent's state, disk use, certificates) over SSH, into ``report["server"]``;
    a failed login is a problem of the report, like any other part that could not be read."""
    ip = (report.get("instance") or {}).get("public_ip")
    try:
        target = ssh.target(ip)
    except FlowstackError as exc:
        report["server"], _ = None, report["problems"].append(str(exc))
        return
    try:
        doc = read(target)
    except agentssh.SshFailed as exc:
        report["server"] = {"ssh": target.dest, "error": str(exc)}
        report["problems"].append(str(exc))
        return
    report["server"] = {"ssh": target.dest, **doc}
    report["problems"] += agentssh.problems(doc)


def server_only(config_path: str, ssh: agentssh.SshRequest, now: dt.datetime | None = None) -> dict[str, Any]:
    """`status --server-only`: the agent's view over SSH, without OCI; a failed login raises `SshFailed` (exit 6)."""
    config = load_config(config_path)
    target = ssh.target()
    doc = agentssh.read_agent(target)
    return {"stack": config.name, "region": config.region, "now": now or dt.datetime.now(dt.timezone.utc),
            "server": {"ssh": target.dest, **doc}, "problems": agentssh.problems(doc)}


def _fmt_pct(value: float | None) -> str:
    if value is None:
        return "no data"
    return f"{value:.1f}%" if value >= 1 or value == 0 else f"{value:.3f}%"


def human_time(value: Any, now: dt.datetime | None = None) -> str:
    """``2026-12-07 13:02 UTC (3 h ago)`` for a datetime (or its ISO text); ``-`` for none.

    >>> human_time(dt.datetime(2026, 12, 7, 13, 2, 18, 324000, tzinfo=dt.timezone.utc), dt.datetime(2026, 12, 7, 16, 5, tzinfo=dt.timezone.utc))
    '2026-12-07 13:02 UTC (3 h ago)'
    """
    if not value:
        return "-"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return str(value)
    moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    text = f"{moment.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    if now is None:
        return text
    ago = (now - moment).total_seconds()
    if ago < 0:
        return text
    span = f"{int(ago // 60)} min" if ago < 5400 else f"{int(ago // 3600)} h" if ago < 172800 else f"{int(ago // 86400)} days"
    return f"{text} ({span} ago)"


def health_failed(report: dict[str, Any]) -> bool:
    """True when a health probe ran and failed (status then exits 1, like a problem)."""
    return any(not h.get("ok") for h in report.get("health") or [])


def format_status(r: dict[str, Any]) -> str:
    """The report as the terminal shows it."""
    lines = [f"flowstack status: {r['stack']} ({r['region']}) at {r['now']:%Y-%m-%d %H:%M} UTC"]
    if "last_apply" not in r:  # --server-only
        return "\n".join(lines + _format_server(r) + [f"  problem:    {p}" for p in r.get("problems", [])])
    la = r.get("last_apply")
    lines.append("  last apply: " + ("none (no stack yet)" if not la else f"{la.get('state') or '-'} job {la.get('job_id')} "
                                    f"finished {human_time(la.get('time_finished'), r['now'])}"))
    inst = r.get("instance")
    if inst:
        lines.append(f"  instance:   {inst['lifecycle_state']}  {inst['shape']} ({inst['ocpus']:g} OCPU, {inst['memory_gbs']:g} GB)  "
                     f"public IP {inst['public_ip'] or 'none'}")
    if r.get("usage"):
        u = r["usage"]
        lines.append(f"  CPU:        now {_fmt_pct(u['cpu']['now_pct'])}, 7-day p95 {_fmt_pct(u['cpu']['p95_7d_pct'])}")
        lines.append(f"  memory:     now {_fmt_pct(u['memory']['now_pct'])}, 7-day p95 {_fmt_pct(u['memory']['p95_7d_pct'])}")
        lines.append(f"  network:    7-day p95 {_fmt_pct(u['network']['p95_7d_pct'])} of {u['network']['bandwidth_gbps'] or '?'} Gbps")
    if r.get("egress"):
        lines += _format_egress(r["egress"])
    if r.get("idle"):
        lines += _format_idle(r["idle"])
    for h in r.get("health", []):
        cert = h.get("certificate") or {}
        tail = f"{h['status']}" if "status" in h else h.get("error", "")
        if cert:
            tail += (f"; certificate by {cert['issuer']}, expires {str(cert['not_after'])[:10]} ({cert['days_left']} days left)"
                     + ("" if cert["valid"] else f" (INVALID: {cert['error']})"))
        lines.append(f"  health:     {'ok  ' if h['ok'] else 'FAIL'} {h['url']}: {tail}")
    lines += _format_server(r)
    lines += [f"  problem:    {p}" for p in r.get("problems", [])]
    return "\n".join(lines)


def _format_server(r: dict[str, Any]) -> list[str]:
    s = r.get("server")
    if not s:
        return []
    if "error" in s:
        return [f"  server:     {s['ssh']} over SSH: not read (see the problem below)"]
    return agentssh.summary_lines(s, s["ssh"], r["now"])


def _format_egress(e: dict[str, Any]) -> list[str]:
    mark = "" if e["free_verified"] else " (unverified)"
    p = e["price"]
    lines = [f"  egress:     {e['month_to_date_gb']:.1f} GB this month; month-end at this pace {e['projected_gb']:.1f} GB "
             f"= {e['projected_pct_of_free']}% of the free {e['free_gb'] / 1000:g} TB{mark}"]
    if e["over_pace"]:
        lines.append(f"  overage:    {e['overage_gb']:.1f} GB x ${p['usd']}/GB = ${e['overage_usd']:.2f} "
                     f"({e['price_group']}, price as of {p['as_of']}{'' if p['verified'] else ', unverified'}; {p['source']})")
    else:
        lines.append(f"  overage:    none at this pace (price if it comes: ${p['usd']}/GB, as of {p['as_of']})")
    lines.append(f"  daily GB:   {sparkline(e['daily_gb'])}  (┃ = free pace {e['pace_gb_per_day']:.1f} GB/day)")
    return lines + terminal_bars(e["daily_gb"], e["pace_gb_per_day"])


def _format_idle(v: dict[str, Any]) -> list[str]:
    rule = v["rule"]
    lines = [f"  idle risk:  {v['summary']}"]
    for f in v["findings"]:
        lines.append(f"              {f['metric']} {f['statistic']} {_fmt_pct(f['value_pct'])} vs < {f['threshold_pct']:g}%"
                     f"{'  below' if f['below'] else ''}{'' if f['verified'] else ' (unverified)'}")
    lines += [f"              {a}" for a in v["avert"]]
    lines.append(f"              rule {rule['id']} effective {rule['effective']}{'' if rule['verified'] else ', UNVERIFIED'}: {rule['source']}")
    return lines


def run(config_path: str, *, oci_config_file: str, profile: str, auth: str, compartment: str | None, endpoint: str | None,
        target: probe.Target, health: bool = True, plot: str | None = None, now: dt.datetime | None = None,
        ssh: agentssh.SshRequest | None = None) -> dict[str, Any]:
    """What `flowstack status` does: credentials, clients, `gather`, and the picture if asked."""
    config = load_config(config_path)
    if plot:
        check_plot_path(plot)
    oci = open_session(OciOptions(oci_config_file, profile, auth, compartment, endpoint))
    deployer = oci.deployer(retry=RetrySettings(api_seconds=15, api_attempts=3, api_base_sleep=0.2, api_max_sleep=1))
    tel = Telemetry(oci.config, oci.signer, oci.compartment, endpoint)
    report = gather(config, deployer, tel, target, oci.compartment, now=now, health=health)
    if ssh is not None:
        server_into(report, ssh)
    if plot and report.get("egress"):
        e = report["egress"]
        report["plot"] = str(write_plot(plot, e["daily_gb"], e["pace_gb_per_day"], e["days_in_month"], f"{report['now']:%B %Y}"))
    elif plot:
        report["problems"].append(f"--plot {plot}: not written, no egress data")
    return report
