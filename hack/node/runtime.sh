#!/usr/bin/env bash
# The container runtime real nodes use: containerd, runc and the CNI plugins, plus the tools the
# harness drives them with (iptables, nsenter, iproute2) and busybox for the task and pause
# images. They come from Debian's packages, not from the Go module proxy: runc needs cgo and
# libseccomp, and Debian's builds are the security-maintained ones of this OS. The kubelet and
# kube-proxy are built with the control plane (hack/controlplane/build.sh).
#
# Installs whatever is missing when it can (root with apt-get); otherwise names what is missing
# and exits 0: the real-node tests and `npm start` then say why they cannot run.
set -euo pipefail
declare -A need=(
  [/usr/bin/containerd]=containerd
  [/usr/sbin/runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [/usr/sbin/iptables]=iptables
  [/usr/sbin/conntrack]=conntrack
  [/usr/bin/nsenter]=util-linux
  [/usr/sbin/ip]=iproute2
  [/usr/bin/busybox]=busybox-static
)
missing=()
for f in "${!need[@]}"; do [[ -e $f ]] || missing+=("${need[$f]}"); done
if (( ${#missing[@]} == 0 )); then exit 0; fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "[node-runtime] real nodes need Debian packages: ${missing[*]} (not root with apt-get here: not installed)" >&2
  exit 0
fi
echo "[node-runtime] installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
# A package's own start scripts must not start a system containerd: nothing here has systemd,
# and the harness runs its own containerd per node.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
