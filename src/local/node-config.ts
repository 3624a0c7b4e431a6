// The configuration files of a real node's daemons: containerd (CRI, runc, CNI), the CNI bridge
// network, the kubelet and kube-proxy — with what this kind of machine needs (cgroup v1 without
// systemd, no CAP_SYS_RESOURCE, several nodes on one host), each setting with its reason.
import { join } from "node:path";
import { REAL_NODE_LABEL } from "../crds/contract.ts";
import { PAUSE_IMAGE } from "./images.ts";
import { CLUSTER_POD_CIDR, type NodeAddress } from "./node-network.ts";
import type { NodeRecord } from "./node-record.ts";

/** The taint real nodes carry: only Pods that tolerate it (or are pinned by nodeName) land there. */
export const REAL_NODE_TAINT = {
  key: REAL_NODE_LABEL,
  value: "true",
  effect: "NoSchedule",
} as const;

/** What the configuration of one node is made from. */
export type NodeConfigInput = Pick<NodeRecord, "dir" | "socket" | "cgroupRoot" | "cniNetwork"> & {
  address: NodeAddress;
  spec: { name: string };
};

export function containerdConfig(node: NodeConfigInput): string {
  const d = node.dir;
  return `version = 2
root = "${d}/containerd/root"
state = "${d}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "${node.socket}"
[ttrpc]
  address = "${d}/containerd.ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${d}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # This sandbox's root lacks CAP_SYS_RESOURCE: negative oom_score_adj values are refused.
  restrict_oom_score_adj = true
  disable_apparmor = true
  # Pod network namespaces under the node's directory (state/io.containerd.grpc.v1.cri/netns),
  # not in the host's /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        # runc's state (default /run/containerd/runc) in the node's directory too.
        Root = "${d}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${d}/cni/net.d"
`;
}

export function cniConfig(node: NodeConfigInput): object {
  return {
    cniVersion: "0.4.0",
    // Unique per node: libcni caches results in /var/lib/cni/results/<name>-<sandbox>-<ifname>.
    name: node.cniNetwork,
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: node.address.podCidr }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: join(node.dir, "cni/ipam"),
        },
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
    ],
  };
}

export function kubeletConfig(node: NodeConfigInput, caFile: string): object {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: node.address.ip,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    containerRuntimeEndpoint: `unix://${node.socket}`,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: caFile },
    },
    authorization: { mode: "AlwaysAllow" },
    // This machine: cgroup v1 without systemd, swap, no CAP_SYS_RESOURCE; shared with other nodes.
    cgroupDriver: "cgroupfs",
    cgroupRoot: node.cgroupRoot,
    failCgroupV1: false,
    failSwapOn: false,
    evictionHard: { "memory.available": "0%", "nodefs.available": "0%", "imagefs.available": "0%" },
    enforceNodeAllocatable: [],
    localStorageCapacityIsolation: false,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    podLogsDir: join(node.dir, "pods-logs"),
    resolvConf: "/etc/resolv.conf",
    maxPods: 110,
    registerWithTaints: [REAL_NODE_TAINT],
    nodeStatusReportFrequency: "10s",
    nodeStatusUpdateFrequency: "10s",
    syncFrequency: "10s",
    fileCheckFrequency: "10s",
    volumeStatsAggPeriod: "0s",
    shutdownGracePeriod: "0s",
  };
}

export function kubeProxyConfig(node: NodeConfigInput): object {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    clusterCIDR: CLUSTER_POD_CIDR,
    hostnameOverride: node.spec.name,
    bindAddress: node.address.ip,
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    clientConnection: { kubeconfig: join(node.dir, "kube-proxy.kubeconfig") },
    // Don't touch the host-wide conntrack table size.
    conntrack: { maxPerCore: 0, min: 0 },
  };
}
