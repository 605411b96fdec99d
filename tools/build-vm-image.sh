#!/usr/bin/env bash
# Builds the VM rig's guest (tests/test_vm_boot.py): a Debian bookworm root file system made
# with debootstrap through the rig's caching apt proxy (tests/rig/apt_proxy.py), with systemd,
# cloud-init (datasource_list: [Oracle, None]), OpenSSH, iptables-persistent and OCI's complete
# rules.v4, a kernel and an initrd; then a raw ext4 disk image. Everything is cached OUTSIDE the
# clone: $FLOWSTACK_CACHE (default ~/.cache/flowstack)/vm-<key>/ where <key> is a digest of this
# script, the guest files and rules.v4, so a second run (or CI's second run) is warm.
# Prints the image directory on its last line. Needs root (debootstrap, chroot).
# Usage: tools/build-vm-image.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${FLOWSTACK_CACHE:-$HOME/.cache/flowstack}"
key="$(cat "$0" "$here/tests/fixtures/oci-ubuntu-rules.v4" "$here"/tests/rig/guest/* | sha256sum | cut -c1-12)"
out="$cache/vm-bookworm-$key"
if [ -e "$out/done" ]; then echo "$out"; exit 0; fi
work="$cache/vm-build.$$"
rm -rf "$work"; mkdir -p "$work" "$cache/apt-archive"
root="$work/root"
proxy_pid=""
cleanup() {
  for m in dev/pts dev sys proc; do umount "$root/$m" 2>/dev/null || true; done
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  # Never delete through a bind mount that failed to come off (it would reach the host's /dev).
  for m in dev/pts dev sys proc; do
    if mountpoint -q "$root/$m" 2>/dev/null; then echo "left $work (still mounted: $root/$m)" >&2; return; fi
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
python3 "$here/tests/rig/apt_proxy.py" --cache "$cache/apt-archive" --port 0 --log "$work/proxy.log" \
  --ready-file "$work/port" & proxy_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.2; done
mirror="http://127.0.0.1:$(cat "$work/port")/debian"

# debootstrap makes the minimal base; apt (in the chroot, same proxy) installs the rest, because
# debootstrap's own resolver does not follow virtual packages (python3-cryptography's
# python3-cffi-backend-api-*), and apt does.
pkgs=(systemd systemd-sysv systemd-resolved udev kmod dbus cloud-init isc-dhcp-client openssh-server
  iptables iptables-persistent netfilter-persistent ca-certificates linux-image-amd64 initramfs-tools
  python3 sudo procps iproute2 less locales)
echo "debootstrap bookworm (through the caching proxy; $cache/apt-archive)" >&2
nice debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { cp "$work/debootstrap.log" "$cache/vm-build-failed.log"; tail -30 "$work/debootstrap.log" >&2; exit 1; }
for m in proc sys dev dev/pts; do mount --bind "/$m" "$root/$m"; done
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
echo "apt-get install ${pkgs[*]}" >&2
chroot "$root" apt-get update -q >>"$work/debootstrap.log" 2>&1
DEBIAN_FRONTEND=noninteractive nice chroot "$root" apt-get install -y -q --no-install-recommends "${pkgs[@]}" \
  >>"$work/debootstrap.log" 2>&1 \
  || { cp "$work/debootstrap.log" "$cache/vm-build-failed.log"; tail -30 "$work/debootstrap.log" >&2; exit 1; }
# cloud-init's locale module runs `update-locale LANG=en_US.UTF-8` (its default on Debian and
# Ubuntu); an Ubuntu cloud image ships that locale generated, debootstrap's minbase does not.
sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' "$root/etc/locale.gen"
chroot "$root" locale-gen >>"$work/debootstrap.log" 2>&1
rm -f "$root/usr/sbin/policy-rc.d"
for m in dev/pts dev sys proc; do umount "$root/$m"; done

# The guest's apt talks to deb.debian.org, which the rig's DNS points at the proxy; the shim
# repository (Ubuntu's docker-compose-v2 / docker-buildx names) is on the same host.
cat > "$root/etc/apt/sources.list" <<'SRC'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
echo 'deb [trusted=yes] http://deb.debian.org/shim ./' > "$root/etc/apt/sources.list.d/flowstack-rig-shim.list"
install -m 0644 "$here/tests/rig/guest/99-flowstack-rig.cfg" "$root/etc/cloud/cloud.cfg.d/99-flowstack-rig.cfg"
install -m 0644 "$here/tests/fixtures/oci-ubuntu-rules.v4" "$root/etc/iptables/rules.v4"
# Rig only: Pebble's root (per run) comes in through QEMU's firmware config (the unit says why).
install -m 0644 "$here/tests/rig/guest/flowstack-rig-ca.service" "$root/etc/systemd/system/flowstack-rig-ca.service"
install -m 0644 "$here/tests/rig/guest/flowstack-rig.modules.conf" "$root/etc/modules-load.d/flowstack-rig.conf"
printf '/dev/vda / ext4 defaults,discard 0 1\n' > "$root/etc/fstab"
echo localhost > "$root/etc/hostname"
rm -f "$root/etc/ssh/ssh_host_"*   # cloud-init makes the host keys per instance
chroot "$root" systemctl enable systemd-networkd systemd-resolved netfilter-persistent ssh flowstack-rig-ca >/dev/null
ln -sf /run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
# The rig's test CA (made once per image) in the guest's system store: the registry answering as
# registry-1.docker.io, the git server and the ACME CA present certificates it signed.
mkdir -p "$out.tmp"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=flowstack VM rig test CA" \
  -keyout "$out.tmp/ca.key" -out "$out.tmp/ca.crt" >/dev/null 2>&1
install -m 0644 "$out.tmp/ca.crt" "$root/usr/local/share/ca-certificates/flowstack-rig-ca.crt"
chroot "$root" update-ca-certificates >/dev/null 2>&1
chroot "$root" apt-get clean
cp -L "$root/vmlinuz" "$out.tmp/vmlinuz"; cp -L "$root/initrd.img" "$out.tmp/initrd.img"
echo "disk image (ext4, 12 GiB sparse)" >&2
truncate -s 12G "$out.tmp/disk.raw"
nice mkfs.ext4 -q -F -L root -d "$root" "$out.tmp/disk.raw"
cp "$work/debootstrap.log" "$out.tmp/"
touch "$out.tmp/done"
rm -rf "$out"; mv "$out.tmp" "$out"
echo "$out"
