#!/usr/bin/env bash
# The engine rig's system packages: Debian's docker.io (dockerd 20.10, containerd, runc, the
# docker CLI), busybox-static (the rig's images carry it as /bin/sh, wget, ...: the official
# images are Alpine-based) and nsenter/unshare (util-linux).
#
# The rig starts dockerd only inside network and mount namespaces of its own
# (tests/rig/engine.py): a dockerd in the host namespace rewrites the host's iptables. So the
# install never starts it: a temporary policy-rc.d refuses every service start during the
# install, and on a systemd machine the units the package enables are disabled again (only
# when this script installed the package; an engine the machine already had is left alone).
set -euo pipefail
need=()
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v nsenter >/dev/null || need+=(util-linux)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing: ${need[*]}; install them with: sudo apt-get install ${need[*]} (and do not start docker.service)" >&2
  exit 1
fi
echo "installing ${need[*]} (Debian packages; no service is started)"
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && guard=1
fi
trap '[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [[ " ${need[*]} " == *" docker.io "* ]] && [ -d /run/systemd/system ]; then
  systemctl disable --now docker.socket docker.service containerd.service >/dev/null 2>&1 || true
fi
