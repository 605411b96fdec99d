"""A TURN/TLS allocation with the credentials LiveKit hands a joining participant.

Why this exists: libwebrtc (inside the ``livekit`` wheel) checks a TURN/TLS server's
certificate against its own built-in roots, not the system's or SSL_CERT_FILE, so it refuses
Caddy's internal CA ("tls: unknown certificate authority" in Caddy's log) -- only a publicly
trusted certificate would do, and none can be had offline. This probe proves the rest of the
path with real parts: it joins over wss:// (signalling, real LiveKit), takes the ``turns:``
URL and credentials from LiveKit's JoinResponse, and makes a TURN allocation over TLS
(aioice, Python's ssl with Caddy's root) through Caddy's layer4 SNI route on 443 to
LiveKit's TURN. Prints one JSON object. Bounded by --timeout.

Example:
    python turn_probe.py --url wss://lk.example --key K --secret S --ca root.crt
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from typing import Any

import websocket
from aioice.turn import create_turn_endpoint
from livekit import api
from livekit.protocol import rtc as proto


def join_ice_servers(url: str, tok: str, ca: str, timeout: float) -> list[dict[str, Any]]:
    """Join over the signalling WebSocket; the ICE servers of LiveKit's JoinResponse."""
    ws = websocket.create_connection(f"{url}/rtc?access_token={tok}&protocol=16&auto_subscribe=0", timeout=timeout, sslopt={"ca_certs": ca})
    try:
        for _ in range(20):
            msg = ws.recv()
            if isinstance(msg, bytes):
                resp = proto.SignalResponse.FromString(msg)
                if resp.WhichOneof("message") == "join":
                    return [{"urls": list(s.urls), "username": s.username, "credential": s.credential} for s in resp.join.ice_servers]
    finally:
        ws.close()
    raise RuntimeError("no JoinResponse")


class _Sink(asyncio.DatagramProtocol):
    pass


async def allocate(turns_url: str, username: str, password: str, ca: str) -> dict[str, Any]:
    # turns:host:443?transport=tcp
    hostport = turns_url.split(":", 1)[1].split("?", 1)[0]
    host, port = hostport.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=ca)
    transport, _ = await create_turn_endpoint(_Sink, (host, int(port)), username, password, ssl=ctx, transport="tcp")
    try:
        relayed = transport.get_extra_info("sockname")  # aioice: the XOR-RELAYED-ADDRESS
        return {"host": host, "port": int(port), "relayed": list(relayed) if relayed else None}
    finally:
        transport.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--timeout", type=float, default=20)
    a = p.parse_args()
    out: dict[str, Any] = {"error": None, "ice_servers": [], "allocation": None}
    try:
        grants = api.VideoGrants(room_join=True, room="probe")
        tok = api.AccessToken(a.key, a.secret).with_identity("turn-probe").with_grants(grants).to_jwt()
        servers = join_ice_servers(a.url, tok, a.ca, a.timeout)
        out["ice_servers"] = [s["urls"] for s in servers]
        turns = [(u, s) for s in servers for u in s["urls"] if u.startswith("turns:")]
        if not turns:
            raise RuntimeError("LiveKit offered no turns: URL")
        url, s = turns[0]
        out["turns_url"] = url
        out["allocation"] = asyncio.run(asyncio.wait_for(allocate(url, s["username"], s["credential"], a.ca), a.timeout))
    except Exception as e:  # noqa: BLE001 - reported in the JSON: the test decides
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
