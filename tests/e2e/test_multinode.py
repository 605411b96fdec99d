"""Issue 25, step 6: several real LiveKit nodes of a scaled stack, with real Redis and real clients.

What runs for real: livekit-server at the pinned version (.tools, tools/build-livekit.sh) on two
nodes with each node's generated livekit.yaml (LiveKit's distributed mode: `redis:`); Debian's
redis-server with the generated redis.conf and a password on node 1; HAProxy with `balance source`
in front of the nodes' signalling (the stand-in for OCI's Network Load Balancer with TWO_TUPLE
hashing: the NLB itself cannot run here); the PyPI livekit SDK as participants and livekit-api
for room creation. Replaced, and the edits to generated files: tests/rig/multinode.py (its
docstring lists them; asserted below).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml
from rig.multinode import LB_IP, PASSWORD, Nodes, node_ip, public_ip
from rig.stack import preview

from generator.config.load import parse_config
from generator.core.versions import versions
from generator.scale.server import redis_conf

pytestmark = [pytest.mark.slow, pytest.mark.multinode]

ROOT = Path(__file__).resolve().parents[2]
LIVEKIT_BIN = ROOT / ".tools" / f"livekit-server-{versions()['livekit_server']['version']}" / "server"
CONFIG = """name: demo
always_free: false
domains: {socket_host: space-socket.example.com, livekit_host: space-livekit.example.com}
scale: {nodes: 2}
"""

CREATE = """
import asyncio, sys
from livekit import api
async def main():
    lk = api.LiveKitAPI(sys.argv[1], sys.argv[2], sys.argv[3])
    for name in sys.argv[4:]:
        await lk.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=120))
    await lk.aclose()
asyncio.run(main())
"""


LIST = """
import asyncio, sys
from livekit import api
async def main():
    lk = api.LiveKitAPI(sys.argv[1], sys.argv[2], sys.argv[3])
    r = await lk.room.list_participants(api.ListParticipantsRequest(room=sys.argv[4]))
    print(len(r.participants))
    await lk.aclose()
asyncio.run(main())
"""
CLIENT = ROOT / "tests" / "rig" / "lk_client.py"


def _need_tools() -> None:
    for tool in ("ip", "redis-server", "redis-cli", "haproxy"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.fail(f"{tool} is missing: tools/ensure-system-deps.sh installs it")
    if not LIVEKIT_BIN.exists():
        pytest.fail(f"{LIVEKIT_BIN} is missing: run `make livekit`")


def room_nodes(topo: Nodes) -> dict[str, str]:
    out = topo.run("node1", ["redis-cli", "-h", node_ip(1), "-a", PASSWORD, "--no-auth-warning", "--raw", "HGETALL", "room_node_map"]).stdout.split()
    return dict(zip(out[::2], out[1::2], strict=True))


def node_id(log: Path) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = re.search(r'"nodeID"\s*:\s*"(ND_\w+)"', log.read_text(errors="replace"))
        if m:
            return m[1]
        time.sleep(0.3)
    raise AssertionError(f"no nodeID in {log}:\n{log.read_text(errors='replace')[-2000:]}")


def create_rooms(topo: Nodes, url: str, key: str, secret: str, names: list[str]) -> None:
    topo.run("client", [sys.executable, "-c", CREATE, url, key, secret, *names], timeout=60)


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    _need_tools()
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(CONFIG)
    generated = yaml.safe_load((preview(cfg, tmp_path / "preview") / "files/opt/flowstack/livekit.yaml").read_text())
    assert generated["redis"]["address"] == "server.public.demo.oraclevcn.com:6379"
    with Nodes(2) as topo:
        rconf = redis_conf(parse_config(CONFIG))
        redis = topo.start_redis(rconf, tmp_path)
        procs, edits = {}, set()
        for i in (1, 2):
            lk, e = topo.livekit_config(generated, i)
            edits |= set(e)
            procs[i] = topo.start_livekit(i, lk, LIVEKIT_BIN, tmp_path)
        topo.start_haproxy(tmp_path)
        key, secret = next(iter(generated["keys"].items()))
        ids = {i: node_id(tmp_path / f"node{i}" / "livekit.log") for i in (1, 2)}
        yield {"topo": topo, "key": key, "secret": secret, "ids": ids, "procs": procs, "redis": redis, "work": tmp_path,
               "rconf": rconf, "edits": edits}


def test_two_nodes_one_room_media_and_rooms_spread_and_drain(cluster) -> None:  # type: ignore[no-untyped-def]
    topo, key, secret, ids = cluster["topo"], cluster["key"], cluster["secret"], cluster["ids"]
    assert len(set(ids.values())) == 2
    # Participants whose signalling reaches different nodes (as two clients hashed to two
    # nodes by the load balancer) land in one room on one node and receive each other's media.
    result = topo.client(f"ws://{public_ip(1)}:7880", f"ws://{public_ip(2)}:7880", key, secret, "meet", seconds=30)
    assert result["error"] is None, result
    assert result["video_frames"] >= 30 and result["audio_frames"] >= 100, result
    placed = room_nodes(topo)
    assert placed.get("meet") in ids.values()

    # New rooms, all requested through the HAProxy stand-in (one client address: one node),
    # are placed over both nodes by LiveKit itself.
    names = [f"spread{i}" for i in range(12)]
    create_rooms(topo, f"http://{LB_IP}:7880", key, secret, names)
    placed = room_nodes(topo)
    assert {placed[n] for n in names} == set(ids.values()), placed

    # Redis restarts (AOF on): the room map comes back and new rooms are still placed.
    topo.stop_proc(cluster["redis"])
    cluster["redis"] = topo.start_redis(cluster["rconf"], cluster["work"])
    assert {n for n in names} <= set(room_nodes(topo))
    create_rooms(topo, f"http://{LB_IP}:7880", key, secret, ["after-restart"])
    time.sleep(1)
    assert room_nodes(topo).get("after-restart") in ids.values()

    # A session in a room that lives on node 2 (signalling through node 1), then SIGTERM to
    # node 2: it drains -- the session's media keeps flowing and the process stays up while
    # the room has participants -- and new rooms all go to node 1.
    on2 = next(n for n in names if placed[n] == ids[2])
    log = cluster["work"] / "drain-client.log"
    cmd = [sys.executable, str(CLIENT), "--url", f"ws://{public_ip(1)}:7880", "--key", key, "--secret", secret,
           "--room", on2, "--seconds", "40", "--want-video", "100000", "--want-audio", "100000"]
    session = topo.start("client", cmd, log)
    deadline = time.monotonic() + 60
    while "connected" not in _participants(topo, key, secret, on2) and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(5)
    cluster["procs"][2].send_signal(15)
    time.sleep(8)
    assert cluster["procs"][2].poll() is None, "node 2 exited at once instead of draining its room"
    later = [f"late{i}" for i in range(6)]
    create_rooms(topo, f"http://{public_ip(1)}:7880", key, secret, later)
    placed = room_nodes(topo)
    assert {placed[n] for n in later} == {ids[1]}, placed
    session.wait(timeout=90)
    out = json.loads([line for line in log.read_text().splitlines() if line.startswith("{")][-1])
    # 40 s of a 15 fps stream: the room kept forwarding media well after the SIGTERM (~10 s in).
    assert out["error"] is None and out["video_frames"] > 15 * 25, out


def _participants(topo: Nodes, key: str, secret: str, room: str) -> str:
    p = topo.run("client", [sys.executable, "-c", LIST, f"http://{public_ip(1)}:7880", key, secret, room], check=False, timeout=30)
    return "connected" if p.stdout.strip() not in ("", "0") else ""


def test_the_edits_are_the_listed_ones(cluster) -> None:  # type: ignore[no-untyped-def]
    assert cluster["edits"] == {
        "livekit.yaml rtc.use_external_ip: true -> false (no STUN here)", "livekit.yaml rtc.node_ip: the node's rig public address",
        "livekit.yaml redis.address: node 1's VCN name -> its rig address (no VCN DNS here)",
        "livekit.yaml redis.password: the rig's (the preview's is a sample)"}
