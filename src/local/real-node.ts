// Real nodes, beside the simulated ones: containerd (with runc and the CNI plugins) and a
// kubelet, plus kube-proxy for Service IPs, per node, each node in its own network namespace on
// the control plane's node network. Pods run in real containers; `kubectl logs`, `exec` and
// `port-forward` reach the kubelet at the node's address. Everything started or made here is
// ended by PID and removed on stop(), also after a failure: containers (by their cgroups),
// containerd shims, mounts, network namespaces, links and iptables rules.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, type V1Node } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { isNotFound } from "../kube/errors.ts";
import { mintClientCert } from "./certs.ts";
import type { ControlPlane } from "./controlplane.ts";
import { writeIdentity } from "./controlplane.ts";
import { PAUSE_IMAGE } from "./images.ts";
import { CLUSTER_POD_CIDR, type NodeAddress, type NodeNetwork, run } from "./node-network.ts";
import { ProcessGroup } from "./processes.ts";

/** The taint real nodes carry: only Pods that tolerate it (or are pinned by nodeName) land there. */
export const REAL_NODE_TAINT = {
  key: "kubeoffers.io/real-node",
  value: "true",
  effect: "NoSchedule",
} as const;
/** The label every real node carries. */
export const REAL_NODE_LABEL = "kubeoffers.io/real-node";

export interface RealNodeSpec {
  name: string;
  labels?: Record<string, string>;
}

export interface RealNodeOptions {
  /** How long to wait for the Nodes to become Ready (default 120 s). */
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface Support {
  ok: boolean;
  /** What this machine lacks to run containers, each naming the missing piece. */
  missing: string[];
}

const TOOLS: [string, string][] = [
  ["/usr/bin/containerd", "containerd (Debian package containerd)"],
  ["/usr/bin/ctr", "ctr (Debian package containerd)"],
  ["/usr/sbin/runc", "runc (Debian package runc)"],
  ["/usr/lib/cni/bridge", "CNI bridge plugin (Debian package containernetworking-plugins)"],
  ["/usr/lib/cni/host-local", "CNI host-local plugin (Debian package containernetworking-plugins)"],
  ["/usr/lib/cni/portmap", "CNI portmap plugin (Debian package containernetworking-plugins)"],
  ["/usr/lib/cni/loopback", "CNI loopback plugin (Debian package containernetworking-plugins)"],
  ["/usr/sbin/iptables", "iptables (Debian package iptables)"],
  ["/usr/bin/nsenter", "nsenter (Debian package util-linux)"],
  ["/usr/sbin/ip", "ip (Debian package iproute2)"],
  ["/usr/bin/busybox", "busybox (Debian package busybox-static), for the task and pause images"],
];

/** Can this machine run real nodes? Names every missing piece; never throws. */
export function realNodeSupport(): Support {
  const missing: string[] = [];
  if (process.platform !== "linux") missing.push(`Linux (this is ${process.platform})`);
  if (process.getuid?.() !== 0) missing.push("root (containerd, the kubelet and network namespaces need it)");
  for (const [path, what] of TOOLS) if (!existsSync(path)) missing.push(`${what}: ${path} not found`);
  for (const c of ["memory", "cpu", "pids"]) {
    if (!existsSync(join("/sys/fs/cgroup", c)) && !existsSync("/sys/fs/cgroup/cgroup.controllers"))
      missing.push(`the ${c} cgroup controller (/sys/fs/cgroup/${c})`);
  }
  if (!readFileSync("/proc/filesystems", "utf8").includes("overlay"))
    missing.push("overlayfs in the kernel (containerd's snapshotter)");
  if (missing.length === 0) {
    try {
      run("ip", ["netns", "list"]);
      run("iptables", ["-w", "-t", "nat", "-S"]);
    } catch (err) {
      missing.push(`network namespaces and iptables NAT: ${(err as Error).message}`);
    }
  }
  return { ok: missing.length === 0, missing };
}

interface NodeRuntime {
  spec: RealNodeSpec;
  address: NodeAddress;
  dir: string;
  socket: string;
  cgroupRoot: string;
}

const CGROUP_V1 = "/sys/fs/cgroup";

export class RealNodes {
  readonly nodes: NodeRuntime[] = [];
  private readonly processes: ProcessGroup;
  private readonly cp: ControlPlane;
  private readonly net: NodeNetwork;
  private readonly log: (msg: string) => void;
  private stopped = false;

  private constructor(cp: ControlPlane, net: NodeNetwork, log: (msg: string) => void) {
    this.cp = cp;
    this.net = net;
    this.log = log;
    this.processes = new ProcessGroup(join(cp.dir, "logs"), join(cp.dir, "nodes"));
    this.processes.on("exit", (name: string, code: number | null, signal: string | null) =>
      this.log(
        `${name} exited unexpectedly (code ${code}, signal ${signal}); log: ${join(cp.dir, "logs", name)}.log`,
      ),
    );
  }

  /** Starts the nodes and waits until every one is Ready. The control plane must own a node network. */
  static async start(
    cp: ControlPlane,
    specs: RealNodeSpec[],
    opts: RealNodeOptions = {},
  ): Promise<RealNodes> {
    const support = realNodeSupport();
    if (!support.ok) throw new Error(`this machine cannot run real nodes: ${support.missing.join("; ")}`);
    const net = cp.nodeNetwork;
    if (!net) throw new Error("the control plane was started without a node network (nodeNetwork: true)");
    const log = opts.log ?? ((m: string) => process.stderr.write(`[real-node] ${m}\n`));
    const nodes = new RealNodes(cp, net, log);
    try {
      for (const spec of specs) await nodes.startNode(spec);
      await nodes.waitReady(opts.readyTimeoutMs ?? 120_000);
    } catch (err) {
      await nodes.stop();
      throw err;
    }
    return nodes;
  }

  /** Imports OCI image archives into every node's containerd (namespace k8s.io). */
  importImages(tars: string[]): void {
    for (const node of this.nodes)
      for (const tar of tars) run("ctr", ["--address", node.socket, "-n", "k8s.io", "images", "import", tar]);
  }

  private async startNode(spec: RealNodeSpec): Promise<void> {
    const index = this.nodes.length;
    const address = this.net.addNode(index);
    const dir = join(this.cp.dir, "nodes", `n${index}`);
    const node: NodeRuntime = {
      spec,
      address,
      dir,
      socket: join(dir, "containerd.sock"),
      cgroupRoot: `/kube-offers-${this.net.id}-${index}`,
    };
    this.nodes.push(node);
    for (const d of ["containerd", "cni/net.d", "cni/ipam", "kubelet", "netns", "pods-logs"])
      mkdirSync(join(dir, d), { recursive: true });
    this.makeCgroupRoot(node.cgroupRoot);
    writeFileSync(join(dir, "containerd.toml"), containerdConfig(node));
    writeFileSync(join(dir, "cni/net.d/10-kube-offers.conflist"), JSON.stringify(cniConfig(node), null, 2));
    const server = `https://${this.net.hostIp}:${new URL(this.cp.server).port}`;
    const ca = readFileSync(this.cp.pki.caCert, "utf8");
    const identity = (file: string, user: string, groups: string[]) => {
      const cert = mintClientCert(this.cp.pki, user, groups);
      writeIdentity(join(dir, file), server, ca, user, {
        "client-certificate-data": Buffer.from(cert.certPem).toString("base64"),
        "client-key-data": Buffer.from(cert.keyPem).toString("base64"),
      });
    };
    identity("kubelet.kubeconfig", `system:node:${spec.name}`, ["system:nodes"]);
    identity("kube-proxy.kubeconfig", "system:kube-proxy", []);
    writeFileSync(join(dir, "kubelet.yaml"), stringify(kubeletConfig(node, this.cp.pki.caCert)));
    writeFileSync(join(dir, "kube-proxy.yaml"), stringify(kubeProxyConfig(node)));

    const inNetns = ["--net=" + join("/var/run/netns", address.netns), "--"];
    const tag = `${this.net.id}-n${index}`;
    const containerd = this.processes.spawn(
      `containerd-${tag}`,
      "nsenter",
      [...inNetns, "containerd", "--config", join(dir, "containerd.toml")],
      process.env,
      "containerd",
    );
    // The kubelet exits at once if the runtime's socket is not there yet.
    const deadline = Date.now() + 30_000;
    while (!existsSync(node.socket)) {
      if (!containerd.running)
        throw new Error(`containerd exited while starting:\n${logTail(containerd.logFile)}`);
      if (Date.now() > deadline)
        throw new Error(`containerd made no socket in 30 s; see ${containerd.logFile}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const labels = { [REAL_NODE_LABEL]: "true", ...spec.labels };
    this.processes.spawn(
      `kubelet-${tag}`,
      "nsenter",
      [
        ...inNetns,
        this.cp.bins.kubelet,
        `--config=${join(dir, "kubelet.yaml")}`,
        `--kubeconfig=${join(dir, "kubelet.kubeconfig")}`,
        `--root-dir=${join(dir, "kubelet")}`,
        `--hostname-override=${spec.name}`,
        `--node-ip=${address.ip}`,
        `--node-labels=${Object.entries(labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(",")}`,
        "--v=1",
      ],
      process.env,
      this.cp.bins.kubelet,
    );
    this.processes.spawn(
      `kube-proxy-${tag}`,
      "nsenter",
      [...inNetns, this.cp.bins.kubeProxy, `--config=${join(dir, "kube-proxy.yaml")}`, "--v=1"],
      process.env,
      this.cp.bins.kubeProxy,
    );
  }

  /** A cgroup for the node's Pods in every v1 hierarchy (the kubelet makes `kubepods` under it). */
  private makeCgroupRoot(root: string): void {
    if (existsSync(join(CGROUP_V1, "cgroup.controllers"))) return; // v2: the kubelet creates it
    for (const ctrl of readdirSync(CGROUP_V1)) {
      const base = join(CGROUP_V1, ctrl);
      if (!existsSync(join(base, "cgroup.procs"))) continue;
      const dir = join(base, root);
      mkdirSync(dir, { recursive: true });
      if (ctrl === "cpuset") {
        // A new cpuset has no CPUs or memory nodes: copy the parent's so tasks can join.
        for (const f of ["cpuset.cpus", "cpuset.mems"])
          writeFileSync(join(dir, f), readFileSync(join(base, f), "utf8").trim());
      }
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const core = this.cp.kubeConfig().makeApiClient(CoreV1Api);
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(this.nodes.map((n) => n.spec.name));
    let last = "";
    while (pending.size) {
      for (const name of [...pending]) {
        let node: V1Node | undefined;
        try {
          node = await core.readNode({ name });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        const ready = node?.status?.conditions?.find((c) => c.type === "Ready");
        last = `${name}: ${ready ? `${ready.status} (${ready.reason}: ${ready.message})` : "not registered"}`;
        if (ready?.status === "True") {
          await this.liftNotReadyTaint(core, name);
          pending.delete(name);
        }
      }
      for (const p of this.processes.processes.values())
        if (!p.running) throw new Error(`${p.name} exited while its node started:\n${logTail(p.logFile)}`);
      if (!pending.size) break;
      if (Date.now() > deadline) throw new Error(`real nodes not Ready after ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    this.log(
      `${this.nodes.length} real node(s) Ready: ${this.nodes.map((n) => `${n.spec.name} (${n.address.ip})`).join(", ")}`,
    );
  }

  /**
   * The API server taints every new Node not-ready; the node lifecycle controller, which the
   * local control plane does not run (it would evict simulated nodes on its own schedule),
   * lifts it once the kubelet reports Ready. Do its part for the nodes started here.
   */
  private async liftNotReadyTaint(core: CoreV1Api, name: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const node = await core.readNode({ name });
      const taints = node.spec?.taints ?? [];
      const kept = taints.filter((t) => t.key !== "node.kubernetes.io/not-ready");
      if (kept.length === taints.length) return;
      try {
        await core.replaceNode({ name, body: { ...node, spec: { ...node.spec, taints: kept } } });
        return;
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    }
  }

  kubeConfig(): KubeConfig {
    return this.cp.kubeConfig();
  }

  /** Stops kubelets, kube-proxies and containerds, then removes every trace. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.processes.stopAll(5000);
    for (const node of this.nodes) {
      killCgroup(node.cgroupRoot);
      killShims(node.socket);
      unmountUnder(node.dir);
      removeCgroup(node.cgroupRoot);
      this.net.removeNode(node.address);
      rmSync(node.dir, { recursive: true, force: true });
    }
    const core = this.cp.kubeConfig().makeApiClient(CoreV1Api);
    for (const node of this.nodes)
      await core.deleteNode({ name: node.spec.name }).catch((err: unknown) => {
        if (!isNotFound(err)) this.log(`could not delete Node ${node.spec.name}: ${(err as Error).message}`);
      });
  }
}

function containerdConfig(node: NodeRuntime): string {
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
  netns_mounts_under = "${d}/netns"
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${d}/cni/net.d"
`;
}

function cniConfig(node: NodeRuntime): object {
  return {
    cniVersion: "0.4.0",
    name: "kube-offers",
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

function kubeletConfig(node: NodeRuntime, caFile: string): object {
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

function kubeProxyConfig(node: NodeRuntime): object {
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

function cgroupDirs(root: string): string[] {
  if (existsSync(join(CGROUP_V1, "cgroup.controllers"))) return [join(CGROUP_V1, root)];
  return readdirSync(CGROUP_V1)
    .map((c) => join(CGROUP_V1, c, root))
    .filter((d) => existsSync(d));
}

function walk(dir: string): string[] {
  const out: string[] = [dir];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return out;
  }
  for (const e of entries) out.push(...walk(join(dir, e)));
  return out;
}

/** SIGKILLs every process in the node's cgroups (its containers), by PID. */
function killCgroup(root: string): void {
  for (let round = 0; round < 20; round++) {
    const pids = new Set<number>();
    for (const base of cgroupDirs(root))
      for (const d of walk(base)) {
        try {
          for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n"))
            if (l) pids.add(Number(l));
        } catch {
          /* gone */
        }
      }
    if (!pids.size) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* exited */
      }
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

/** containerd-shim-runc-v2 processes outlive containerd: end the ones serving this node's socket. */
function killShims(socket: string): void {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (cmdline.startsWith("/usr/bin/containerd-shim") && cmdline.includes(`\0${socket}\0`)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* exited */
      }
    }
  }
}

/** Unmounts everything mounted under `dir` (rootfs overlays, shm, volumes, netns), deepest first. */
export function unmountUnder(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(dir);
    if (!points.length) return;
    for (const p of points.sort((a, b) => b.length - a.length)) {
      try {
        run("umount", [p]);
      } catch {
        try {
          run("umount", ["-l", p]);
        } catch {
          /* retried next round */
        }
      }
    }
  }
}

export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .map((p) => p.replace(/\\040/g, " "))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

function removeCgroup(root: string): void {
  for (const base of cgroupDirs(root))
    for (const d of walk(base).reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* busy or gone */
      }
    }
}

/** Cgroups, mounts and shims this node left (for the teardown test). */
export function nodeLeftovers(node: { dir: string; cgroupRoot: string; socket: string }): string[] {
  const found: string[] = [];
  for (const d of cgroupDirs(node.cgroupRoot)) found.push(`cgroup ${d}`);
  for (const m of mountsUnder(node.dir)) found.push(`mount ${m}`);
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(node.socket) || cmd.includes(`${node.dir}/`))
        found.push(`process ${pid} ${cmd.replace(/\0/g, " ").slice(0, 80)}`);
    } catch {
      /* gone */
    }
  }
  if (existsSync(node.dir)) found.push(`directory ${node.dir}`);
  return found;
}

/** The last lines of a log that are not informational (klog's I-lines), for error messages. */
function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("I"))
      .slice(-lines)
      .join("\n");
  } catch {
    return `(no log at ${file})`;
  }
}
