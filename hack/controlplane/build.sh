#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and helm — and,
# for real nodes, kubelet and kube-proxy from the same pinned k8s.io/kubernetes — from the Go
# module proxy into a cache outside the repo, keyed by versions + this script's hash.
# Prints the bin directory on the last line of stdout. Progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
CACHE=${KUBE_OFFERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-offers}
GOV=$(go env GOVERSION)
HASH=$( (cat "$here/build.sh" "$here/versions.env"; echo "$GOV") | sha256sum | cut -c1-12)
KEY="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}_${GOV}_${HASH}"
OUT="$CACHE/bin/$KEY"
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
BINS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy helm)
start=$(date +%s)
log() { printf '[controlplane %4ds] %s\n' $(( $(date +%s) - start )) "$*" >&2; }

complete() { for b in "${BINS[@]}"; do [[ -x "$OUT/$b" ]] || return 1; done; }
if complete; then log "cached: $OUT"; echo "$OUT"; exit 0; fi

mkdir -p "$CACHE/bin" "$GOMODCACHE" "$GOCACHE"
exec 9>"$CACHE/build.lock"
log "waiting for build lock $CACHE/build.lock"
flock 9
if complete; then log "cached (built by another process): $OUT"; echo "$OUT"; exit 0; fi

tmp=$(mktemp -d "$CACHE/bin/.tmp-XXXXXX")
work=$(mktemp -d "$CACHE/.work-XXXXXX")
trap 'rm -rf "$tmp" "$work"' EXIT

# Streams `go build -v` output as progress: count of packages compiled, last package, elapsed.
progress() {
  local what=$1 n=0 last=""
  while IFS= read -r line; do
    n=$((n + 1)); last=$line
    if (( n % 50 == 0 )); then log "$what: $n packages compiled (latest: $last)"; fi
  done
  log "$what: done, $n packages compiled"
}
# Heartbeat so a long link or download never looks like a hang.
heartbeat() { while sleep 30; do log "still building ($1)…"; done; }

build() { # build <label> <dir> <go build args...>
  local label=$1 dir=$2; shift 2
  heartbeat "$label" & local hb=$!
  local rc=0
  ( cd "$dir" && go build -v "$@" ) 2>&1 | progress "$label" || rc=$?
  kill "$hb" 2>/dev/null || true; wait "$hb" 2>/dev/null || true
  return $rc
}

# --- Kubernetes: a wrapper module pinning every staging module at v0.N.M -------------------
K=$KUBERNETES_VERSION; S="v0.${K#v1.}"; MINOR=$(echo "$K" | cut -d. -f2)
kdir="$work/k8s"; mkdir -p "$kdir"; cd "$kdir"
go mod init kubeoffers.local/k8sbins >/dev/null 2>&1
log "resolving k8s.io/kubernetes@$K (first time downloads ~1-2 GB of modules)"
heartbeat "module download" & hb=$!
go mod download -json "k8s.io/kubernetes@$K" >/dev/null
kill $hb; wait $hb 2>/dev/null || true
MOD=$(go mod download -json "k8s.io/kubernetes@$K" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
GOLINE=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$MOD")
go mod edit -go="$GOLINE"
for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$MOD"); do
  go mod edit -replace="$m=$m@$S"
done
log "pinned $(grep -c '=> k8s.io' go.mod) staging modules at $S (go $GOLINE)"
heartbeat "go get kubernetes" & hb=$!
go get "k8s.io/kubernetes@$K" 2>&1 | tail -3 >&2
kill $hb; wait $hb 2>/dev/null || true
LD="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LD+=" -X $p.gitVersion=$K -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
  LD+=" -X $p.buildDate=1970-01-01T00:00:00Z"
done
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
  build "$c $K" "$kdir" -trimpath -ldflags "$LD" -o "$tmp/$c" "k8s.io/kubernetes/cmd/$c"
done

# --- etcd ---------------------------------------------------------------------------------
edir="$work/etcd"; mkdir -p "$edir"; cd "$edir"
go mod init kubeoffers.local/etcd >/dev/null 2>&1
log "resolving go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" 2>&1 | tail -3 >&2
build "etcd $ETCD_VERSION" "$edir" -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3

# --- helm (its own module graph: no k8s pins) ---------------------------------------------
hdir="$work/helm"; mkdir -p "$hdir"; cd "$hdir"
go mod init kubeoffers.local/helm >/dev/null 2>&1
log "resolving helm.sh/helm/v3@$HELM_VERSION"
go get "helm.sh/helm/v3@$HELM_VERSION" 2>&1 | tail -3 >&2
HLD="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  HLD+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$MINOR"
done
build "helm $HELM_VERSION" "$hdir" -trimpath -ldflags "$HLD" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm

# --- verify, then publish atomically ------------------------------------------------------
"$tmp/etcd" --version | head -1 >&2
"$tmp/kube-apiserver" --version >&2
"$tmp/kubectl" version --client >&2
"$tmp/kubelet" --version >&2
"$tmp/helm" version --short >&2
rm -rf "$OUT"; mv "$tmp" "$OUT"
log "built $OUT"
echo "$OUT"
