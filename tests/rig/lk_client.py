"""Two real LiveKit participants (PyPI ``livekit``, native WebRTC core): one publishes audio
and video, the other counts the frames it receives. Runs inside the client namespace and
prints one JSON object: frame counts, the selected ICE candidate pairs and any error.

Bounded: every wait has a deadline, and the process exits by itself.

Example (what the rig runs):
    python lk_client.py --url wss://lk.example --key K --secret S --room r1 --seconds 20 [--relay]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from typing import Any

from google.protobuf.json_format import MessageToDict
from livekit import api, rtc

WIDTH, HEIGHT, FPS = 160, 120, 15
RATE = 48000


def token(key: str, secret: str, room: str, identity: str) -> str:
    """An access token signed with the stack's API key and secret."""
    grants = api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True)
    return api.AccessToken(key, secret).with_identity(identity).with_grants(grants).to_jwt()


def selected_pairs(stats: list[Any]) -> list[dict[str, Any]]:
    """The selected candidate pair of each transport, with both candidates' type and protocol."""
    by_id: dict[str, dict[str, Any]] = {}
    transports = []
    for s in stats:
        d = MessageToDict(s, preserving_proto_field_name=True)
        for kind, body in d.items():
            by_id[body.get("rtc", {}).get("id", "")] = {"kind": kind, **body}
            if kind == "transport":
                transports.append(body)
    out = []
    for t in transports:
        pair = by_id.get(t.get("transport", {}).get("selected_candidate_pair_id", ""))
        if not pair:
            continue
        cp = pair["candidate_pair"]
        local = by_id.get(cp.get("local_candidate_id", ""), {}).get("candidate", {})
        remote = by_id.get(cp.get("remote_candidate_id", ""), {}).get("candidate", {})
        out.append(
            {
                "local": {k: local.get(k) for k in ("address", "port", "protocol", "candidate_type", "relay_protocol", "url")},
                "remote": {k: remote.get(k) for k in ("address", "port", "protocol", "candidate_type")},
                "bytes_sent": int(cp.get("bytes_sent", 0)),
                "bytes_received": int(cp.get("bytes_received", 0)),
            }
        )
    return out


async def publish(room: rtc.Room, stop: asyncio.Event) -> None:
    """A moving video pattern and a 440 Hz tone, in real time until ``stop``."""
    vsrc, asrc = rtc.VideoSource(WIDTH, HEIGHT), rtc.AudioSource(RATE, 1)
    opts = rtc.TrackPublishOptions()
    opts.source = rtc.TrackSource.SOURCE_CAMERA
    await room.local_participant.publish_track(rtc.LocalVideoTrack.create_video_track("cam", vsrc), opts)
    opts = rtc.TrackPublishOptions()
    opts.source = rtc.TrackSource.SOURCE_MICROPHONE
    await room.local_participant.publish_track(rtc.LocalAudioTrack.create_audio_track("mic", asrc), opts)
    n = 0
    samples = RATE // 100
    while not stop.is_set():
        shade = (n * 7) % 256
        frame = rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, bytes([shade, 255 - shade, 128, 255]) * (WIDTH * HEIGHT))
        vsrc.capture_frame(frame)
        for _ in range(100 // FPS):
            af = rtc.AudioFrame.create(RATE, 1, samples)
            buf = af.data  # int16 samples
            for i in range(samples):
                buf[i] = int(8000 * math.sin(2 * math.pi * 440 * (n * samples + i) / RATE))
            await asrc.capture_frame(af)
        n += 1
        await asyncio.sleep(1 / FPS)


async def run(a: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"video_frames": 0, "audio_frames": 0, "error": None}
    options = rtc.RoomOptions(auto_subscribe=True)
    if a.relay:
        options.rtc_config = rtc.RtcConfiguration(ice_transport_type=rtc.IceTransportType.TRANSPORT_RELAY)
    pub, sub = rtc.Room(), rtc.Room()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def count(stream: Any, key: str) -> None:
        async for _ in stream:
            result[key] += 1
            if stop.is_set():
                break

    @sub.on("track_subscribed")
    def _on(track: rtc.Track, *_: Any) -> None:
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            tasks.append(asyncio.ensure_future(count(rtc.VideoStream(track), "video_frames")))
        elif track.kind == rtc.TrackKind.KIND_AUDIO:
            tasks.append(asyncio.ensure_future(count(rtc.AudioStream(track), "audio_frames")))

    t0 = time.monotonic()
    try:
        await asyncio.wait_for(sub.connect(a.url, token(a.key, a.secret, a.room, "receiver"), options), a.connect_timeout)
        await asyncio.wait_for(pub.connect(a.pub_url or a.url, token(a.key, a.secret, a.room, "sender"), options), a.connect_timeout)
        result["connected_s"] = round(time.monotonic() - t0, 2)
        tasks.append(asyncio.ensure_future(publish(pub, stop)))
        deadline = time.monotonic() + a.seconds
        while time.monotonic() < deadline and not (result["video_frames"] >= a.want_video and result["audio_frames"] >= a.want_audio):
            await asyncio.sleep(0.25)
            for t in tasks:
                if t.done() and t.exception():
                    raise t.exception()  # type: ignore[misc]
        result["media_s"] = round(time.monotonic() - t0, 2)
        for name, room in (("sender", pub), ("receiver", sub)):
            st = await asyncio.wait_for(room.get_rtc_stats(), 10)
            # LiveKit may carry both directions on one peer connection: keep every selected pair.
            result[name] = selected_pairs(list(st.publisher_stats) + list(st.subscriber_stats))
    except Exception as e:  # noqa: BLE001 - reported in the JSON: the test decides what a failure means
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        for room in (pub, sub):
            try:
                await asyncio.wait_for(room.disconnect(), 5)
            except Exception:  # noqa: BLE001, S110 - best effort at exit; the result is already in hand
                pass
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--pub-url", default=None, help="the sender's URL, when it is not --url (two nodes of one stack)")
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--room", default="rig")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--connect-timeout", type=float, default=20)
    p.add_argument("--want-video", type=int, default=30)
    p.add_argument("--want-audio", type=int, default=100)
    p.add_argument("--relay", action="store_true", help="force ICE relay (TURN only)")
    a = p.parse_args()
    out = asyncio.run(run(a))
    print(json.dumps(out), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
