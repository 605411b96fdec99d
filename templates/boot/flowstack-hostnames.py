#!/usr/bin/env python3
"""flowstack-hostnames: the server's sslip.io host names, found at boot (issue 16).

Asks two STUN servers for this server's public IPv4 (OCI maps it 1:1 onto the VNIC), requires
both answers to agree and the address to be one Let's Encrypt can reach, derives
socket.<a-b-c-d>.sslip.io and friends, checks through DNS that the names resolve to that
address, then writes them to an env file (read by Caddy through docker compose: the Caddyfile
names its sites {$SOCKET_HOST}) and fills them into the files that cannot read the
environment (livekit.yaml's turn.domain, Caddy's layer4 JSON). Each such file keeps its
pristine copy as FILE.in, so a re-run after an address change starts from the template.

The codec and the checks are flowstack's own generator/autodomain.py, shipped beside this
script. Standard library only: Ubuntu's python3 runs it before Docker is installed.

Usage: flowstack-hostnames SETTINGS.json
"""

import json
import os
import socket
import sys
import time


def log(text):
    print("flowstack-hostnames: " + text, flush=True)


def stun_query(autodomain, server, timeout):
    host, port = server["host"], int(server["port"])
    txid = os.urandom(12)
    family = socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(autodomain.stun_binding_request(txid), (host, port))
        data, _ = sock.recvfrom(2048)
    return autodomain.stun_mapped_address(data, txid)[0]


def public_ip(autodomain, settings):
    """The address every STUN server agrees on, after a few tries each."""
    answers = {}
    for attempt in range(int(settings["attempts"])):
        for server in settings["stun_servers"]:
            key = "%s:%s" % (server["host"], server["port"])
            if key in answers:
                continue
            try:
                answers[key] = stun_query(autodomain, server, float(settings["timeout_seconds"]))
            except (OSError, ValueError) as exc:
                log("STUN %s: %s (try %d)" % (key, exc, attempt + 1))
        if len(answers) == len(settings["stun_servers"]):
            break
        time.sleep(float(settings["retry_seconds"]))
    if len(answers) < len(settings["stun_servers"]):
        missing = [s for s in ("%s:%s" % (x["host"], x["port"]) for x in settings["stun_servers"]) if s not in answers]
        raise SystemExit("flowstack-hostnames: Error: no STUN answer from %s; the server's public IP stays unknown "
                         "(is UDP egress allowed?)" % ", ".join(missing))
    if len(set(answers.values())) != 1:
        raise SystemExit("flowstack-hostnames: Error: STUN servers disagree about the public IP: %s; "
                         "expected one address (is the server behind a NAT other than OCI's 1:1 public IP?)" % answers)
    address = next(iter(answers.values()))
    problem = autodomain.acme_problem(address)
    if problem:
        raise SystemExit("flowstack-hostnames: Error: STUN found %s" % problem)
    return address


def check_dns(hosts, address, settings):
    """Every name must resolve to ``address`` before Caddy asks Let's Encrypt for it."""
    for host in hosts.values():
        for attempt in range(int(settings["attempts"])):
            try:
                found = {ai[4][0] for ai in socket.getaddrinfo(host, None, socket.AF_INET)}
            except OSError as exc:
                found = {"(%s)" % exc}
            if address in found:
                break
            log("DNS %s -> %s, not %s (try %d)" % (host, sorted(found), address, attempt + 1))
            time.sleep(float(settings["retry_seconds"]))
        else:
            raise SystemExit("flowstack-hostnames: Error: %s does not resolve to %s; sslip.io may be unreachable: "
                             "Caddy would only collect failed ACME validations" % (host, address))


def write_atomic(path, text, mode):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def fill_files(hosts, settings):
    for path in settings["fill_files"]:
        pristine = path + ".in"
        if not os.path.exists(pristine):
            if not os.path.exists(path):
                continue
            os.replace(path, pristine)
        with open(pristine, encoding="utf-8") as f:
            text = f.read()
        for name, host in hosts.items():
            text = text.replace(settings["marks"][name], host)
        write_atomic(path, text, os.stat(pristine).st_mode & 0o777)


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: flowstack-hostnames SETTINGS.json")
    with open(argv[1], encoding="utf-8") as f:
        settings = json.load(f)
    sys.path.insert(0, settings["lib_dir"])
    import autodomain  # flowstack's generator/autodomain.py, shipped beside this script

    address = public_ip(autodomain, settings)
    hosts = {name: autodomain.sslip_host(prefix, address) for name, prefix in settings["prefixes"].items()}
    if settings["check_dns"]:
        check_dns(hosts, address, settings)
    fill_files(hosts, settings)
    lines = ["PUBLIC_IP=%s" % address] + ["%s=%s" % (name, host) for name, host in sorted(hosts.items())]
    write_atomic(settings["env_file"], "\n".join(lines) + "\n", 0o644)
    log("public IP %s: %s" % (address, ", ".join(hosts[n] for n in sorted(hosts))))


if __name__ == "__main__":
    main(sys.argv)
