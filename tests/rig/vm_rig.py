"""The VM rig put together: cached guest image and images, the namespace's servers, one VM.

``VmRig(work).start(config_path)`` builds (or finds warm in ``~/.cache/flowstack``) the guest
image, the FROM-scratch images, the shim apt repository, makes the fixture app's git
repository and the certificates, starts the namespace's servers, renders the config with the
project's own generator (cloud-init + the config bundle, as Terraform's templatefile() would)
into the fake IMDS, and boots the VM. ``timeline()`` parses the bring-up log's step lines.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from generator.config.load import load_config
from generator.emit.bundle import bundle_value
from generator.emit.cloudinit import apply_template, render_cloud_init, sample_values
from rig import images
from rig.vm import Vm
from rig.vm_net import ACME_IP, APT_IP, GIT_IP, GUEST_IP, GUEST_MAC, REGISTRY_IP, STUN_IP, RigNet, make_shim_repo, wait_for

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("FLOWSTACK_CACHE", Path.home() / ".cache" / "flowstack"))
GIT_URL = "https://github.com/flowstack-rig/app.git"
TLS_NAMES = ["registry-1.docker.io", "github.com", "acme-v02.api.letsencrypt.org", "acme.zerossl.com"]
STUN_NAMES = ["stun.l.google.com", "stun1.l.google.com", "stun2.l.google.com", "stun3.l.google.com",
              "stun4.l.google.com", "global.stun.twilio.com", "stun.cloudflare.com"]
STEP_RE = re.compile(r"^flowstack: (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (.*)$")


def build_image() -> Path:
    out = subprocess.run(["bash", str(REPO / "tools/build-vm-image.sh")], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"tools/build-vm-image.sh failed:\n{out.stderr[-4000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


def build_pebble() -> Path:
    out = subprocess.run(["bash", str(REPO / "tools/build-pebble.sh")], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"tools/build-pebble.sh failed:\n{out.stderr[-4000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


def find_plugins() -> Path:
    found = sorted(glob.glob(str(CACHE / "docker-plugins-*/docker-compose")))
    if not found:
        raise RuntimeError(f"no Docker CLI plugins under {CACHE}/docker-plugins-*: run tools/build-docker-plugins.sh")
    return Path(found[-1]).parent


def find_livekit(version: str) -> Path:
    for cand in (REPO / f".tools/livekit-server-{version}/server", CACHE / f"livekit-server-{version}/server"):
        if cand.is_file():
            return cand
    raise RuntimeError(f"no LiveKit {version} binary in .tools/: run `make livekit`")


def digest_of(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def leaf_cert(image: Path, out: Path, names: list[str]) -> tuple[Path, Path]:
    """A server certificate for ``names`` signed by the image's test CA."""
    key, csr, crt, ext = out / "leaf.key", out / "leaf.csr", out / "leaf.crt", out / "leaf.ext"
    ext.write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\n", encoding="utf-8")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=flowstack VM rig",
                    "-keyout", str(key), "-out", str(csr)], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(image / "ca.crt"), "-CAkey",
                    str(image / "ca.key"), "-CAcreateserial", "-days", "30", "-extfile", str(ext), "-out", str(crt)],
                   check=True, capture_output=True)
    return crt, key


SAMPLE_APP = REPO / "templates" / "sample-app"
NPM_CACHE = REPO / ".cache" / "npm"  # `make sample-app-cache` fills it from the sample app's lockfile


def vendor_socketio(work: Path) -> None:
    """The fixture app's dependencies (socket.io, locked by the sample app's package-lock.json),
    installed on this machine by ``npm ci --offline`` from the npm cache ``make sample-app-cache``
    fills, and committed with the app: the VM rig has no npm registry (npm ci inside a build
    through a registry is proven in the engine rig, tests/e2e/test_engine_variants.py)."""
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(SAMPLE_APP / name, work / name)
    out = subprocess.run(["npm", "ci", "--offline", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error",
                          "--cache", str(NPM_CACHE)], cwd=work, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"npm ci --offline for the VM rig's app failed (run `make sample-app-cache`):\n{out.stderr[-2000:]}")


def git_repo(src: Path, repos: Path) -> None:
    """The fixture app as a bare repository under repos/flowstack-rig/app.git (dumb HTTP ready)."""
    work, bare = repos / "work", repos / "flowstack-rig" / "app.git"
    shutil.copytree(src, work)
    vendor_socketio(work)
    env = os.environ | {"GIT_AUTHOR_NAME": "rig", "GIT_AUTHOR_EMAIL": "rig@invalid", "GIT_COMMITTER_NAME": "rig",
                        "GIT_COMMITTER_EMAIL": "rig@invalid"}
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "."], ["git", "commit", "-q", "-m", "app"]):
        subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True)
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    subprocess.run(["git", "update-server-info"], cwd=bare, check=True, capture_output=True)
    shutil.rmtree(work)


class VmRig:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.state = work / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        self.net = RigNet(self.state)
        self.vm: Vm | None = None
        self.values: dict[str, str] = {}
        self.config: Any = None
        self.pebble: Path | None = None
        self.git_token = ""

    def prepare(self, livekit_version: str | None, caddy_tag: str = "2.8.4") -> None:
        """Build or find everything; ``livekit_version`` None: only what a boot with no
        user_data needs (the floor)."""
        self.image = build_image()
        self.store = self.state / "empty-store"
        self.cert, self.key = leaf_cert(self.image, self.state, TLS_NAMES)
        (self.state / "repos").mkdir(exist_ok=True)
        self.shim = self.state / "empty-shim"
        if livekit_version is None:
            return
        plugins = find_plugins()
        self.shim = CACHE / f"vm-shim-{digest_of(plugins / 'docker-compose', plugins / 'docker-buildx')}"
        if not (self.shim / "Release").exists():
            make_shim_repo(self.shim, plugins)
        livekit = find_livekit(livekit_version)
        caddy = Path("/usr/bin/caddy")
        self.store = CACHE / f"vm-images-{digest_of(livekit, caddy, Path('/usr/bin/node'), Path(images.BUSYBOX), Path(images.__file__), self.image / 'ca.crt')}"
        if not (self.store / "done").exists():
            images.build_rig_images(self.store, (livekit_version, str(livekit)), (caddy_tag, str(caddy)),
                                    self.image / "ca.crt")
            (self.store / "done").write_text("ok", encoding="utf-8")
        git_repo(REPO / "tests/fixtures/vm/app", self.state / "repos")
        # The app's repository is private: the git server wants this token (route a of issue 22).
        self.git_token = "github_pat_vmrig_" + secrets.token_hex(16)
        (self.state / "git-token").write_text(self.git_token, encoding="utf-8")
        self.pebble = build_pebble()

    def start_ssh_git(self) -> tuple[str, str, Path]:
        """A self-hosted git server over ssh on GIT_IP:22 as ``git.vmrig.test`` (issue 22, route b):
        Debian's sshd in the rig's namespace, its own host key, the app's bare repository through
        git-shell to one key only, the deploy key ``flowstack deploy-key`` makes. Returns (the
        ssh URL, the known_hosts line to pin, the private key file)."""
        ssh = self.state / "sshgit"
        ssh.mkdir()
        out = subprocess.run([sys.executable, "-m", "generator.cli", "deploy-key", "vmrig", "--dir", str(ssh / "keys")],
                             capture_output=True, text=True, cwd=REPO, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"flowstack deploy-key failed: {out.stdout}{out.stderr}")
        public = (ssh / "keys" / "id_ed25519.pub").read_text(encoding="utf-8").strip()
        host_key = ssh / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
        (ssh / "authorized_keys").write_text(f'restrict,command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"" {public}\n',
                                             encoding="utf-8")
        config = ssh / "sshd_config"
        config.write_text("\n".join([
            f"ListenAddress {GIT_IP}", "Port 22", f"HostKey {host_key}", f"PidFile {ssh / 'sshd.pid'}",
            f"AuthorizedKeysFile {ssh / 'authorized_keys'}", "StrictModes no", "UsePAM no",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "LogLevel VERBOSE", ""]), encoding="utf-8")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory (Debian)
        self.net.spawn("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(config), "-E", str(self.state / "sshd.log")])
        wait_for(lambda: self.net.sh("bash", "-c", f"exec 3<>/dev/tcp/{GIT_IP}/22", check=False).returncode == 0, 30, "sshd")
        pin = "git.vmrig.test " + " ".join(Path(f"{host_key}.pub").read_text(encoding="utf-8").split()[:2])
        return f"root@git.vmrig.test:{self.state / 'repos' / 'flowstack-rig' / 'app.git'}", pin, ssh / "keys" / "id_ed25519"

    def names(self, hosts: list[str]) -> dict[str, str]:
        names = {h: GUEST_IP for h in hosts}
        names["git.vmrig.test"] = GIT_IP  # the self-hosted git server over ssh (start_ssh_git)
        names |= {"deb.debian.org": APT_IP, "security.debian.org": APT_IP, "registry-1.docker.io": REGISTRY_IP,
                  "github.com": GIT_IP, "acme-v02.api.letsencrypt.org": ACME_IP, "acme.zerossl.com": ACME_IP}
        return names | {n: STUN_IP for n in STUN_NAMES}

    def render(self, config_path: Path, apply_at: str = "") -> None:
        """Write user_data and the bundle into the fake IMDS (the metadata keys Terraform sets)."""
        self.config = load_config(config_path)
        self.bundle_config = config_path
        if not self.values:
            creds = f"username=x-access-token\npassword={self.git_token}\n" if self.git_token else ""
            # The deploy-time values the rig sets itself; the rest come from each config as
            # Terraform's variables would (host names change with a day-2 config).
            self.values = {
                "socket_git_url": GIT_URL, "socket_git_ref": "main", "livekit_api_secret": secrets.token_urlsafe(32),
                # What Terraform makes of the sensitive variable socket_git_token (bundle.tf).
                "socket_git_credentials_b64": base64.b64encode(creds.encode()).decode()}
        imds = self.state / "imds"
        imds.mkdir(exist_ok=True)
        user_data = apply_template(render_cloud_init(self.config), self.values_for(self.config))
        (imds / "user_data").write_text(base64.b64encode(user_data.encode()).decode(), encoding="utf-8")
        (imds / "flowstack_bundle").write_text(bundle_value(self.config, self.values_for(self.config), apply_at),
                                               encoding="utf-8")

    def values_for(self, config: Any) -> dict[str, str]:
        """Every template variable for ``config``: its own sample values, then the rig's."""
        return sample_values(config) | self.values

    def set_bundle(self, config_path: Path, apply_at: str = "") -> str:
        """A day-2 change: a new bundle in the IMDS (the metadata update Terraform makes in place)."""
        config = load_config(config_path)
        self.bundle_config = config_path
        value = bundle_value(config, self.values_for(config), apply_at)
        tmp = self.state / "imds" / ".bundle.tmp"
        tmp.write_text(value, encoding="utf-8")
        os.replace(tmp, self.state / "imds" / "flowstack_bundle")
        return value

    def start(self, config_path: Path | None, hosts: list[str], fail_once: list[str] | None = None,
              apt_fail_once: str | None = None, imds_outage: str | None = None) -> Vm:
        """Start the servers and boot the VM; ``config_path`` None boots with no user_data (the floor).
        Faults: ``fail_once`` (registry, git: the first request answers 503), ``apt_fail_once`` (the
        first apt request whose path holds it answers 503), ``imds_outage`` ("KEY:SECONDS"); the
        files ``state/git-down`` and ``state/stun-down`` hold those servers back while they exist."""
        vm = self.vm = Vm(self.net, self.image, self.work)
        if config_path is not None:
            self.render(config_path)
        (self.state / "imds").mkdir(exist_ok=True)
        (self.state / "imds" / "ssh_authorized_keys").write_text(vm.public_key + "\n", encoding="utf-8")
        instance = {
            "availabilityDomain": "RIG:AP-CHUNCHEON-1-AD-1", "ociAdName": "ap-chuncheon-1-ad-1",
            "faultDomain": "FAULT-DOMAIN-1", "compartmentId": "ocid1.compartment.oc1..vmrig",
            "displayName": "vmrig", "hostname": "vmrig", "id": "ocid1.instance.oc1.ap-chuncheon-1.vmrig",
            "image": "ocid1.image.oc1.ap-chuncheon-1.vmrig", "region": "ap-chuncheon-1",
            "canonicalRegionName": "ap-chuncheon-1", "shape": "VM.Standard.A1.Flex", "state": "Running",
            "timeCreated": 1796600000000, "metadata": {}}
        (self.state / "instance.json").write_text(json.dumps(instance), encoding="utf-8")
        vnics = [{"vnicId": "ocid1.vnic.oc1.ap-chuncheon-1.vmrig", "privateIp": GUEST_IP, "vlanTag": 0,
                  "macAddr": GUEST_MAC, "virtualRouterIp": "10.0.0.1", "subnetCidrBlock": "10.0.0.0/24",
                  "nicIndex": 0}]
        (self.state / "vnics.json").write_text(json.dumps(vnics), encoding="utf-8")
        self.net.start_network()
        self.net.start_dns(self.names(hosts))
        self.net.start_apt(CACHE / "apt-archive", self.shim, apt_fail_once)
        args = ["--instance", str(self.state / "instance.json"), "--vnics", str(self.state / "vnics.json"),
                "--store", str(self.store), "--repos", str(self.state / "repos"), "--cert", str(self.cert),
                "--key", str(self.key)]
        for f in fail_once or []:
            args += ["--fail-once", f]
        if imds_outage:
            args += ["--imds-outage", imds_outage]
        if self.git_token:
            args += ["--git-token-file", str(self.state / "git-token")]
        if self.pebble is not None:
            self.net.start_pebble(self.pebble, self.cert, self.key)
            args += ["--acme-ip", ACME_IP]
        self.net.start_services(args)
        if self.pebble is not None:
            # The guest trusts Pebble's (per-run) root as an OCI image trusts the public roots.
            root = self.state / "pebble-root.pem"
            wait_for(lambda: self.net.sh("curl", "-fsSk", f"https://{ACME_IP}:15000/roots/0", check=False).returncode == 0,
                     60, "Pebble's management API")
            root.write_text(self.net.pebble_root(), encoding="utf-8")
            vm.fw_cfg["opt/flowstack-rig/ca.pem"] = root
        vm.start()
        return vm

    def close(self) -> None:
        if self.vm is not None:
            self.vm.close()
        self.net.close()


def timeline(log: str) -> list[tuple[str, str]]:
    """The bring-up log's step lines: [(UTC timestamp, message)] in order."""
    return [(m[1], m[2]) for line in log.splitlines() if (m := STEP_RE.match(line.strip()))]
