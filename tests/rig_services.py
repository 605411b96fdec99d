"""What listens behind Caddy and on the media ports in the doctor rig's server namespace.

Run as ``python tests/rig_services.py SOCKET_PORT LIVEKIT_PORT ICE_TCP_PORT TURN_UDP_PORT [--no-livekit]``
inside the namespace (tests/rig_doctor.py starts it):

- the Socket.IO app: python-socketio's real ``AsyncServer`` (ASGI, uvicorn with wsproto)
  on 127.0.0.1:SOCKET_PORT, ``GET /health`` -> 200 (polling handshake and WebSocket
  upgrade are the library's own);
- stand-ins for LiveKit's ports, so most doctor tests need no built livekit-server (the
  machine): its HTTP endpoint (``GET /`` -> 200 ``OK``, as livekit-server answers) on
  127.0.0.1:LIVEKIT_PORT, a TCP listener on 0.0.0.0:ICE_TCP_PORT (ICE/TCP), and a STUN
  Binding responder on 0.0.0.0:TURN_UDP_PORT/udp (what LiveKit's TURN answers to a
  Binding request) written from RFC 5389 independently of generator/ops/stun.py.
  With ``--no-livekit`` only the Socket.IO app runs (the rig runs the real livekit-server).

Prints READY when every listener is bound.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import socketio
import uvicorn

MAGIC = 0x2112A442


def stun_responder(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    while True:
        data, (ip, peer_port) = sock.recvfrom(2048)
        if len(data) < 20 or struct.unpack(">HHI", data[:8]) != (0x0001, len(data) - 20, MAGIC):
            continue
        xport = peer_port ^ (MAGIC >> 16)
        xaddr = bytes(a ^ b for a, b in zip(socket.inet_aton(ip), MAGIC.to_bytes(4, "big")))
        attr = struct.pack(">HHBBH", 0x0020, 8, 0, 1, xport) + xaddr
        sock.sendto(struct.pack(">HHI", 0x0101, len(attr), MAGIC) + data[8:20] + attr, (ip, peer_port))


def tcp_listener(port: int) -> None:
    srv = socket.create_server(("0.0.0.0", port), backlog=16)
    while True:
        conn, _ = srv.accept()
        conn.close()


class LiveKitRoot(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"OK"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


async def health(scope, receive, send):
    if scope["type"] != "http":
        return
    status = 200 if scope["path"] == "/health" else 404
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok" if status == 200 else b"not found"})


def main() -> None:
    socket_port, livekit_port, ice_port, turn_port = map(int, sys.argv[1:5])
    if "--no-livekit" not in sys.argv:  # the real LiveKit runs instead
        threading.Thread(target=stun_responder, args=(turn_port,), daemon=True).start()
        threading.Thread(target=tcp_listener, args=(ice_port,), daemon=True).start()
        httpd = ThreadingHTTPServer(("127.0.0.1", livekit_port), LiveKitRoot)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sio = socketio.AsyncServer(async_mode="asgi")
    app = socketio.ASGIApp(sio, other_asgi_app=health)
    config = uvicorn.Config(app, host="127.0.0.1", port=socket_port, ws="wsproto", log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    print("READY", flush=True)
    server.run()
    os._exit(0)


if __name__ == "__main__":
    main()
