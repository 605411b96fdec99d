"""Boot to ready in the VM rig, by phase, beside the rig's own floor measured in the same run.

Two boots of the rig (tests/rig/vm_rig.py, docs/testing-vm.md), one after the other:
1. the floor: the same guest with no user_data, power-on to a login (ssh answers with the
   key cloud-init installed from the metadata): what the rig costs whatever flowstack does;
2. tests/fixtures/vm/vm-git.yaml to ``ready``, split by the bring-up log's step timestamps
   (tests/rig/vm_rig.timeline): cloud-init (power-on to the bring-up's first line), config
   files, firewall, Docker install, app fetch, pull/build, DNS wait, compose up, health,
   and TLS (``ready`` to the first HTTPS answer with the ACME certificate).
The part flowstack controls is the total minus the floor. Nothing here is asserted.

    python bench/bench_boot.py             # both boots (~15-40 min under software emulation)
    python bench/bench_boot.py --floor     # only the floor
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from rig.vm_net import GUEST_IP  # noqa: E402
from rig.vm_rig import VmRig, timeline  # noqa: E402

from generator.config.load import load_config  # noqa: E402

CONFIG = ROOT / "tests/fixtures/vm/vm-git.yaml"
PHASES = {"1/8": "config files", "2/8": "firewall", "3/8": "Docker install", "4/8": "app fetch",
          "5/8": "pull/build", "6/8": "DNS wait", "7/8": "compose up", "8/8": "health"}


def stamp(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()


def floor(work: Path) -> float:
    rig = VmRig(work)
    try:
        rig.prepare(None)
        vm = rig.start(None, [])
        return vm.wait(vm.up, 30 * 60, "login (floor)", every=5)
    finally:
        rig.close()


def full(work: Path) -> list[tuple[str, float]]:
    cfg = load_config(CONFIG)
    rig = VmRig(work)
    try:
        rig.prepare(cfg.livekit.image.rsplit(":", 1)[1], "2.8.4")
        vm = rig.start(CONFIG, [cfg.domains.socket_host or "", cfg.domains.livekit_host or ""])
        power_on = time.time()
        vm.wait(vm.up, 60 * 60, "login", every=10)
        total = vm.wait(lambda: vm.ssh("test -e /var/lib/flowstack/ready", check=False).returncode == 0,
                        60 * 60, "ready", every=10)
        steps = timeline(vm.ssh("cat /var/log/flowstack-bootstrap.log").stdout)
        # The guest clock is set from the host's at power-on (QEMU's RTC): same epoch.
        rows, prev_t, prev_name = [], power_on, "cloud-init"
        for ts, msg in steps:
            name = PHASES.get(msg[:3])
            if name is None and not msg.startswith("ready after"):
                continue
            rows.append((prev_name, stamp(ts) - prev_t))
            prev_t, prev_name = stamp(ts), name or ""
        ca = rig.state / "pebble-root.pem"
        ca.write_text(rig.net.pebble_root(), encoding="utf-8")
        host = cfg.domains.socket_host or ""
        t0 = time.time()
        while time.time() - t0 < 900:
            r = rig.net.sh("curl", "-fsS", "--max-time", "10", "--cacert", str(ca), "--resolve",
                           f"{host}:443:{GUEST_IP}", f"https://{host}/", check=False)
            if r.returncode == 0:
                break
            time.sleep(5)
        rows.append(("TLS (after ready)", time.time() - t0))
        rows.append(("total to ready", total))
        return rows
    finally:
        rig.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--floor", action="store_true", help="only the floor boot")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-boot-") as tmp:
        f = floor(Path(tmp) / "floor")
        print(f"rig floor (power-on to login, no user_data): {f:7.1f} s")
        if a.floor:
            return
        rows = full(Path(tmp) / "full")
        print("boot to ready by phase (vm-git.yaml):")
        for name, secs in rows:
            print(f"  {name:<22} {secs:7.1f} s")
        total = dict(rows)["total to ready"]
        print(f"  {'flowstack part':<22} {total - f:7.1f} s  (total minus the floor)")


if __name__ == "__main__":
    main()
