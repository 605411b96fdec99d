"""What the server receives on first boot, checked by real validators (issue 4).

For the reference stack and variants (TLS modes, app image vs git, TURN/TLS via Caddy's
layer4 SNI router — the only TURN/TLS mode that works —, an explicit app URL and time zone, secret env) every file `flowstack preview --sample`
unpacks goes through the tool that will read it, or the closest one that runs here:

- cloud-config: ``cloud-init schema`` (Debian's cloud-init), on the previewed file and on
  the Terraform template text before substitution;
- Caddyfile: ``caddy adapt --validate`` (Debian's caddy), and the adapted JSON's host ->
  upstream routes; caddy.json (layer4 build, not in Debian's caddy): its structure as
  LiveKit's own generator writes it, and its non-layer4 apps through ``caddy validate``;
- docker-compose.yml: the Compose Specification parser of the Rust ``compose_spec`` crate
  (PyPI ``compose-spec``; it rejects unknown keys and bad values), plus the bind mounts
  against what cloud-init writes;
- livekit.yaml: keys against ``KNOWN_KEYS`` (the pinned LiveKit v1.13.5's yaml struct tags; LiveKit
  refuses unknown keys) and value types against the Go field types;
- the scripts: ``bash -n`` / ``sh -n`` and ShellCheck.

Each validator also gets a broken input, to show it can fail here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from variants import make_config

from generator.build.preview import preview_files
from generator.config.schema import StackConfig
from generator.core.versions import versions
from generator.derive.livekit import KNOWN_KEYS, unknown_keys
from generator.derive.ports import ANYWHERE, policy, policy_from_livekit
from generator.emit.bundle import server_bundle
from generator.emit.cloudinit import APP_DIR, CADDY_L4_IMAGE, READY_MARKER, render_cloud_init

ROOT = Path(__file__).resolve().parents[2]
TURN_HOST = "space-turn.flow-coder.com"

_TURN_TLS = {"domains": {"turn_host": TURN_HOST}, "livekit": {"turn": {"tls_port": 5349, "via_caddy": True}}}

# name -> changes merged into stacks/flowspace.yaml (None is YAML null).
VARIANTS: dict[str, dict[str, Any]] = {
    "reference": {},
    "tls-internal": {"tls": {"mode": "internal"}},
    "tls-cloudflare-origin": {"tls": {"mode": "cloudflare_origin"}},
    "socket-image": {"socket": {"git": None, "image": "ghcr.io/example/flowspace-socket:1.2.3"}},
    # TURN/TLS works only through Caddy on 443 (issue 10): direct tls_port and an origin
    # certificate with TURN/TLS are refused (REFUSED below), so they are not variants.
    "turn-via-caddy": {**_TURN_TLS, "tls": {"mode": "acme", "email": "ops@flow-coder.com"}},
    "turn-via-caddy-internal": {
        "domains": {"turn_host": TURN_HOST},
        "tls": {"mode": "internal"},
        "livekit": {"turn": {"tls_port": 5349, "via_caddy": True}},
    },
    # The app source given (not the reference's example repository), and an explicit time zone.
    "socket-git-url": {"socket": {"git": {"url": "https://github.com/flow-coder/flow_metaverse.git"}}, "instance": {"timezone": "UTC"}},
    # A private repository by a read-only deploy key (issue 22 item 1b): the ssh URL turns the route on.
    "socket-git-ssh": {"socket": {"git": {"url": "git@github.com:flow-coder/flow_metaverse.git"}}},
    # An ephemeral public IP instead of the reserved one (issue 15): the address changes with the instance.
    "ephemeral-ip": {"network": {"reserved_ip": False}},
    "secret-env": {
        "tls": {"email": "ops@flow-coder.com"},
        # "$" and "${" must reach the app as written: through Terraform's template
        # escaping and Compose's interpolation.
        "socket": {"secret_env": ["JWT_SECRET", "REDIS_URL"], "env": {"NODE_ENV": "production", "PRICE": "costs $5 ${NOT_A_VAR}"}},
    },
}
VIA_CADDY = [n for n, v in VARIANTS.items() if v.get("livekit", {}).get("turn", {}).get("via_caddy")]
WITH_CADDYFILE = [n for n in VARIANTS if n not in VIA_CADDY]


class Preview:
    def __init__(self, name: str, config: StackConfig, files: dict[str, bytes], out: Path) -> None:
        self.name, self.config, self.files, self.out = name, config, files, out
        self.cloud_config = yaml.safe_load(files["cloud-init.yaml"])
        self.entries = {e["path"]: e for e in self.cloud_config["write_files"]}
        # Issue 15: the files that can change arrive in the config bundle, written by the agent.
        self.bundle = {f.path: f for f in server_bundle(config)}
        self.written = set(self.entries) | set(self.bundle)

    def text(self, abs_path: str) -> str:
        return self.files["files" + abs_path].decode("utf-8")

    def path(self, abs_path: str) -> Path:
        return self.out / ("files" + abs_path)

    def has(self, abs_path: str) -> bool:
        return "files" + abs_path in self.files


@pytest.fixture(scope="module")
def previews(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Preview]:
    out: dict[str, Preview] = {}
    for name, changes in VARIANTS.items():
        config = make_config(changes)
        files = preview_files(config, sample=True)
        root = tmp_path_factory.mktemp(f"preview-{name}")
        for rel, data in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        out[name] = Preview(name, config, files, root)
    return out


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 60)
    return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)


@pytest.fixture
def caddy_env(tmp_path: Path) -> dict[str, str]:
    """Caddy's home, data and config dirs inside tmp_path: validation leaves nothing behind."""
    env = dict(os.environ)
    for var, sub in (("HOME", "home"), ("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config")):
        (tmp_path / sub).mkdir(exist_ok=True)
        env[var] = str(tmp_path / sub)
    return env


# ---------------------------------------------------------------------------
# cloud-init


def cloud_init_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return run(["cloud-init", "schema", "--config-file", str(path)])


@pytest.mark.parametrize("name", VARIANTS)
def test_previewed_cloud_config_passes_cloud_init_schema(previews: dict[str, Preview], name: str) -> None:
    p = previews[name]
    result = cloud_init_schema(p.out / "cloud-init.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout
    assert p.files["cloud-init.yaml"].startswith(b"#cloud-config\n")


@pytest.mark.parametrize("name", VARIANTS)
def test_template_before_substitution_passes_cloud_init_schema(previews: dict[str, Preview], name: str, tmp_path: Path) -> None:
    """The text Terraform's templatefile() reads, placeholders and all, is already valid cloud-config."""
    text = render_cloud_init(previews[name].config)
    # Issue 15: user_data is boot-only; the LiveKit secret travels in the bundle's livekit.yaml.
    assert "livekit_api_secret" not in text
    assert "${livekit_api_secret}" in previews[name].bundle[f"{APP_DIR}/livekit.yaml"].template
    yaml.safe_load(text)  # still YAML with the ${...} placeholders in it
    path = tmp_path / "cloud-init.tftpl.yaml"
    path.write_text(text, encoding="utf-8")
    result = cloud_init_schema(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cloud_init_schema_rejects_a_broken_cloud_config(previews: dict[str, Preview], tmp_path: Path) -> None:
    """Negative control: the same validator fails on a bad encoding and a bad type."""
    text = previews["secret-env"].files["cloud-init.yaml"].decode()
    for bad in (text.replace("  permissions: '0644'", "  permissions: '0644'\n  encoding: b65", 1), text.replace("package_update: false", "package_update: 7")):
        assert bad != text
        path = tmp_path / "bad.yaml"
        path.write_text(bad, encoding="utf-8")
        result = cloud_init_schema(path)
        assert result.returncode != 0, result.stdout


@pytest.mark.parametrize("name", VARIANTS)
def test_cloud_config_writes_every_file_with_safe_modes_and_runs_bootstrap(previews: dict[str, Preview], name: str) -> None:
    p = previews[name]
    cc = p.cloud_config
    paths = [e["path"] for e in cc["write_files"]]
    assert len(paths) == len(set(paths))
    # Issue 10 item 6: the bring-up is a unit, enabled before its script (and any network step) runs.
    assert cc["runcmd"] == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "flowstack-bootstrap.service"],
        ["systemctl", "enable", "--now", "flowstack-agent.timer"],
        ["systemctl", "enable", "--now", "flowstack-prune.timer"],
        ["systemctl", "start", "--no-block", "flowstack-bootstrap.service"],
    ]
    assert "/etc/systemd/system/flowstack-bootstrap.service" in paths
    # Issue 15: boot-only files in user_data, every file that can change in the bundle, none in both.
    assert not set(p.entries) & set(p.bundle)
    for boot in ("/usr/local/sbin/flowstack-bootstrap", "/usr/local/sbin/flowstack-agent", "/etc/docker/daemon.json"):
        assert boot in p.entries
    for changing in (f"{APP_DIR}/livekit.yaml", f"{APP_DIR}/docker-compose.yml", "/usr/local/sbin/flowstack-firewall"):
        assert changing in p.bundle
    modes = {path: e["permissions"] for path, e in p.entries.items()} | {path: f.mode for path, f in p.bundle.items()}
    assert modes[f"{APP_DIR}/livekit.yaml"] == "0600"  # holds the LiveKit API secret
    assert modes["/usr/local/sbin/flowstack-bootstrap"] == "0755"
    assert modes["/usr/local/sbin/flowstack-firewall"] == "0755"
    for secret_file in (f"{APP_DIR}/socket-secrets.env", f"{APP_DIR}/certs/origin-key.pem"):
        if secret_file in modes:
            assert modes[secret_file] == "0600"
    assert (f"{APP_DIR}/socket-secrets.env" in modes) == bool(p.config.socket.secret_env)
    assert (f"{APP_DIR}/certs/origin-key.pem" in modes) == (p.config.tls.mode == "cloudflare_origin")
    assert (f"{APP_DIR}/caddy.json" in modes) == p.config.livekit.turn.via_caddy
    assert (f"{APP_DIR}/Caddyfile" in modes) != p.config.livekit.turn.via_caddy
    # b64 entries decode to the sample values: real PEM text, KEY=value lines.
    if p.config.socket.secret_env:
        lines = p.text(f"{APP_DIR}/socket-secrets.env").splitlines()
        assert [ln.split("=", 1)[0] for ln in lines] == p.config.socket.secret_env
    if p.config.tls.mode == "cloudflare_origin":
        assert p.text(f"{APP_DIR}/certs/origin.pem").startswith("-----BEGIN CERTIFICATE-----")


# ---------------------------------------------------------------------------
# Caddy


def self_signed_pair(directory: Path, hosts: list[str]) -> tuple[Path, Path]:
    """A real certificate and key (Caddy loads them while validating ``tls cert key``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "origin.pem", directory / "origin-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def caddy_adapt(caddyfile: Path, env: dict[str, str], validate: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["caddy", "adapt", "--config", str(caddyfile), "--adapter", "caddyfile"]
    return run(args + (["--validate"] if validate else []), env=env, cwd=caddyfile.parent)


def _dials(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [u["dial"] for u in node.get("upstreams", []) if isinstance(u, dict) and "dial" in u] if node.get("handler") == "reverse_proxy" else []
        return found + [d for v in node.values() for d in _dials(v)]
    if isinstance(node, list):
        return [d for v in node for d in _dials(v)]
    return []


def site_upstreams(adapted: dict[str, Any]) -> dict[str, list[str]]:
    """host -> reverse_proxy upstreams, from Caddy's own adapted JSON."""
    out: dict[str, list[str]] = {}
    for server in adapted["apps"]["http"]["servers"].values():
        for route in server.get("routes", []):
            for match in route.get("match", []):
                for host in match.get("host", []):
                    out.setdefault(host, []).extend(_dials(route.get("handle", [])))
    return out


@pytest.mark.parametrize("name", WITH_CADDYFILE)
def test_caddyfile_validates_with_caddy_and_routes_each_host(
    previews: dict[str, Preview], name: str, tmp_path: Path, caddy_env: dict[str, str]
) -> None:
    p = previews[name]
    c = p.config
    text = p.text(f"{APP_DIR}/Caddyfile")
    # Caddy v2 proxies WebSocket upgrades itself; copied Connection/Upgrade headers broke them.
    assert "header_up" not in text
    if c.tls.mode == "cloudflare_origin":
        # Caddy loads the certificate files while validating: give it a real pair at a
        # path it can read (on the server, compose mounts /opt/flowstack/certs at /certs).
        self_signed_pair(tmp_path / "certs", [c.domains.socket_host, c.domains.livekit_host])
        assert "/certs/origin.pem /certs/origin-key.pem" in text
        text = text.replace("/certs/", f"{tmp_path}/certs/")
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(text, encoding="utf-8")
    result = caddy_adapt(caddyfile, caddy_env)
    assert result.returncode == 0, result.stderr[-3000:]
    adapted = json.loads(result.stdout)

    upstreams = site_upstreams(adapted)
    assert upstreams[c.domains.socket_host] == [f"127.0.0.1:{c.socket.port}"]
    assert upstreams[c.domains.livekit_host] == [f"127.0.0.1:{c.livekit.port}"]
    turn_site = bool(c.livekit.turn.tls_port) and c.tls.mode != "cloudflare_origin"
    assert (TURN_HOST in upstreams) == turn_site
    if turn_site:
        assert upstreams[TURN_HOST] == []  # only there for its certificate; TURN/TLS is LiveKit's own listener
    for server in adapted["apps"]["http"]["servers"].values():
        assert server.get("protocols") == ["h1", "h2"]  # no HTTP/3: UDP 443 is not in the port policy

    tls_app = adapted["apps"].get("tls", {})
    issuers = [i["module"] for pol in tls_app.get("automation", {}).get("policies", []) for i in pol.get("issuers", [])]
    if c.tls.mode == "internal":
        assert "internal" in issuers
    elif c.tls.mode == "cloudflare_origin":
        loaded = tls_app["certificates"]["load_files"]
        assert [(f["certificate"], f["key"]) for f in loaded] == [(f"{tmp_path}/certs/origin.pem", f"{tmp_path}/certs/origin-key.pem")]
    else:
        assert "internal" not in issuers
        if c.tls.email:
            assert c.tls.email in result.stdout
        if turn_site:
            # The TURN host's certificate must come from Let's Encrypt only: livekit.yaml reads it
            # from that issuer's directory, so a fallback issuer would leave LiveKit without it.
            turn_policies = [pol for pol in tls_app["automation"]["policies"] if TURN_HOST in pol.get("subjects", [])]
            assert [[i["module"] for i in pol["issuers"]] for pol in turn_policies] == [["acme"]]
            assert all("ca" not in i for pol in turn_policies for i in pol["issuers"])  # the default CA: Let's Encrypt


def test_caddy_adapt_rejects_a_broken_caddyfile(previews: dict[str, Preview], tmp_path: Path, caddy_env: dict[str, str]) -> None:
    """Negative control: a misspelt directive fails the same validation."""
    text = previews["reference"].text(f"{APP_DIR}/Caddyfile").replace("    reverse_proxy 127", "    reverse_proxi 127", 1)
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(text, encoding="utf-8")
    result = caddy_adapt(caddyfile, caddy_env)
    assert result.returncode != 0
    assert "reverse_proxi" in result.stderr


@pytest.mark.parametrize("name", VIA_CADDY)
def test_layer4_caddy_json_routes_sni_like_livekit_generator(
    previews: dict[str, Preview], name: str, tmp_path: Path, caddy_env: dict[str, str]
) -> None:
    """TURN via Caddy: caddy.json for the layer4 build, shaped as livekit/deploy's caddy.yaml
    (443 routed by SNI: TURN host -> TURN/TLS without ALPN, the HTTP hosts -> their ports
    with ALPN http/1.1). Debian's caddy has no layer4 module, so only the other apps are
    given to `caddy validate`."""
    p = previews[name]
    c = p.config
    data = json.loads(p.text(f"{APP_DIR}/caddy.json"))
    hosts = {"socket": c.domains.socket_host, "livekit": c.domains.livekit_host, "turn": TURN_HOST}
    certificates = data["apps"]["tls"]["certificates"]
    if c.tls.mode == "cloudflare_origin":
        # The origin certificate serves every name: loaded from the files cloud-init writes, nothing obtained.
        assert certificates == {"load_files": [{"certificate": "/certs/origin.pem", "key": "/certs/origin-key.pem"}]}
        self_signed_pair(tmp_path / "certs", list(hosts.values()))
        certificates["load_files"] = [{"certificate": f"{tmp_path}/certs/origin.pem", "key": f"{tmp_path}/certs/origin-key.pem"}]
        compose = yaml.safe_load(p.text(f"{APP_DIR}/docker-compose.yml"))
        assert f"{APP_DIR}/certs:/certs:ro" in compose["services"]["caddy"]["volumes"]
    else:
        assert sorted(certificates["automate"]) == sorted(hosts.values())
    server = data["apps"]["layer4"]["servers"]["main"]
    assert server["listen"] == [":443"]
    # Issue 21 item 6: the TURN name is terminated here and dialled at docker0's pinned address
    # (not loopback: livekit/deploy's updateip.go, Firefox); the app and LiveKit names go on,
    # still encrypted and with a PROXY header, to the http app, which terminates TLS and proxies
    # as HTTP (client addresses in X-Forwarded-For); the http app also serves :80.
    turn_route, web_route = server["routes"]
    assert turn_route["match"] == [{"tls": {"sni": [TURN_HOST]}}]
    assert turn_route["handle"] == [{"handler": "tls"}, {"handler": "proxy", "upstreams": [{"dial": [f"172.17.0.1:{c.livekit.turn.tls_port}"]}]}]
    assert web_route["match"] == [{"tls": {"sni": [hosts["socket"], hosts["livekit"]]}}]
    assert web_route["handle"] == [{"handler": "proxy", "proxy_protocol": "v2", "upstreams": [{"dial": ["127.0.0.1:9443"]}]}]
    http = data["apps"]["http"]["servers"]
    assert http["redirect"]["listen"] == [":80"] and http["behind_l4"]["listen"] == ["127.0.0.1:9443"]
    sites = {r["match"][0]["host"][0]: r["handle"][0]["upstreams"][0]["dial"] for r in http["behind_l4"]["routes"]}
    assert sites == {hosts["socket"]: f"127.0.0.1:{c.socket.port}", hosts["livekit"]: f"127.0.0.1:{c.livekit.port}"}
    issuers = [i["module"] for pol in data["apps"]["tls"].get("automation", {}).get("policies", []) for i in pol["issuers"]]
    assert ("internal" in issuers) == (c.tls.mode == "internal")

    # The compose file runs the layer4 build on that file; LiveKit leaves TLS to Caddy.
    compose = yaml.safe_load(p.text(f"{APP_DIR}/docker-compose.yml"))
    caddy = compose["services"]["caddy"]
    assert caddy["image"] == CADDY_L4_IMAGE
    # The image's ENTRYPOINT is /bin/caddy: a command starting with "caddy" runs `caddy caddy run`.
    assert caddy["command"] == "run --config /etc/caddy/caddy.json"
    assert not caddy["command"].startswith("caddy")
    assert not CADDY_L4_IMAGE.endswith(":latest") and ":" in CADDY_L4_IMAGE
    assert f"{APP_DIR}/caddy.json:/etc/caddy/caddy.json:ro" in caddy["volumes"]
    turn = yaml.safe_load(p.text(f"{APP_DIR}/livekit.yaml"))["turn"]
    assert turn["external_tls"] is True and turn["tls_port"] == c.livekit.turn.tls_port
    assert "cert_file" not in turn and "key_file" not in turn
    # ... and TURN/TLS is reached through 443 only: its local port is not public.
    assert ("tcp", 5349, 5349, ANYWHERE) not in {r.key for r in policy(c)}

    # The whole file through the layer4 build of Caddy the image carries (data/versions.yaml):
    # Debian's caddy predates the proxy_protocol listener wrapper and has no layer4 app.
    l4 = ROOT / ".tools" / f"caddy-l4-{versions()['caddy_l4']['caddy']}-{versions()['caddy_l4']['caddy_l4']}" / "caddy"
    if not l4.exists():
        pytest.skip(f"the layer4 Caddy build is missing: run `make caddy-l4` ({l4})")
    data["storage"]["root"] = str(tmp_path / "caddy-data")
    path = tmp_path / "caddy-l4.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = run([str(l4), "validate", "--config", str(path)], env=caddy_env)
    assert result.returncode == 0, result.stderr[-3000:]


# ---------------------------------------------------------------------------
# Docker Compose


def compose_validate(text: str) -> None:
    """Parse and validate with the compose_spec crate (raises ValueError on an invalid file)."""
    from compose_spec import PyCompose

    # The crate predates compose's `host-gateway` value of extra_hosts (Docker >= 20.10 resolves
    # it to the bridge's gateway; the real engine runs it in the enginerig tests): an IP stands in.
    PyCompose.from_yaml(text.replace(":host-gateway", ":172.17.0.1")).validate()


@pytest.mark.parametrize("name", VARIANTS)
def test_compose_file_is_valid_compose_spec(previews: dict[str, Preview], name: str) -> None:
    p = previews[name]
    c = p.config
    text = p.text(f"{APP_DIR}/docker-compose.yml")
    compose_validate(text)
    doc = yaml.safe_load(text)
    assert set(doc["services"]) == {"livekit", "socket", "caddy"}
    for svc in doc["services"].values():
        assert svc["restart"] == "unless-stopped"
    # LiveKit's UDP ranges and Caddy's 80/443 are host ports: no Docker NAT.
    assert doc["services"]["livekit"]["network_mode"] == "host" and doc["services"]["caddy"]["network_mode"] == "host"
    # Issue 10 item 10: the app is on a bridge network (the firewall keeps it from the metadata
    # service), reachable only on a loopback port that Caddy proxies to.
    assert "network_mode" not in doc["services"]["socket"]
    assert doc["services"]["socket"]["ports"] == [f"127.0.0.1:{c.socket.port}:{c.socket.port}"]
    assert doc["services"]["livekit"]["image"] == c.livekit.image

    # Every bind-mounted file is one cloud-init or the agent (bundle) writes; every directory is
    # created by the bootstrap script (or holds such files).
    written = p.written
    bootstrap = p.text("/usr/local/sbin/flowstack-bootstrap")
    for svc in doc["services"].values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith(APP_DIR + "/")
            is_file = source in written
            in_app = '"$APP' + source[len(APP_DIR):] + '"'  # the script's paths: "$APP/..." (FLOWSTACK_ROOT-prefixed)
            is_dir = any(w.startswith(source + "/") for w in written) or re.search(rf"mkdir -p .*{re.escape(in_app)}(\s|$)", bootstrap)
            assert is_file or is_dir, f"{source} is mounted but neither written by cloud-init nor created by bootstrap"
        for env_file in svc.get("env_file", []):
            assert env_file in written
    socket = doc["services"]["socket"]
    if c.socket.image:
        assert socket["image"] == c.socket.image and "build" not in socket
    else:
        assert socket["build"]["context"] == f"{APP_DIR}/app/{c.socket.git.path}"
    # Compose interpolates "$": each must be doubled so the app sees the value as written.
    for key, value in socket["environment"].items():
        assert "$" not in value.replace("$$", ""), (key, value)
        assert value.replace("$$", "$") == {"PORT": str(c.socket.port), "LIVEKIT_URL": f"http://host.docker.internal:{c.livekit.port}", **c.socket.env}[key]
    # Issue 21 item 7: the app's server side reaches LiveKit on the host, not through its public name.
    assert socket["extra_hosts"] == ["host.docker.internal:host-gateway"]
    # Issue 21 items 2, 9 (and issue 20 defects 1, 4): every service has a healthcheck with a start
    # period and a short interval; LiveKit gets livekit.drain_seconds to drain on SIGTERM.
    for name, svc in doc["services"].items():
        assert svc["healthcheck"]["interval"] == "10s" and svc["healthcheck"]["start_period"], name
    assert doc["services"]["livekit"]["stop_grace_period"] == f"{c.livekit.drain_seconds}s" and c.livekit.drain_seconds == 300
    assert doc["services"]["livekit"]["stop_signal"] == "SIGTERM"
    assert socket["healthcheck"]["test"][:3] == ["CMD", "node", "-e"]
    assert f"http://127.0.0.1:{c.socket.port}{c.socket.health_path}" in socket["healthcheck"]["test"][3]


def test_compose_validator_rejects_broken_files(previews: dict[str, Preview]) -> None:
    """Negative control: an unknown key and a bad restart policy both fail."""
    text = previews["reference"].text(f"{APP_DIR}/docker-compose.yml")
    for bad in (text.replace("network_mode: host", "network_mod: host", 1), text.replace("restart: unless-stopped", "restart: sometimes", 1)):
        assert bad != text
        with pytest.raises(ValueError):
            compose_validate(bad)


# ---------------------------------------------------------------------------
# livekit.yaml

# Go types of the livekit.yaml fields flowstack writes (livekit-server v1.13.5, unchanged since v1.8.4; see
# generator/derive/livekit.py): yaml.v3 refuses e.g. a quoted "3478" for an int field.
_INT, _BOOL, _STR = "int", "bool", "str"
LIVEKIT_TYPES = {
    "port": _INT,
    "rtc.tcp_port": _INT,
    "rtc.udp_port": _INT,  # PortRange: a port or "a-b"
    "rtc.port_range_start": _INT,
    "rtc.port_range_end": _INT,
    "rtc.use_external_ip": _BOOL,
    "turn.enabled": _BOOL,
    "turn.domain": _STR,
    "turn.cert_file": _STR,
    "turn.key_file": _STR,
    "turn.tls_port": _INT,
    "turn.udp_port": _INT,
    "turn.relay_range_start": _INT,
    "turn.relay_range_end": _INT,
    "turn.external_tls": _BOOL,
    "logging.level": _STR,
    "logging.json": _BOOL,
}
# livekit/livekit pkg/service/utils.go IsValidDomain (checked for turn.domain).
LIVEKIT_DOMAIN = re.compile(r"(?i)^[a-z0-9-]+(\.[a-z0-9-]+)+\.?$")


@pytest.mark.parametrize("name", VARIANTS)
def test_livekit_yaml_has_only_keys_and_types_livekit_reads(previews: dict[str, Preview], name: str) -> None:
    p = previews[name]
    c = p.config
    lk = yaml.safe_load(p.text(f"{APP_DIR}/livekit.yaml"))
    assert unknown_keys(lk) == []
    for section, value in lk.items():
        if section == "keys":
            continue
        for key, v in (value.items() if isinstance(value, dict) else [(None, value)]):
            dotted = section if key is None else f"{section}.{key}"
            kind = LIVEKIT_TYPES[dotted]
            ok = {_INT: isinstance(v, int) and not isinstance(v, bool), _BOOL: isinstance(v, bool), _STR: isinstance(v, str)}[kind]
            assert ok, f"{dotted}: {v!r} is not a {kind}"
            if kind == _INT and dotted != "port" and not dotted.endswith("tcp_port"):
                assert 1 <= v <= 65535
    (secret,) = lk["keys"].values()
    assert list(lk["keys"]) == [c.livekit.api_key] and len(secret) >= 32  # LiveKit logs an error under 32
    assert lk["rtc"]["use_external_ip"] is True  # OCI VMs only see their private address
    turn = lk["turn"]
    if c.livekit.turn.tls_port:
        assert LIVEKIT_DOMAIN.match(turn["domain"]) and turn["domain"] == TURN_HOST
        assert ("cert_file" in turn) != bool(turn.get("external_tls"))
    if "cert_file" in turn and c.tls.mode == "cloudflare_origin":
        assert (turn["cert_file"], turn["key_file"]) == ("/certs/origin.pem", "/certs/origin-key.pem")
    # The port policy (security list + host firewall) re-derived from the file LiveKit
    # reads is the one the stack was rendered with.
    assert {r.key for r in policy_from_livekit(lk, [])} == {r.key for r in policy(c)}


def test_turn_tcp_port_is_rejected() -> None:
    """The seed guide's livekit.yaml had turn.tcp_port: LiveKit has no such field (and its
    strict decoder would refuse to start), so it is refused here too."""
    guide_like = {
        "port": 7880,
        "rtc": {"tcp_port": 7881, "port_range_start": 50000, "port_range_end": 60000, "use_external_ip": True},
        "keys": {"APIxxxx": "secret"},
        "turn": {"enabled": True, "domain": "space-livekit.example.com", "tls_port": 5349, "tcp_port": 3478},
    }
    assert unknown_keys(guide_like) == ["turn.tcp_port"]
    assert unknown_keys({"rtc": {"udp_port": 7882}, "turn": {"external_tls": True}}) == []
    assert unknown_keys({"rtc": {"udp_ports": 7882}, "turns": {}}) == ["rtc.udp_ports", "turns"]


def test_known_keys_match_livekit_config_struct() -> None:
    """Spot checks of KNOWN_KEYS against livekit-server v1.13.5's yaml tags (see generator/derive/livekit.py);
    tests/e2e/test_livekit_rig.py runs that server on the generated file and on the guide's key."""
    assert "tcp_port" not in KNOWN_KEYS["turn"]
    assert KNOWN_KEYS["turn"] == {
        "enabled", "domain", "cert_file", "key_file", "tls_port", "udp_port",
        "relay_range_start", "relay_range_end", "external_tls",
        # added after v1.8.4 (TURNConfig in v1.13.5)
        "bind_addresses", "ttl_seconds", "allow_restricted_peer_cidrs", "deny_peer_cidrs",
    }
    assert {"tcp_fallback_rtt_threshold", "allow_udp_unstable_fallback", "enable_rtp_stream_restart_detection"} <= KNOWN_KEYS["rtc"]
    assert {"agents", "trace", "node_stats", "enable_data_tracks", "api", "debug_handler"} <= set(KNOWN_KEYS)
    assert {"udp_port", "tcp_port", "port_range_start", "port_range_end", "use_external_ip", "node_ip"} <= KNOWN_KEYS["rtc"]
    assert KNOWN_KEYS["prometheus"] == {"port", "username", "password"}
    assert {"level", "json", "pion_level"} <= KNOWN_KEYS["logging"]
    assert "environment" not in KNOWN_KEYS  # removed from Config before v1.8


# ---------------------------------------------------------------------------
# Scripts


def shellcheck(path: Path, shell: str) -> subprocess.CompletedProcess[str]:
    return run(["shellcheck", "--shell", shell, "--format", "gcc", str(path)])


@pytest.mark.parametrize("name", VARIANTS)
def test_bootstrap_script_is_valid_bash_and_idempotent_friendly(previews: dict[str, Preview], name: str) -> None:
    p = previews[name]
    c = p.config
    path = p.path("/usr/local/sbin/flowstack-bootstrap")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash\n")
    result = run(["bash", "-n", str(path)])
    assert result.returncode == 0, result.stderr
    result = shellcheck(path, "bash")
    assert result.returncode == 0, result.stdout
    assert "set -euo pipefail" in text

    # Documented, numbered steps, in order, each logged.
    steps = re.findall(r'^step "(\d+)/(\d+) ', text, flags=re.M)
    # Issue 15: the agent writes the bundle's files first, before the firewall script it writes runs.
    assert re.search(r'^step "1/\d+ write the server\'s config files from the config bundle', text, flags=re.M)
    assert "/usr/local/sbin/flowstack-agent' --now --no-restart" in text
    assert steps and [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    assert {total for _, total in steps} == {str(len(steps))}
    lines = text.splitlines()

    def line_of(pattern: str) -> int:
        return next(i for i, ln in enumerate(lines) if re.search(pattern, ln))

    # The firewall opens the ports first; Docker after; the ready marker only once every
    # service is healthy and HTTPS answers each public name (issue 21 item 2, issue 20 defect 1).
    assert line_of(r"^\"\$ROOT\"'?/usr/local/sbin/flowstack-firewall'?$") < line_of(r"install -y docker.io docker-compose-v2 docker-buildx")
    assert "DPkg::Lock::Timeout" in text  # first boot: apt-daily may hold the lock
    health = line_of(rf"^until \"\$ROOT\"'?/usr/local/sbin/flowstack-agent'? --ready {c.tls.mode} ")
    assert "curl" not in lines[health]
    # The log without a tee process (issue 20 defect 2: a killed tee lost the last line).
    assert 'exec >>"$LOG" 2>&1' in text and "tee" not in text
    assert re.search(rf"^READY=\"\$ROOT\"'?{re.escape(READY_MARKER)}'?$", text, flags=re.M)
    ready = line_of(r'> "\$READY"$')
    assert health < ready
    # Re-runnable: directories with -p, the clone target removed first, systemd enable --now.
    for ln in lines:
        if re.match(r"\s*mkdir ", ln):
            assert " -p " in ln
    # The app's source is cloned by the agent (URL and ref from the bundle, so a new ref is a
    # config change like any other), never by a URL spliced into the script.
    assert "git clone" not in text
    assert ("flowstack-agent' --fetch-source" in text) == bool(c.socket.git)
    assert "systemctl enable --now flowstack.service" in text


@pytest.mark.parametrize("name", ["reference", "turn-via-caddy", "secret-env"])
def test_firewall_script_is_valid_posix_sh(previews: dict[str, Preview], name: str) -> None:
    path = previews[name].path("/usr/local/sbin/flowstack-firewall")
    assert path.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    result = run(["sh", "-n", str(path)])
    assert result.returncode == 0, result.stderr
    result = shellcheck(path, "sh")
    assert result.returncode == 0, result.stdout


def test_script_checks_reject_broken_scripts(tmp_path: Path) -> None:
    """Negative controls: a syntax error fails `bash -n`; a bashism fails ShellCheck for sh."""
    broken = tmp_path / "broken.sh"
    broken.write_text("#!/bin/bash\nif true; then\n  echo missing fi\n", encoding="utf-8")
    assert run(["bash", "-n", str(broken)]).returncode != 0
    bashism = tmp_path / "bashism.sh"
    bashism.write_text('#!/bin/sh\nif [[ -n "$1" ]]; then echo yes; fi\n', encoding="utf-8")
    assert run(["sh", "-n", str(bashism)]).returncode == 0  # dash parses it ...
    assert shellcheck(bashism, "sh").returncode != 0  # ... ShellCheck knows it is not POSIX


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_livekit_restarts_weekly_only_when_it_serves_caddys_certificate(previews: dict[str, Preview], name: str) -> None:
    """LiveKit reads its TURN/TLS certificate only at start; Caddy renews it: a weekly restart picks it up."""
    p = previews[name]
    c = p.config
    needed = bool(c.livekit.turn.tls_port) and not c.livekit.turn.via_caddy and c.tls.mode != "cloudflare_origin"
    timer_path = "/etc/systemd/system/flowstack-livekit-reload.timer"
    bootstrap = p.text("/usr/local/sbin/flowstack-bootstrap")
    assert (timer_path in p.written) == needed
    assert ("systemctl enable --now flowstack-livekit-reload.timer" in bootstrap) == needed
    if needed:
        timer = p.text(timer_path)
        assert "OnCalendar=Mon *-*-* 04:00:00" in timer and "WantedBy=timers.target" in timer
        service = p.text("/etc/systemd/system/flowstack-livekit-reload.service")
        assert f"ExecStart=/usr/bin/docker compose -f {APP_DIR}/docker-compose.yml restart livekit" in service
