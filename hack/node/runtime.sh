#!/usr/bin/env bash
# The container runtime real nodes use: containerd, runc and the CNI plugins, plus the tools the
# harness drives them with (iptables, nsenter, iproute2), busybox for the task and pause images
# and strip for the kube-offers images — every file hack/node/requirements.txt lists, from
# Debian's packages (why Debian's: that file). The kubelet and kube-proxy are built with the
# control plane (hack/controlplane/build.sh). `npm start` and `npm test` run this first.
#
# Installs the packages of whatever is missing when it can (root with apt-get); otherwise names
# them and exits 0: the real-node tests and `npm start` then say why they cannot run. With
# everything there it only checks the files (a few milliseconds).
#
# KUBE_OFFERS_NODE_ROOT (default empty: /) is where the files are looked for, for its test.
set -euo pipefail
root=${KUBE_OFFERS_NODE_ROOT:-}
list="$(dirname "$0")/requirements.txt"
missing=()
while read -r path pkg _; do
  [[ -z $path || $path == \#* ]] && continue
  [[ -e $root$path ]] || missing+=("$pkg")
done < "$list"
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
policy=$root/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
