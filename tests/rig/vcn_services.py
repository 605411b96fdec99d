"""What OCI's VCN gives an instance, for the engine rig (run inside its VCN namespace).

- DNS on 169.254.169.254:53, UDP and TCP, as OCI's VCN resolver: A records from the command
  line (``name=ip``), NXDOMAIN for the rest; every query is logged (``DNS name type proto``),
  so tests see which ones arrived. Written from RFC 1035 (header, one question, one A answer).
- HTTP on 169.254.169.254:80, standing for the instance metadata service: answers 200
  ``metadata`` to any GET (tests only check whether a container reaches it at all);
  ``--no-http`` leaves the port to tests/imds_server.py (the agent test's IMDSv2).
- STUN Binding responder (RFC 5389, XOR-MAPPED-ADDRESS = the sender's address) on
  ``--stun HOST:PORT``: LiveKit resolves its external IP with it at start (names of Google's
  STUN servers are pointed here by the DNS records the test passes).
- The npm registry of tests/rig/npm_registry.py on ``--npm HOST:PORT`` (optional).

``python tests/rig/vcn_services.py --stun 10.78.0.1:19302 [--no-http] [--npm 10.78.0.1:4873 LOCK CACHE] name=ip ...``
prints READY when everything is bound.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

METADATA_IP = "169.254.169.254"
MAGIC = 0x2112A442


def dns_answer(query: bytes, records: dict[str, str], proto: str) -> bytes | None:
    """The response to one DNS query (None when it is not a parsable query)."""
    if len(query) < 12:
        return None
    tid, flags, qd = struct.unpack(">HHH", query[:6])
    if flags & 0x8000 or qd != 1:
        return None
    labels, i = [], 12
    while i < len(query) and query[i]:
        n = query[i]
        labels.append(query[i + 1 : i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype, _qclass = struct.unpack(">HH", query[i + 1 : i + 5])
    question = query[12 : i + 5]
    name = ".".join(labels).lower()
    print(f"DNS {name} {qtype} {proto}", flush=True)
    ip = records.get(name)
    rd = flags & 0x0100
    if ip and qtype == 1:
        answer = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ip)
        return struct.pack(">HHHHHH", tid, 0x8180 | rd, 1, 1, 0, 0) + question + answer
    rcode = 0 if name in records else 3  # a known name without that type: NOERROR, no answer
    return struct.pack(">HHHHHH", tid, 0x8080 | rd | rcode, 1, 0, 0, 0) + question


def serve_dns(records: dict[str, str]) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((METADATA_IP, 53))

    def udp_loop() -> None:
        while True:
            data, peer = udp.recvfrom(4096)
            out = dns_answer(data, records, "udp")
            if out:
                udp.sendto(out, peer)

    class TCPHandler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            head = self.request.recv(2)
            if len(head) < 2:
                return
            (n,) = struct.unpack(">H", head)
            data = b""
            while len(data) < n:
                chunk = self.request.recv(n - len(data))
                if not chunk:
                    return
                data += chunk
            out = dns_answer(data, records, "tcp")
            if out:
                self.request.sendall(struct.pack(">H", len(out)) + out)

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    tcp = socketserver.ThreadingTCPServer((METADATA_IP, 53), TCPHandler)
    threading.Thread(target=udp_loop, daemon=True).start()
    threading.Thread(target=tcp.serve_forever, daemon=True).start()


class Metadata(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        print(f"HTTP {self.client_address[0]} GET {self.path}", flush=True)
        body = b"metadata"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve_stun(host: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))

    def loop() -> None:
        while True:
            data, (ip, peer_port) = sock.recvfrom(2048)
            if len(data) < 20 or struct.unpack(">HHI", data[:8]) != (0x0001, len(data) - 20, MAGIC):
                continue
            print(f"STUN {ip}:{peer_port}", flush=True)
            xaddr = bytes(a ^ b for a, b in zip(socket.inet_aton(ip), MAGIC.to_bytes(4, "big"), strict=True))
            attr = struct.pack(">HHBBH", 0x0020, 8, 0, 1, peer_port ^ (MAGIC >> 16)) + xaddr
            sock.sendto(struct.pack(">HHI", 0x0101, len(attr), MAGIC) + data[8:20] + attr, (ip, peer_port))

    threading.Thread(target=loop, daemon=True).start()


def main() -> None:
    args = sys.argv[1:]
    records: dict[str, str] = {}
    npm: tuple[str, int, Path, Path] | None = None
    stun: tuple[str, int] | None = None
    http = True
    while args:
        a = args.pop(0)
        if a == "--stun":
            h, p = args.pop(0).rsplit(":", 1)
            stun = (h, int(p))
        elif a == "--no-http":
            http = False
        elif a == "--npm":
            h, p = args.pop(0).rsplit(":", 1)
            npm = (h, int(p), Path(args.pop(0)), Path(args.pop(0)))
        else:
            name, ip = a.split("=", 1)
            records[name.lower().rstrip(".")] = ip
    serve_dns(records)
    if http:
        httpd = ThreadingHTTPServer((METADATA_IP, 80), Metadata)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    if stun:
        serve_stun(*stun)
    if npm:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from npm_registry import serve

        threading.Thread(target=serve, args=npm, daemon=True).start()
    print("READY", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
