#!/usr/bin/env python3
"""flowstack-agent: applies the config bundle from the instance metadata (issue 15).

Terraform puts every server file that comes from the config into the instance metadata key
named in the settings (``flowstack_bundle``): base64(gzip(JSON {format, apply_at, digest,
files: [{path, mode, encoding, service, sha256, content}]})). The provider updates that key in
place, so a config change reaches a running server without replacing it. This agent (run
every 2 minutes by flowstack-agent.timer, and once by the bootstrap at first boot) reads it
over IMDSv2, checks it, and when its digest differs from the applied one writes the files
atomically and restarts exactly the services whose files changed.

Files the applied bundle wrote (current.json) that a new one no longer lists are deleted (only
under the allowed roots). A write that fails part way puts every touched file back (bytes, mode or
absence) and leaves the old bundle applied.

A bundle is refused (old files kept, reason in the log and status.json) when: it does not
decode, its format is unknown, a file's sha256 or the digest does not match, a path lies
outside the allowed roots, a mode or service is unknown, a JSON file does not parse, or
`docker compose config -q` rejects the compose file (checked on temp copies, before any
file is written). File contents (secrets) never reach the log or the status file.

Standard library only: Ubuntu's python3 runs it before Docker is installed.

A change whose actions fail (a build, `compose up`) is rolled back: the old files are put back
(and the old firewall rules and containers restored), the attempt is recorded in attempts.json,
and it is tried again after an exponential back-off (2 min doubling to a cap); with an apply_at
quiet hour, retries happen only inside that hour's window, else the next day. LiveKit is
stopped with SIGTERM first and given its stop_grace_period (livekit.drain_seconds) to drain its
rooms. After a change that built or changed images, and weekly (--prune), unused images and
build cache are pruned, harder when the disk is over the stated share. status.json says the
last change, the attempts, the next try and the disk use.

Usage: flowstack-agent [--now] [--no-restart] [--fetch-source] [--prune] [--ready MODE HOST...] [--status-json] [--settings FILE]
  --now           apply at once, ignoring the bundle's apply_at quiet hour and the back-off
  --no-restart    write the files only (first boot: the bootstrap starts the services)
  --fetch-source  clone the app's git source named by the bundle (the bootstrap's step 3)
  --prune         prune unused images and build cache (the weekly timer)
  --ready         exit 0 when every compose service is healthy and HTTPS on 127.0.0.1 answers each
                  HOST with a certificate that verifies (MODE acme: the system's trust store;
                  internal: Caddy's local CA; cloudflare_origin: any certificate)
  --status-json   print, and change nothing: one JSON document {status, attempts, pending, ready: the
                  state files (null when absent), disk: the boot volume now (used and total bytes,
                  used_pct, prune_above_pct), now: the server's clock}; `flowstack status --ssh` reads it
Environment: FLOWSTACK_ROOT prefixes every path read or written (tests run it in a temp
tree; empty on a server). FLOWSTACK_AGENT_CLOCK (test seam, "YYYY-MM-DDTHH:MM", the
server's local time) replaces the clock for the apply_at decision.
"""

import base64
import binascii
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import urllib.request

SETTINGS = "/etc/flowstack/agent.json"
MAX_BUNDLE_BYTES = 4 * 1024 * 1024  # decompressed; the metadata limit keeps it far smaller
ROOT = os.environ.get("FLOWSTACK_ROOT", "")


class Refused(Exception):
    """The bundle is broken: it is not applied, the running files stay."""


def here(path):
    return ROOT + path


def now_local():
    seam = os.environ.get("FLOWSTACK_AGENT_CLOCK")
    if seam:
        return datetime.datetime.strptime(seam, "%Y-%m-%dT%H:%M")
    return datetime.datetime.now()


STAMP = "%Y-%m-%dT%H:%M:%S"


def log(settings, text):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = "%s flowstack-agent: %s\n" % (stamp, text)
    path = here(settings["log"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
    sys.stdout.write(line)


def write_json(path, data, mode=0o600):
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), mode)


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_atomic(path, data, mode):
    """Temp file in the same directory, right mode (and root owner on a server), fsync, rename."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if os.geteuid() == 0:
            os.chown(tmp, 0, 0)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- reading and checking the bundle --------------------------------------------------------

def fetch(settings):
    """The metadata value over IMDSv2 (the stack disables the legacy endpoints)."""
    request = urllib.request.Request(settings["metadata_url"], headers={"Authorization": "Bearer Oracle"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode("ascii", "replace").strip()


def decode(raw):
    try:
        packed = base64.b64decode(raw, validate=True)
        with gzip.GzipFile(fileobj=io.BytesIO(packed)) as g:
            text = g.read(MAX_BUNDLE_BYTES + 1)
    except (binascii.Error, ValueError, OSError, EOFError) as exc:
        raise Refused("the bundle does not decode (base64 + gzip): %s" % exc) from None
    if len(text) > MAX_BUNDLE_BYTES:
        raise Refused("the bundle is over %d bytes decompressed" % MAX_BUNDLE_BYTES)
    try:
        return json.loads(text.decode("utf-8"))
    except ValueError as exc:
        raise Refused("the bundle is not JSON: %s" % exc) from None


def digest_of(files):
    """The digest Terraform writes: sha256 over path, mode, service and sha256 of each file."""
    text = "".join("%s\n%s\n%s\n%s\n" % (f["path"], f["mode"], f["service"], f["sha256"]) for f in files)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check(bundle, settings):
    """Every rule a bundle must meet; returns {path: (bytes, file entry)}."""
    if not isinstance(bundle, dict) or bundle.get("format") != settings["format"]:
        raise Refused("unknown bundle format %r (this agent reads format %d)" % (
            bundle.get("format") if isinstance(bundle, dict) else None, settings["format"]))
    if not isinstance(bundle.get("apply_at"), str) or not re.search(settings["apply_at_regex"], bundle["apply_at"]):
        raise Refused("apply_at %r is not HH:MM or empty" % bundle.get("apply_at"))
    files = bundle.get("files")
    if not isinstance(files, list) or not files:
        raise Refused("the bundle lists no files")
    out = {}
    for f in files:
        path, data = check_file(f, settings)
        if path in out:
            raise Refused("%s appears twice" % path)
        out[path] = (data, f)
    if bundle.get("digest") != digest_of(files):
        raise Refused("the digest does not match the files (expected %s)" % str(bundle.get("digest"))[:12])
    return out


def allowed(path, settings):
    """A normalised absolute path under one of the allowed roots (the only ones written or deleted)."""
    return isinstance(path, str) and os.path.normpath(path) == path and path.startswith("/") and any(path.startswith(r) for r in settings["roots"])


def check_file(f, settings):
    keys = ("path", "mode", "encoding", "service", "sha256", "content")
    if not isinstance(f, dict) or any(not isinstance(f.get(k), str) for k in keys):
        raise Refused("a file entry lacks one of %s" % ", ".join(keys))
    path = f["path"]
    if not allowed(path, settings):
        raise Refused("%s is not a path the agent may write (allowed under: %s)" % (path, ", ".join(settings["roots"])))
    if not re.fullmatch(r"0[0-7][0-7][0-7]", f["mode"]) or int(f["mode"], 8) & 0o022:
        raise Refused("%s: mode %s is not one the agent writes (0NNN, not group/world writable)" % (path, f["mode"]))
    if f["service"] not in settings["services"]:
        raise Refused("%s: unknown service %r" % (path, f["service"]))
    if hashlib.sha256(f["content"].encode("utf-8")).hexdigest() != f["sha256"]:
        raise Refused("%s: content does not match its sha256" % path)
    if f["encoding"] == "text":
        data = f["content"].encode("utf-8")
    elif f["encoding"] == "b64":
        try:
            data = base64.b64decode(f["content"], validate=True)
        except (binascii.Error, ValueError):
            raise Refused("%s: content is not base64" % path) from None
    else:
        raise Refused("%s: unknown encoding %r" % (path, f["encoding"]))
    if path.endswith(".json"):
        try:
            json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise Refused("%s does not parse as JSON: %s" % (path, exc)) from None
    return path, data


# -- writing, with a way back -----------------------------------------------------------------

def boot_names(settings):
    """(fill files, {mark: host}) of the boot step (auto domains), once it has found the names."""
    hs = read_json(here(settings["hostnames_settings"])) or {}
    env = {}
    try:
        with open(here(hs.get("env_file", "/nonexistent")), encoding="utf-8") as f:
            env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        pass
    marks = {mark: env[name] for name, mark in (hs.get("marks") or {}).items() if name in env}
    return set(hs.get("fill_files") or []), marks


def mode_of(target):
    try:
        return os.stat(target).st_mode & 0o777
    except OSError:
        return None


def keep(backup, target):
    """What target holds before the agent first touches it this run: (bytes, mode), or (None, 0)."""
    if target in backup:
        return
    if os.path.lexists(target):
        with open(target, "rb") as f:
            backup[target] = (f.read(), os.stat(target).st_mode & 0o777)
    else:
        backup[target] = (None, 0)


def write_files(changed, removed, checked, settings, backup):
    """Writes the changed files and deletes the removed ones; backup gets each file's old state first,
    so that a failure part way (OSError) can be undone by roll_back."""
    fill, marks = boot_names(settings)
    for path in changed:
        data, f = checked[path]
        target = here(path)
        mode = int(f["mode"], 8)
        if path in fill:
            # The boot step's pristine copy; the live file gets the names it found (if any yet).
            keep(backup, target + ".in")
            write_atomic(target + ".in", data, mode)
            text = data.decode("utf-8")
            for mark, host in marks.items():
                text = text.replace(mark, host)
            data = text.encode("utf-8")
        keep(backup, target)
        write_atomic(target, data, mode)
    for path in removed:
        for target in [here(path)] + ([here(path) + ".in"] if path in fill else []):
            if os.path.lexists(target):
                keep(backup, target)
                os.unlink(target)


def roll_back(backup):
    """Puts every touched file back (bytes and mode, or absence); returns a note when that fails too."""
    try:
        for target, (old, mode) in reversed(list(backup.items())):
            if old is not None:
                write_atomic(target, old, mode)
            elif os.path.lexists(target):
                os.unlink(target)
    except OSError as exc:
        return "restoring the old files failed too: %s" % exc
    return ""


def docker(settings, *args):
    cmd = ["docker", "compose", "-f", here(settings["compose_file"]), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def compose_ok(settings, state, checked, changed):
    """`docker compose config -q` on the new compose file, before anything is written.

    Compose reads the compose file and the env_files it names: both are checked from temp copies
    (the new bundle's versions, the compose text pointing at them), relative paths resolve against
    the app directory as they do live. The running files are not touched."""
    compose = settings["compose_file"]
    if compose not in checked or shutil.which("docker") is None:
        return None  # first boot: Docker is not installed yet
    text = checked[compose][0].decode("utf-8")
    # Compose reads its env_files when it loads the file: a changed one is checked as well.
    if compose not in changed and not any(p.endswith(".env") and p in text for p in changed):
        return None
    with tempfile.TemporaryDirectory(prefix="compose-check.", dir=state) as tmp:
        # Longest paths first, so a path that is the start of another is not replaced inside it.
        for i, path in enumerate(sorted((p for p in checked if p != compose and p in text), key=len, reverse=True)):
            copy = os.path.join(tmp, "%d-%s" % (i, os.path.basename(path)))
            write_atomic(copy, checked[path][0], 0o600)
            text = text.replace(path, copy)
        candidate = os.path.join(tmp, os.path.basename(compose))
        write_atomic(candidate, text.encode("utf-8"), 0o600)
        r = subprocess.run(["docker", "compose", "-f", candidate, "--project-directory", here(settings["app_dir"]), "config", "-q"],
                           capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise Refused("docker compose config rejects %s: %s" % (compose, (r.stderr or r.stdout).replace(tmp, "(new)").strip()[:300]))
    return True


# -- a private app repository (issue 22) ------------------------------------------------------

def git_credential_args(settings):
    """``git -c`` options that hand git the private repository's token through a credential helper.

    The token lives only in the credentials file the bundle writes (``username=...`` and
    ``password=...`` lines, git's credential format), mode 0600: never in the URL (the URL
    rule refuses user:token@), in git's argv or environment (process lists), or in the log.
    The helper is a shell function that prints that file when git asks (``get``); git asks
    only after the server answers 401, so a public repository never reads it. Other helpers
    (a credential store) are switched off first, so nothing keeps a copy. No file: no options.
    """
    path = here(settings["app_dir"] + "/git-credentials")  # contract.GIT_CREDENTIALS_FILE
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return []
    if mode & 0o077:
        raise Refused("git-credentials has mode %o; it must be 0600" % mode)
    helper = "!f() { test \"$1\" = get && cat '%s'; }; f" % path.replace("'", "'\\''")
    return ["-c", "credential.helper=", "-c", "credential.helper=" + helper, "-c", "credential.interactive=never"]


def install_registry_auth(settings, changed):
    """Merge the bundle's private-registry login into root's Docker client config, which
    `docker compose pull/up` reads (no `docker login`: the password never reaches argv).

    Only when the bundle's file changed; other registries' entries in that config are kept.
    Both files are 0600. The login itself is never logged.
    """
    src = settings.get("registry_auth_file")
    if not src or src not in changed:
        return
    auths = (read_json(here(src)) or {}).get("auths") or {}
    target = here(settings.get("docker_client_config", "/root/.docker/config.json"))
    current = read_json(target) or {}
    current["auths"] = dict(current.get("auths") or {}, **auths)
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    os.chmod(os.path.dirname(target), 0o700)  # as `docker login` leaves ~/.docker
    write_json(target, current, mode=0o600)


def git_env(settings, url):
    """git's environment: no prompt (a wrong token or key fails at once instead of waiting).

    An ssh URL (the deploy-key route, issue 22): ssh reads only the bundle's ssh config
    (git-ssh-config: the deploy key, the pinned known_hosts, StrictHostKeyChecking, BatchMode),
    whose paths start with ${FLOWSTACK_ROOT}. GIT_SSH_COMMAND names files, never the key itself.
    The key file is empty when socket_git_ssh_key was not given: refused here, with the reason.
    """
    env = dict(os.environ, FLOWSTACK_ROOT=ROOT, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="/bin/false")
    if url[:8] != "https://":
        app = here(settings["app_dir"])
        if not os.path.getsize(app + "/git-ssh-key"):
            raise Refused("no deploy key for the ssh git URL (socket_git_ssh_key)")
        env["GIT_SSH_COMMAND"] = "ssh -F '%s/git-ssh-config'" % app
    return env


# -- acting on a change -----------------------------------------------------------------------

def fetch_source(settings):
    """Clone the app's git source (URL and ref from the bundle's source file) into APP/app."""
    src = read_json(here(settings["source_file"])) or {}
    url, ref = src.get("url", ""), src.get("ref", "")
    if not re.search(settings["git_url_regex"], url) or not re.search(settings["git_ref_regex"], ref):
        raise Refused("%s does not hold a valid git URL and ref" % settings["source_file"])
    app = here(settings["app_dir"] + "/app")
    new = app + ".new"
    shutil.rmtree(new, ignore_errors=True)
    r = subprocess.run(["git", *git_credential_args(settings), "clone", "-q", "--depth", "1", "--branch", ref, "--", url, new],
                       capture_output=True, check=False, env=git_env(settings, url))
    if r.returncode != 0:
        # Neither the command nor git's output: both carry the URL, which may hold credentials.
        raise RuntimeError("git clone failed (exit %d)" % r.returncode)
    shutil.rmtree(app + ".old", ignore_errors=True)
    if os.path.exists(app):
        os.rename(app, app + ".old")  # kept until the change succeeds: a failed build puts it back
    os.rename(new, app)


def source_settled(settings, ok):
    """After a change: drop the previous clone (ok), or put it back in place of the new one."""
    app = here(settings["app_dir"] + "/app")
    if not os.path.exists(app + ".old"):
        return
    if not ok:
        shutil.rmtree(app, ignore_errors=True)
        os.rename(app + ".old", app)
    shutil.rmtree(app + ".old", ignore_errors=True)


def grace_seconds(settings):
    """LiveKit's stop_grace_period (livekit.drain_seconds) as the compose file on disk says."""
    try:
        with open(here(settings["compose_file"]), encoding="utf-8") as f:
            m = re.search(r"stop_grace_period: ['\"]?(\d+)s", f.read())
    except OSError:
        m = None
    return int(m.group(1)) if m else 10


def act(services, changed, settings, done):
    """Runs what the changed files need, in order; ``done`` gets each step run (for the log and the roll-back)."""

    def run(what, cmd):
        r = subprocess.run(cmd, capture_output=True, text=True, check=False) if not callable(cmd) else cmd()
        done.append(what)
        if r is not None and r.returncode != 0:
            raise RuntimeError("%s failed (exit %d): %s" % (what, r.returncode, (r.stderr or r.stdout).strip()[:300]))

    if "firewall" in services:
        run("firewall", [here(settings["firewall_script"])])
    if "socket-build" in services:
        if settings["source_file"] in changed:
            run("fetch source", lambda: fetch_source(settings))
        run("build socket", lambda: docker(settings, "build", "socket"))
    restart = restarts_of(services, settings)
    if "livekit" in restart:
        # LiveKit drains on SIGTERM: rooms keep running until they end or the grace period is over.
        # (A compose change that recreates LiveKit stops it the same way: compose uses stop_grace_period.)
        grace = grace_seconds(settings)
        log(settings, "LiveKit drains first: SIGTERM, up to %d s for its rooms to empty (livekit.drain_seconds)" % grace)
        run("drain livekit", lambda: docker(settings, "stop", "-t", str(grace), "livekit"))
    if "compose" in services:
        # Recreates exactly the services whose definition changed.
        run("compose up -d", lambda: docker(settings, "up", "-d", "--remove-orphans"))
    if restart:
        # Recreated, not just restarted: a container re-reads its env_file only when created.
        run("recreate " + " ".join(restart), lambda: docker(settings, "up", "-d", "--no-deps", "--force-recreate", *restart))
    return done


def restarts_of(services, settings):
    """The compose services a change recreates (the map is generator/contract.py's, passed as data)."""
    return sorted({settings["containers"][s] for s in services if s in settings["containers"]})


def restore(services, settings, done):
    """After the old files are back: the old firewall rules and containers, as far as the failed try got."""
    notes = []
    try:
        if "firewall" in done:
            subprocess.run([here(settings["firewall_script"])], capture_output=True, check=False)
            notes.append("firewall")
        if any(d.startswith(("compose", "recreate", "drain")) for d in done):
            restart = restarts_of(services, settings)
            docker(settings, "up", "-d", "--remove-orphans")
            if restart:
                docker(settings, "up", "-d", "--no-deps", "--force-recreate", *restart)
            notes.append("containers" + "".join(" " + r for r in restart))
    except OSError as exc:
        notes.append("restoring failed: %s" % exc)
    return notes


def disk(settings):
    """Use of the boot volume (the file system holding Docker's data)."""
    try:
        u = shutil.disk_usage(here("/") or "/")
    except OSError:
        return None
    return {"used": u.used, "total": u.total, "used_pct": round(100.0 * u.used / u.total, 1), "prune_above_pct": settings["prune_above_pct"]}


def prune(settings, why):
    """Unused images and build cache: dangling ones always, every unused one when the disk is over its share."""
    if shutil.which("docker") is None:
        return None
    steps = [["docker", "image", "prune", "-f"], ["docker", "builder", "prune", "-f"]]
    before = disk(settings)
    if before and before["used_pct"] > settings["prune_above_pct"]:
        steps = [["docker", "image", "prune", "-a", "-f"], ["docker", "builder", "prune", "-a", "-f"]]
    for cmd in steps:
        subprocess.run(cmd, capture_output=True, check=False)
    after = disk(settings)
    log(settings, "pruned unused images and build cache (%s%s): disk %s%% used" % (
        why, ", all unused: over %s%%" % settings["prune_above_pct"] if len(steps[0]) == 5 else "", after and after["used_pct"]))
    return after


def healthy(settings):
    """Problems with the compose services: each must be running and healthy."""
    r = docker(settings, "ps", "-a", "-q")
    ids = r.stdout.split() if r.returncode == 0 else []
    if not ids:
        return ["no compose service runs yet"]
    r = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=False)
    try:
        items = json.loads(r.stdout) if r.returncode == 0 else []
    except ValueError:
        items = []
    out = []
    for c in items:
        name = c.get("Config", {}).get("Labels", {}).get("com.docker.compose.service") or c.get("Name", "?")
        health = (c.get("State", {}).get("Health") or {}).get("Status") or c.get("State", {}).get("Status")
        if health != "healthy":
            out.append("%s is %s" % (name, health))
    return out if items else ["cannot inspect the compose services"]


def certificate(settings, mode, host):
    """(issuer, notAfter) of the certificate HTTPS on this host serves for ``host``; raises when it does not verify."""
    if mode == "internal":
        # Caddy's local CA: under /data/caddy with the Caddyfile (XDG data dir), under /data with caddy.json (storage root).
        roots = [here(settings["app_dir"] + "/caddy-data" + sub + "/pki/authorities/local/root.crt") for sub in ("/caddy", "")]
        ctx = ssl.create_default_context(cafile=next((r for r in roots if os.path.exists(r)), roots[0]))
    else:
        ctx = ssl.create_default_context()
    if mode == "cloudflare_origin":  # Cloudflare's origin CA is trusted by Cloudflare only
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    port = int(os.environ.get("FLOWSTACK_HTTPS_PORT", "443"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(raw, server_hostname=host) as tls:
        cert = tls.getpeercert() or {}
    issuer = dict(x[0] for x in cert.get("issuer", ()))
    return issuer.get("organizationName") or issuer.get("commonName") or "(not verified: %s)" % mode, cert.get("notAfter", "")


def ready(settings, mode, hosts):
    """The bring-up's readiness: every service healthy and a verified TLS handshake per public name."""
    problems = healthy(settings)
    certs = {}
    for host in hosts:
        try:
            certs[host] = dict(zip(("issuer", "not_after"), certificate(settings, mode, host)))
        except (OSError, ssl.SSLError, ValueError) as exc:
            problems.append("HTTPS for %s: %s" % (host, exc))
    state = here(settings["state_dir"])
    os.makedirs(state, mode=0o700, exist_ok=True)
    write_json(os.path.join(state, "ready.json"), {"checked": now_local().strftime(STAMP), "problems": problems, "certificates": certs})
    sys.stdout.write("".join("not ready: %s\n" % p for p in problems) or "ready: %s\n" % ", ".join(
        "%s (%s, until %s)" % (h, c["issuer"], c["not_after"]) for h, c in certs.items()))
    return 1 if problems else 0


# -- one run ------------------------------------------------------------------------------------

def next_time(at, now):
    hh, mm = (int(x) for x in at.split(":"))
    when = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    # Minute precision: a change first seen during the quiet minute itself applies in that minute.
    return when if when >= now.replace(second=0, microsecond=0) else when + datetime.timedelta(days=1)


def held(bundle, digest, state, force, window):
    """The time the change waits for (apply_at), or None when it applies now. A change that failed
    in its quiet hour is retried only inside that hour's window (``window`` minutes), then the next day."""
    pending_path = os.path.join(state, "pending.json")
    if force or not bundle["apply_at"]:
        return None
    now = now_local()
    pending = read_json(pending_path) or {}
    if pending.get("digest") != digest or pending.get("apply_at") != bundle["apply_at"]:
        pending = {"digest": digest, "apply_at": bundle["apply_at"], "until": next_time(bundle["apply_at"], now).strftime("%Y-%m-%dT%H:%M")}
        write_json(pending_path, pending)
    until = datetime.datetime.strptime(pending["until"], "%Y-%m-%dT%H:%M")
    if now >= until + datetime.timedelta(minutes=window):
        pending["until"] = next_time(bundle["apply_at"], now).strftime("%Y-%m-%dT%H:%M")
        write_json(pending_path, pending)
        until = datetime.datetime.strptime(pending["until"], "%Y-%m-%dT%H:%M")
    return None if now >= until else until


def backing_off(state, digest, force):
    """The recorded failed attempts of this change, and the time before which it is not retried."""
    attempts = read_json(os.path.join(state, "attempts.json")) or {}
    if attempts.get("digest") != digest:
        return {}, None
    nxt = datetime.datetime.strptime(attempts["next_try"], STAMP)
    return attempts, (None if force or now_local() >= nxt else nxt)


def failed_attempt(settings, state, digest, attempts, error):
    """Records one failed try; the next waits 2 min doubling per failure, up to the cap."""
    n = attempts.get("attempts", 0) + 1
    delay = min(settings["backoff_base_seconds"] * 2 ** (n - 1), settings["backoff_cap_seconds"])
    now = now_local()
    record = {"digest": digest, "attempts": n, "first_try": attempts.get("first_try", now.strftime(STAMP)),
              "last_try": now.strftime(STAMP), "next_try": (now + datetime.timedelta(seconds=delay)).strftime(STAMP), "last_error": error}
    write_json(os.path.join(state, "attempts.json"), record)
    return record


def run_once(settings, force=False, restart=True):
    state = here(settings["state_dir"])
    os.makedirs(state, mode=0o700, exist_ok=True)
    current = read_json(os.path.join(state, "current.json")) or {"digest": None, "files": {}}
    before = read_json(os.path.join(state, "status.json")) or {}
    status = {"checked": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "applied_digest": current["digest"],
              "last_change": before.get("last_change"), "disk": disk(settings)}
    try:
        bundle = decode(fetch(settings))
        checked = check(bundle, settings)
    except Refused as exc:
        return finish(settings, state, status, "refused", "bundle refused, running files kept: %s" % exc, 1)
    except OSError as exc:
        return finish(settings, state, status, "error", "cannot read the metadata bundle: %s" % exc, 1)
    digest = bundle["digest"]
    status["digest"] = digest
    if digest == current["digest"]:
        return finish(settings, state, status, "unchanged", None, 0)
    until = held(bundle, digest, state, force, settings["apply_window_minutes"])
    if until is not None:
        status["pending_until"] = until.strftime("%Y-%m-%d %H:%M")
        return finish(settings, state, status, "pending", "bundle %s pending until %s (apply_at %s, server time)" % (
            digest[:12], status["pending_until"], bundle["apply_at"]), 0)
    attempts, wait = backing_off(state, digest, force)
    if wait is not None:
        status.update(attempts=attempts, next_try=attempts["next_try"])
        return finish(settings, state, status, "backoff", "bundle %s failed %d time(s), next try %s: %s" % (
            digest[:12], attempts["attempts"], attempts["next_try"], attempts.get("last_error", "")), 0)
    return apply(settings, state, status, current, checked, digest, restart, attempts)


def needs_write(path, f, entry):
    """Content or mode differs from the applied bundle, or the file on disk is gone or has another mode."""
    return entry.get("sha256") != f["sha256"] or entry.get("mode") != f["mode"] or mode_of(here(path)) != int(f["mode"], 8)


def apply(settings, state, status, current, checked, digest, restart, attempts):
    old = current.get("files") or {}
    changed = [p for p, (_, f) in checked.items() if needs_write(p, f, old.get(p) or {})]
    # Files the last bundle wrote that this one no longer has (e.g. an origin key after a TLS change).
    removed = sorted(p for p in old if p not in checked and allowed(p, settings))
    services = {checked[p][1]["service"] for p in changed} | ({(old[p] or {}).get("service") for p in removed} & set(settings["services"]))
    status.update(changed=sorted(changed), removed=removed, services=sorted(services))
    try:
        compose_ok(settings, state, checked, changed)
    except Refused as exc:
        return finish(settings, state, status, "refused", "bundle %s refused, running files kept: %s" % (digest[:12], exc), 1)
    except OSError as exc:
        return finish(settings, state, status, "error", "bundle %s not applied, running files kept: cannot check the compose file: %s" % (digest[:12], exc), 1)
    backup = {}
    try:
        write_files(changed, removed, checked, settings, backup)
    except OSError as exc:
        undone = roll_back(backup)
        return finish(settings, state, status, "error", "bundle %s not applied, writing the files failed: %s; %s (retried next run)" % (
            digest[:12], exc, undone or "the old files are restored"), 1)
    done = []
    try:
        install_registry_auth(settings, changed)  # before any pull, also at first boot (--no-restart)
        if restart:
            act(services, changed, settings, done)
    except (RuntimeError, OSError, subprocess.CalledProcessError, Refused) as exc:
        # Nothing half-applied stays: the old files go back (a reboot must not start an untested
        # config), then the old rules and containers; the change is retried after a back-off.
        undone = roll_back(backup)
        source_settled(settings, False)
        notes = restore(services, settings, done)
        record = failed_attempt(settings, state, digest, attempts, str(exc))
        status.update(attempts=record, next_try=record["next_try"])
        return finish(settings, state, status, "error", "bundle %s failed (attempt %d): %s; rolled back: %s%s; next try %s" % (
            digest[:12], record["attempts"], exc, undone or "old files restored", "".join(", " + n for n in notes), record["next_try"]), 1)
    source_settled(settings, True)
    files = {p: {"sha256": f["sha256"], "service": f["service"], "mode": f["mode"]} for p, (_, f) in checked.items()}
    write_json(os.path.join(state, "current.json"), {"digest": digest, "files": files})
    for name in ("pending.json", "attempts.json"):
        if os.path.exists(os.path.join(state, name)):
            os.unlink(os.path.join(state, name))
    status["applied_digest"] = digest
    status["last_change"] = {"digest": digest, "applied": now_local().strftime(STAMP), "attempts": attempts.get("attempts", 0) + 1,
                             "services": sorted(services)}
    if restart and services & {"socket-build", "compose"}:
        status["disk"] = prune(settings, "after the change") or status["disk"]
    what = "; ran: " + ", ".join(done) if done else ("; no restart (--no-restart)" if not restart else "")
    gone = "; removed: " + ", ".join(removed) if removed else ""
    return finish(settings, state, status, "applied", "applied bundle %s: %d file(s) changed (%s)%s%s" % (
        digest[:12], len(changed), ", ".join(sorted(changed)) or "none", gone, what), 0)


def finish(settings, state, status, result, message, code):
    path = os.path.join(state, "status.json")
    before = read_json(path) or {}
    status.update(state=result, message=message or "bundle %s already applied" % status.get("digest", "")[:12])
    write_json(path, status)
    # One log line per event: an unchanged run, or the same pending change or refusal seen again
    # every 2 minutes, only refreshes the status file's time.
    if message and (before.get("state"), before.get("message")) != (result, message):
        log(settings, message)
    return code


def main(argv):
    args = argv[1:]
    settings_path = SETTINGS
    if "--settings" in args:
        settings_path = args[args.index("--settings") + 1]
    settings = read_json(here(settings_path))
    if settings is None:
        sys.stderr.write("flowstack-agent: cannot read %s\n" % here(settings_path))
        return 2
    if "--status-json" in args:
        # Read-only, for `flowstack status --ssh`: the state files as they are and the disk now.
        state = here(settings["state_dir"])
        out = {n: read_json(os.path.join(state, n + ".json")) for n in ("status", "attempts", "pending", "ready")}
        print(json.dumps(dict(out, disk=disk(settings), now=now_local().strftime(STAMP))))
        return 0
    if "--fetch-source" in args:
        try:
            fetch_source(settings)
        except (Refused, OSError, RuntimeError) as exc:
            log(settings, "cannot fetch the app source: %s" % exc)
            return 1
        return 0
    if "--ready" in args:
        rest = args[args.index("--ready") + 1:]
        return ready(settings, rest[0], [h for h in rest[1:] if not h.startswith("--")])
    if "--prune" in args:
        state = here(settings["state_dir"])
        result = prune(settings, "weekly")
        status = read_json(os.path.join(state, "status.json"))
        if status is not None and result is not None:
            status["disk"] = result
            write_json(os.path.join(state, "status.json"), status)
        return 0
    return run_once(settings, force="--now" in args, restart="--no-restart" not in args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
