"""`flowstack doctor --media`: join a room with the real LiveKit client SDK, publish a tone, report the transport.

Uses PyPI ``livekit`` (the native WebRTC core) and ``livekit-api`` (the access token),
the optional extra ``media`` (``pip install 'flowstack[media]'``).  The transport is read
from the publisher's selected ICE candidate pair: ``relay`` (through TURN), else the
local candidate's protocol (``udp`` or ``tcp``).  Everything has a deadline.  The
signalling TLS is checked by the SDK against the system store, or the ``SSL_CERT_FILE``
bundle (doctor sets it from ``--ca-file``).

>>> transport_of([{"local": {"candidate_type": "host", "protocol": "udp"}}])
'UDP'
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from .probe import Row

RATE = 48000
FIX = "open the media ports (rtc.port_range UDP, rtc.tcp_port, TURN) in the security list and host firewall; check `docker logs livekit`"


def transport_of(pairs: list[dict[str, Any]]) -> str | None:
    """UDP, TCP or RELAY (TURN) from selected candidate pairs; None if there is none."""
    for pair in pairs:
        local = pair.get("local", {})
        if local.get("candidate_type") == "relay":
            return "RELAY"
        if local.get("protocol"):
            return str(local["protocol"]).upper()
    return None


def _selected_pairs(stats: list[Any]) -> list[dict[str, Any]]:
    from google.protobuf.json_format import MessageToDict  # comes with the livekit wheel (extra `media`)

    by_id: dict[str, dict[str, Any]] = {}
    transports = []
    for s in stats:
        for kind, body in MessageToDict(s, preserving_proto_field_name=True).items():
            by_id[body.get("rtc", {}).get("id", "")] = body
            if kind == "transport":
                transports.append(body)
    out = []
    for t in transports:
        pair = by_id.get(t.get("transport", {}).get("selected_candidate_pair_id", ""), {}).get("candidate_pair")
        if pair:
            local = by_id.get(pair.get("local_candidate_id", ""), {}).get("candidate", {})
            out.append({"local": local, "bytes_sent": int(pair.get("bytes_sent", 0))})
    return out


async def _tone(rtc: Any, room: Any, seconds: float) -> None:
    source = rtc.AudioSource(RATE, 1)
    opts = rtc.TrackPublishOptions()
    opts.source = rtc.TrackSource.SOURCE_MICROPHONE
    await room.local_participant.publish_track(rtc.LocalAudioTrack.create_audio_track("doctor-tone", source), opts)
    samples, n = RATE // 100, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        frame = rtc.AudioFrame.create(RATE, 1, samples)
        for i in range(samples):
            frame.data[i] = int(6000 * math.sin(2 * math.pi * 440 * (n * samples + i) / RATE))
        await source.capture_frame(frame)
        n += 1


async def _join(url: str, key: str, secret: str, seconds: float, timeout: float) -> dict[str, Any]:
    from livekit import api, rtc  # optional extra `media`: only --media pays for the native SDK

    grants = api.VideoGrants(room_join=True, room="flowstack-doctor", can_publish=True, can_subscribe=True)
    token = api.AccessToken(key, secret).with_identity("flowstack-doctor").with_grants(grants).to_jwt()
    room = rtc.Room()
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(room.connect(url, token), timeout)
        connected = time.monotonic() - t0
        await asyncio.wait_for(_tone(rtc, room, seconds), seconds + timeout)
        stats = await asyncio.wait_for(room.get_rtc_stats(), timeout)
        pairs = _selected_pairs(list(stats.publisher_stats) + list(stats.subscriber_stats))
        return {"connected_s": round(connected, 2), "pairs": pairs, "transport": transport_of(pairs)}
    finally:
        try:
            await asyncio.wait_for(room.disconnect(), 5)
        except Exception:  # noqa: BLE001, S110 - best effort at exit; the result is already in hand
            pass


def check_media(url: str, key: str, secret: str, *, seconds: float = 2.0, timeout: float = 15.0) -> Row:
    """Join, publish ``seconds`` of a 440 Hz tone, and report the transport as one `Row`."""
    try:
        result = asyncio.run(_join(url, key, secret, seconds, timeout))
    except ImportError:
        return Row("LiveKit media", "FAIL", "the LiveKit SDK is not installed", "pip install 'flowstack[media]' (PyPI livekit, livekit-api)")
    except (asyncio.TimeoutError, TimeoutError):
        return Row("LiveKit media", "FAIL", f"no connection to {url} within {timeout:g} s", FIX)
    except Exception as exc:  # noqa: BLE001 - the SDK raises its own ConnectError and others; one line for the user
        return Row("LiveKit media", "FAIL", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", FIX)
    sent = sum(p["bytes_sent"] for p in result["pairs"])
    if not result["transport"] or sent == 0:
        return Row("LiveKit media", "FAIL", f"joined in {result['connected_s']} s but no media flowed", FIX)
    return Row("LiveKit media", "PASS", f"joined in {result['connected_s']} s, published a tone over {result['transport']} ({sent} bytes)")
