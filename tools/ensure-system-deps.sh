#!/usr/bin/env bash
# Makes sure the system tools the tests run for real are installed: caddy (Caddyfile
# validation and the end-to-end proxy test), cloud-init (cloud-config schema), iptables
# (firewall rule checks), shellcheck (the generated scripts) and node/npm (HashiCorp's
# formatter). Installs them with apt
# when run as root; otherwise says what to install.
set -euo pipefail
need=()
command -v caddy >/dev/null || need+=(caddy)
command -v cloud-init >/dev/null || need+=(cloud-init)
command -v iptables-restore >/dev/null || need+=(iptables)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# The LiveKit rig: network namespaces (iproute2), private mounts (util-linux), HTTPS probes (curl).
command -v ip >/dev/null || need+=(iproute2)
command -v unshare >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
# The multi-node rig (issue 25): a real Redis (LiveKit's distributed mode, the Socket.IO adapter)
# and HAProxy hashing on the source address, the stand-in for OCI's Network Load Balancer.
command -v redis-server >/dev/null || need+=(redis-server)
command -v haproxy >/dev/null || need+=(haproxy)
# A real OpenSSH server, started by tests in their own network namespaces with their own config
# and keys (never the machine's sshd): `flowstack status --ssh` (issue 21) and the deploy-key
# route's private repository (issue 22); the agent's ssh client. /usr/sbin: not on a user's PATH.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "missing: ${need[*]}; install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
