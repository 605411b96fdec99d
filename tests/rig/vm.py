"""One QEMU guest of the VM rig: software emulation, OCI's SMBIOS asset tag, ssh through the rig.

The disk is a qcow2 overlay on the cached base image (tools/build-vm-image.sh), so the base
stays clean and every run starts from a never-booted instance. QEMU runs inside the rig's
namespace on its tap; the serial console goes to ``serial.log``. Reboots are real guest
reboots (QEMU restarts the same kernel/initrd, as firmware would). KVM here is ``kvm_pvm``,
which cannot run a stock kernel, so ``-accel tcg`` (2 vCPUs, 4 GiB).

Example: ``vm = Vm(net, image, work); vm.start(); vm.wait_ssh(); vm.ssh("uptime")``
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from rig.vm_net import GUEST_IP, GUEST_MAC, RigNet

# cloud-init's default user (Debian's; on OCI's Ubuntu image it is "ubuntu"): root logins are
# refused (disable_root), so commands run through its passwordless sudo, as an operator's would.
USER = "debian"


class Vm:
    def __init__(self, net: RigNet, image: Path, work: Path) -> None:
        self.net, self.image, self.work = net, image, work
        self.disk = work / "disk.qcow2"
        self.key = work / "id_ed25519"
        self.uuid = str(uuid.uuid4())
        self.proc: subprocess.Popen[Any] | None = None
        self.started = 0.0
        self.fw_cfg: dict[str, Path] = {}  # QEMU firmware config files the guest can read
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True)

    @property
    def public_key(self) -> str:
        return Path(f"{self.key}.pub").read_text(encoding="utf-8").strip()

    def start(self) -> None:
        if not self.disk.exists():
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                            str(self.image / "disk.raw"), str(self.disk)], check=True)
        cmd = ["nice", "-n", "5", "qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max",
               "-smp", "2", "-m", "4096", "-display", "none", "-monitor", "none", "-nodefaults",
               "-kernel", str(self.image / "vmlinuz"), "-initrd", str(self.image / "initrd.img"),
               "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet",
               "-drive", f"file={self.disk},if=virtio,format=qcow2,cache=unsafe",
               "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
               "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}",
               "-smbios", f"type=1,uuid={self.uuid}", "-smbios", "type=3,asset=OracleCloud.com",
               "-serial", f"file:{self.work / 'serial.log'}",
               "-device", "virtio-rng-pci"]
        for name, path in self.fw_cfg.items():
            cmd += ["-fw_cfg", f"name={name},file={path}"]
        self.started = time.monotonic()
        self.proc = self.net.spawn("qemu", cmd)

    def ssh_cmd(self, command: str) -> list[str]:
        return ["ip", "netns", "exec", self.net.ns, "ssh", "-i", str(self.key), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
                "-o", "BatchMode=yes", f"{USER}@{GUEST_IP}", "sudo -n bash -c " + shlex.quote(command)]

    def ssh(self, command: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(self.ssh_cmd(command), capture_output=True, text=True, timeout=timeout, check=False)
        if check and r.returncode != 0:
            raise AssertionError(f"guest `{command}` exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r

    def up(self) -> bool:
        try:
            return self.ssh("true", timeout=30, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def wait(self, pred: Any, timeout: float, what: str, every: float = 10) -> float:
        """Poll ``pred`` until true; the seconds since power-on. Fails if QEMU exited."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"QEMU exited ({self.proc.returncode}); serial log: {self.serial_tail()}")
            if pred():
                return time.monotonic() - self.started
            time.sleep(every)
        raise AssertionError(f"{what}: not after {timeout:.0f} s; serial log: {self.serial_tail()}")

    def serial_tail(self, n: int = 40) -> str:
        path = self.work / "serial.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-n:])

    def boot_id(self) -> str:
        r = self.ssh("cat /proc/sys/kernel/random/boot_id", check=False, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else ""

    def reboot(self, timeout: float = 30 * 60) -> float:
        """A guest reboot (systemd stops everything, as on OCI's soft reset; QEMU keeps running):
        returns once ssh answers from the new boot (another boot_id); seconds it took."""
        old = self.boot_id()
        self.ssh("systemctl reboot", check=False, timeout=30)
        self.started = time.monotonic()

        def new_boot() -> bool:
            try:
                return self.boot_id() not in ("", old)
            except subprocess.TimeoutExpired:
                return False
        return self.wait(new_boot, timeout, "ssh from the new boot", every=15)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(30)
