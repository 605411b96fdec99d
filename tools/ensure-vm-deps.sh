#!/usr/bin/env bash
# The VM rig's system tools (tests/test_vm_boot.py, bench/bench_boot.py; docs/testing-vm.md):
# QEMU (software emulation), debootstrap (the guest's root file system), mkfs.ext4 -d (the
# disk image), dnsmasq (the rig's DHCP and DNS on 169.254.169.254), socat (the apt proxy into
# the namespace), OpenSSH's client (talking to the guest), openssl (the test CA), apt-ftparchive
# and dpkg-deb (the shim repository), busybox-static (sh and wget in the rig's images), git (the fixture app's repository), Go (Pebble and the
# Docker CLI plugins are built from the Go module proxy). Installs them with apt when run as root.
set -euo pipefail
declare -A pkg=([qemu-system-x86_64]=qemu-system-x86 [qemu-img]=qemu-utils [debootstrap]=debootstrap
  [dnsmasq]=dnsmasq-base [socat]=socat [ssh]=openssh-client [ssh-keygen]=openssh-client [openssl]=openssl
  [apt-ftparchive]=apt-utils [dpkg-deb]=dpkg [mkfs.ext4]=e2fsprogs [git]=git [curl]=curl [ip]=iproute2
  [caddy]=caddy [node]=nodejs [busybox]=busybox-static)
need=()
for tool in "${!pkg[@]}"; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null || need+=("${pkg[$tool]}")
done
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || need+=(golang-go)
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} (Debian packages, for the VM rig)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing: ${need[*]}; install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
