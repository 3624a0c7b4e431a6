// Real nodes, beside the simulated ones: containerd (with runc and the CNI plugins) and a
// kubelet, plus kube-proxy for Service IPs, per node, each node in its own network namespace on
// a node network (the control plane's, or one of the caller's). Pods run in real containers;
// `kubectl logs`, `exec` and `port-forward` reach the kubelet at the node's address.
//
// Everything started or made here is ended by PID and removed on stop(), also after a failure:
// the node's daemons, its containers (by the PIDs in its cgroups), containerd shims, mounts
// (rootfs overlays, shm, volumes, Pod network namespaces), cgroups, the shims' sockets and the
// CNI result cache, links and iptables rules (with the node's network namespace). Each node is
// recorded in a registry file before anything of it is made, so that when its owner dies
// uncleanly (SIGKILL) the next run removes all of that too (reapRealNodes).
import { createHash, X509Certificate } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, type V1Node } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { REAL_NODE_LABEL } from "../crds/contract.ts";
import { isNotFound } from "../kube/errors.ts";
import type { Binaries } from "./binaries.ts";
import { loadPki, mintClientCert, type Pki } from "./certs.ts";
import { PAUSE_IMAGE } from "./images.ts";
import { writeIdentity } from "./kubeconfig.ts";
import { CLUSTER_POD_CIDR, type NodeAddress, type NodeNetwork, run } from "./node-network.ts";
import { ProcessGroup, REGISTRY_DIR } from "./processes.ts";

/** The taint real nodes carry: only Pods that tolerate it (or are pinned by nodeName) land there. */
export const REAL_NODE_TAINT = {
  key: REAL_NODE_LABEL,
  value: "true",
  effect: "NoSchedule",
} as const;
export { REAL_NODE_LABEL };

export interface RealNodeSpec {
  name: string;
  labels?: Record<string, string>;
}

/**
 * What real nodes need of the control plane they join. A ControlPlane is one; a test worker,
 * which only knows the shared state directory, server and binaries, makes one with realNodeHost.
 */
export interface RealNodeHost {
  /** The control plane's state directory: nodes keep their files under `<dir>/nodes`, logs in `<dir>/logs`. */
  dir: string;
  /** The API server's URL on this host (https://127.0.0.1:<port>). */
  server: string;
  pki: Pki;
  bins: Pick<Binaries, "kubelet" | "kubeProxy">;
  /** An admin client (waits for the Nodes, deletes them on stop). */
  kubeConfig(): KubeConfig;
  /** Where nodes and their processes are recorded for reaping (default REGISTRY_DIR). */
  registryDir?: string;
}

/** A RealNodeHost from a control plane's state directory, API server URL and binaries directory. */
export function realNodeHost(opts: {
  stateDir: string;
  server: string;
  binDir: string;
  /** Default: `<stateDir>/admin.kubeconfig`, where ControlPlane writes it. */
  kubeconfig?: string;
  registryDir?: string;
}): RealNodeHost {
  const kubeconfig = opts.kubeconfig ?? join(opts.stateDir, "admin.kubeconfig");
  return {
    dir: opts.stateDir,
    server: opts.server,
    pki: loadPki(join(opts.stateDir, "pki")),
    bins: { kubelet: join(opts.binDir, "kubelet"), kubeProxy: join(opts.binDir, "kube-proxy") },
    kubeConfig: () => {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      return kc;
    },
    ...(opts.registryDir ? { registryDir: opts.registryDir } : {}),
  };
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

/** What a node leaves on the host, as its registry file records it (enough to remove it all). */
export interface NodeRecord {
  owner: number;
  name: string;
  /** The node's directory: config, containerd root and state, kubelet root, logs, Pod netns. */
  dir: string;
  /** containerd's socket (in `dir`): shims are started with it. */
  socket: string;
  /** The kubelet's cgroupRoot, in every cgroup hierarchy. */
  cgroupRoot: string;
  /** The CNI network name: the CNI result cache (/var/lib/cni/results) is keyed by it. */
  cniNetwork: string;
  /** The node's daemons (containerd, kubelet, kube-proxy). */
  processes: { name: string; pid: number; command: string }[];
}

/** A running real node. */
export interface RealNode extends NodeRecord {
  spec: RealNodeSpec;
  address: NodeAddress;
  /** Its registry file. */
  recordFile: string;
}

const CGROUP_V1 = "/sys/fs/cgroup";

export class RealNodes {
  readonly nodes: RealNode[] = [];
  /** The nodes' daemons (containerd, kubelet, kube-proxy per node). */
  readonly processes: ProcessGroup;
  private readonly host: RealNodeHost;
  private readonly net: NodeNetwork;
  private readonly registryDir: string;
  private readonly log: (msg: string) => void;
  /** Set when the API server's certificate does not name the network's host address. */
  private readonly tlsServerName: string | undefined;
  private stopped = false;

  private constructor(host: RealNodeHost, net: NodeNetwork, log: (msg: string) => void) {
    this.host = host;
    this.net = net;
    this.log = log;
    this.registryDir = host.registryDir ?? REGISTRY_DIR;
    this.processes = new ProcessGroup(join(host.dir, "logs"), this.registryDir);
    this.processes.on("exit", (name: string, code: number | null, signal: string | null) =>
      this.log(
        `${name} exited unexpectedly (code ${code}, signal ${signal}); log: ${join(host.dir, "logs", name)}.log`,
      ),
    );
    // Nodes reach the API server at the network's host address; a network other than the
    // control plane's own is not in its serving certificate, which does name localhost.
    const serving = new X509Certificate(readFileSync(host.pki.servingCert));
    this.tlsServerName = serving.checkIP(net.hostIp) ? undefined : "localhost";
  }

  /**
   * Starts the nodes on `net` and waits until every one is Ready. `net` must let the nodes reach
   * the API server (NodeNetwork.exposeApiserver); it stays the caller's: stop() removes the
   * nodes from it, not the network itself. With a ControlPlane, `RealNodes.start(cp, specs)`
   * uses the control plane's node network.
   */
  static start(
    cp: RealNodeHost & { nodeNetwork?: NodeNetwork | undefined },
    specs: RealNodeSpec[],
    opts?: RealNodeOptions,
  ): Promise<RealNodes>;
  static start(
    host: RealNodeHost,
    net: NodeNetwork | undefined,
    specs: RealNodeSpec[],
    opts?: RealNodeOptions,
  ): Promise<RealNodes>;
  static async start(
    host: RealNodeHost & { nodeNetwork?: NodeNetwork | undefined },
    netOrSpecs: NodeNetwork | undefined | RealNodeSpec[],
    specsOrOpts?: RealNodeSpec[] | RealNodeOptions,
    maybeOpts?: RealNodeOptions,
  ): Promise<RealNodes> {
    const [net, specs, opts] = Array.isArray(netOrSpecs)
      ? [host.nodeNetwork, netOrSpecs, (specsOrOpts ?? {}) as RealNodeOptions]
      : [netOrSpecs, (specsOrOpts ?? []) as RealNodeSpec[], maybeOpts ?? {}];
    const support = realNodeSupport();
    if (!support.ok) throw new Error(`this machine cannot run real nodes: ${support.missing.join("; ")}`);
    if (!net) throw new Error("no node network: start the control plane with nodeNetwork: true, or pass one");
    const log = opts.log ?? ((m: string) => process.stderr.write(`[real-node] ${m}\n`));
    const nodes = new RealNodes(host, net, log);
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
    const address = this.net.addNode();
    const tag = `${this.net.id}-n${address.index}`;
    const dir = join(this.host.dir, "nodes", tag);
    const node: RealNode = {
      owner: process.pid,
      name: spec.name,
      spec,
      address,
      dir,
      socket: join(dir, "containerd.sock"),
      cgroupRoot: `/kube-offers-${this.net.id}-${address.index}`,
      cniNetwork: `kube-offers-${tag}`,
      processes: [],
      recordFile: join(this.registryDir, `${process.pid}-node-${tag}.json`),
    };
    this.nodes.push(node);
    // Recorded before anything of it exists: a crash from here on leaves nothing unrecorded.
    saveRecord(node);
    for (const d of ["containerd", "cni/net.d", "cni/ipam", "kubelet/pki", "pods-logs"])
      mkdirSync(join(dir, d), { recursive: true });
    this.makeCgroupRoot(node.cgroupRoot);
    writeFileSync(join(dir, "containerd.toml"), containerdConfig(node));
    writeFileSync(join(dir, "cni/net.d/10-kube-offers.conflist"), JSON.stringify(cniConfig(node), null, 2));
    const server = `https://${this.net.hostIp}:${new URL(this.host.server).port}`;
    const ca = readFileSync(this.host.pki.caCert, "utf8");
    const identity = (file: string, user: string, groups: string[]) => {
      const cert = mintClientCert(this.host.pki, user, groups);
      writeIdentity(
        join(dir, file),
        server,
        ca,
        user,
        {
          "client-certificate-data": Buffer.from(cert.certPem).toString("base64"),
          "client-key-data": Buffer.from(cert.keyPem).toString("base64"),
        },
        this.tlsServerName,
      );
    };
    identity("kubelet.kubeconfig", `system:node:${spec.name}`, ["system:nodes"]);
    identity("kube-proxy.kubeconfig", "system:kube-proxy", []);
    writeFileSync(join(dir, "kubelet.yaml"), stringify(kubeletConfig(node, this.host.pki.caCert)));
    writeFileSync(join(dir, "kube-proxy.yaml"), stringify(kubeProxyConfig(node)));

    const containerd = this.spawn(node, `containerd-${tag}`, "containerd", [
      "--config",
      join(dir, "containerd.toml"),
    ]);
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
    this.spawn(node, `kubelet-${tag}`, this.host.bins.kubelet, [
      `--config=${join(dir, "kubelet.yaml")}`,
      `--kubeconfig=${join(dir, "kubelet.kubeconfig")}`,
      `--root-dir=${join(dir, "kubelet")}`,
      // Its self-signed serving certificate; the default, /var/lib/kubelet/pki, is shared by
      // every kubelet on this host.
      `--cert-dir=${join(dir, "kubelet/pki")}`,
      `--hostname-override=${spec.name}`,
      `--node-ip=${address.ip}`,
      `--node-labels=${Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",")}`,
      "--v=1",
    ]);
    this.spawn(node, `kube-proxy-${tag}`, this.host.bins.kubeProxy, [
      `--config=${join(dir, "kube-proxy.yaml")}`,
      "--v=1",
    ]);
  }

  /** Starts `program` in the node's network namespace and records its PID with the node. */
  private spawn(node: RealNode, name: string, program: string, args: string[]) {
    const inNetns = [`--net=${join("/var/run/netns", node.address.netns)}`, "--"];
    const p = this.processes.spawn(name, "nsenter", [...inNetns, program, ...args], process.env, program);
    node.processes.push({ name, pid: p.pid, command: program });
    saveRecord(node);
    return p;
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
    const core = this.host.kubeConfig().makeApiClient(CoreV1Api);
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
    return this.host.kubeConfig();
  }

  /**
   * Stops kubelets, kube-proxies and containerds, removes every trace of the nodes (also of
   * nodes whose daemons already died) and deletes their Node objects. Idempotent; never throws
   * (a control plane still has to stop after it): what could not be removed is logged, and
   * that node's record stays for the next run's reaper.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.processes.stopAll(5000);
    for (const node of this.nodes) {
      try {
        teardownNode(node);
        rmSync(node.recordFile, { force: true });
      } catch (err) {
        this.log(`real node ${node.spec.name} not fully removed: ${(err as Error).message}`);
      }
      this.net.removeNode(node.address);
    }
    const core = this.host.kubeConfig().makeApiClient(CoreV1Api);
    for (const node of this.nodes)
      await core.deleteNode({ name: node.spec.name }).catch((err: unknown) => {
        if (!isNotFound(err)) this.log(`could not delete Node ${node.spec.name}: ${(err as Error).message}`);
      });
  }
}

function saveRecord(node: RealNode): void {
  const record: NodeRecord = {
    owner: node.owner,
    name: node.name,
    dir: node.dir,
    socket: node.socket,
    cgroupRoot: node.cgroupRoot,
    cniNetwork: node.cniNetwork,
    processes: node.processes,
  };
  writeFileSync(node.recordFile, JSON.stringify(record));
}

/** Removes the real nodes of owners that died without stopping them. Returns what it removed. */
export function reapRealNodes(registryDir: string = REGISTRY_DIR): string[] {
  const reaped: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(registryDir).filter((f) => /^\d+-node-[\w.-]+\.json$/.test(f));
  } catch {
    return reaped;
  }
  for (const f of files) {
    const owner = Number(f.split("-")[0]);
    if (isAlive(owner)) continue;
    let record: NodeRecord | undefined;
    try {
      record = JSON.parse(readFileSync(join(registryDir, f), "utf8")) as NodeRecord;
    } catch {
      /* unreadable: nothing to act on */
    }
    if (record?.dir) {
      try {
        const removed = teardownNode(record);
        reaped.push(`real node ${record.name} (${removed.join(", ") || "nothing left"})`);
      } catch (err) {
        // Keep the record: the next run tries again.
        reaped.push(`real node ${record.name}, not fully: ${(err as Error).message}`);
        continue;
      }
    }
    rmSync(join(registryDir, f), { force: true });
  }
  return reaped;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function containerdConfig(node: RealNode): string {
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

function cniConfig(node: RealNode): object {
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

function kubeletConfig(node: RealNode, caFile: string): object {
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

function kubeProxyConfig(node: RealNode): object {
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

// ---------------------------------------------------------------------------------------------
// Teardown: by PID and by path, from what the node's record names, whether or not its daemons
// still run.

const CNI_CACHE = "/var/lib/cni/results";
const CONTAINER_LOG_LINKS = "/var/log/containers";
const SHIM = /^\/usr\/bin\/containerd-shim/;

/** What teardownNode needs: a NodeRecord (a RealNode is one). */
export type NodeTeardown = Pick<NodeRecord, "dir" | "socket" | "cgroupRoot"> &
  Partial<Pick<NodeRecord, "cniNetwork" | "processes">>;

/**
 * Ends everything of a node and removes its traces: its daemons and anything else running from
 * its directory (by PID), its containers (by the PIDs in its cgroups), its shims, every mount
 * under its directory (overlays, shm, volumes, Pod network namespaces), its cgroups, the shims'
 * sockets in /run/containerd/s, its CNI result cache, the kubelet's log links in
 * /var/log/containers (and its device-plugin socket, once no kubelet runs), and its directory.
 * Its node network namespace, veth and routes are its NodeNetwork's. Returns what it found to
 * remove; throws if something stays.
 */
export function teardownNode(node: NodeTeardown): string[] {
  const done: string[] = [];
  const count = (n: number, what: string) => {
    if (n) done.push(`${n} ${what}`);
  };
  // The daemons first, so that no kubelet restarts a container and no containerd starts a shim.
  const daemons = new Set(killAll(processesOf(node).filter((p) => !SHIM.test(p.cmd))));
  count(daemons.size, "daemon(s)");
  // Before the shims and the directory go: which sockets and cache entries are the node's.
  const sockets = shimSockets(node);
  const ids = sandboxIds(node);
  const containers = new Set<number>();
  const shims = new Set<number>();
  for (let round = 0; round < 50; round++) {
    const inCgroups = cgroupPids(node.cgroupRoot);
    const rest = processesOf(node);
    if (!inCgroups.length && !rest.length) break;
    for (const pid of killAll(inCgroups.map((pid) => ({ pid, cmd: "" })))) containers.add(pid);
    for (const pid of killAll(rest)) if (!daemons.has(pid)) shims.add(pid);
    sleepSync(round < 5 ? 20 : 100);
  }
  count(containers.size, "container process(es)");
  count(shims.size, "shim(s)");
  const mounts = mountsUnder(node.dir);
  unmountUnder(node.dir);
  count(mounts.length, "mount(s)");
  count(removeCgroup(node.cgroupRoot), "cgroup(s)");
  let files = 0;
  for (const f of [...sockets, ...cniCacheFiles(node.cniNetwork, ids), ...logLinks(node.dir)]) {
    if (!lexists(f)) continue;
    rmSync(f, { force: true });
    files++;
  }
  if (removeStaleKubeletSocket()) files++;
  count(files, "host file(s)");
  // Never through a mount that would not go (a subPath bind mount's source is outside).
  if (existsSync(node.dir) && !mountsUnder(node.dir).length) {
    rmSync(node.dir, { recursive: true, force: true });
    done.push(`directory ${node.dir}`);
  }
  const left = nodeLeftovers(node);
  if (left.length) throw new Error(`left behind: ${left.join("; ")}`);
  return done;
}

interface Proc {
  pid: number;
  cmd: string;
}

function allProcesses(): Proc[] {
  const out: Proc[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      out.push({ pid: Number(p), cmd: readFileSync(`/proc/${p}/cmdline`, "utf8") });
    } catch {
      /* exited */
    }
  }
  return out;
}

/**
 * The processes running from the node's directory: its daemons (their config is there), its
 * shims (started with its socket), anything else started with a path in it. Zombies are dead.
 */
function processesOf(node: Pick<NodeRecord, "dir">): Proc[] {
  return allProcesses().filter(
    (p) => p.pid !== process.pid && p.cmd.includes(`${node.dir}/`) && !isZombie(p.pid),
  );
}

function isZombie(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\)/, ")"));
  } catch {
    return true;
  }
}

/** SIGKILLs each; returns the PIDs it signalled. */
function killAll(procs: Proc[]): number[] {
  const killed: number[] = [];
  for (const { pid } of procs) {
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch {
      /* exited */
    }
  }
  return killed;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
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

/** The PIDs in the node's cgroups (its containers), in every hierarchy. */
function cgroupPids(root: string): number[] {
  const pids = new Set<number>();
  for (const base of cgroupDirs(root))
    for (const d of walk(base)) {
      try {
        for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n"))
          if (l && !isZombie(Number(l))) pids.add(Number(l));
      } catch {
        /* gone */
      }
    }
  return [...pids];
}

/**
 * The sockets of the node's shims. containerd 1.6 puts them in /run/containerd/s whatever its
 * state directory (named by a hash of containerd's address, the namespace and the task id), and
 * a SIGKILLed shim leaves its socket: from the `address` files in the tasks' bundles, and from
 * the running shims' command lines.
 */
function shimSockets(node: Pick<NodeRecord, "dir" | "socket">): string[] {
  const found = new Set<string>();
  const tasks = join(node.dir, "containerd/state/io.containerd.runtime.v2.task");
  for (const ns of readdirSafe(tasks))
    for (const id of readdirSafe(join(tasks, ns))) {
      try {
        const addr = readFileSync(join(tasks, ns, id, "address"), "utf8").trim();
        if (addr.startsWith("unix://")) found.add(addr.slice("unix://".length));
      } catch {
        /* no address */
      }
    }
  for (const p of allProcesses()) {
    if (!SHIM.test(p.cmd)) continue;
    const args = p.cmd.split("\0");
    const arg = (flag: string) => args[args.indexOf(flag) + 1];
    if (arg("-address") !== node.socket) continue;
    const hash = createHash("sha256")
      .update(join(node.socket, arg("-namespace") ?? "", arg("-id") ?? ""))
      .digest("hex");
    found.add(join("/run/containerd/s", hash));
  }
  return [...found];
}

/**
 * The kubelet's device-plugin socket is /var/lib/kubelet/device-plugins/kubelet.sock whatever
 * its --root-dir (so every kubelet on this host replaces the last one's), and stays when the
 * kubelet ends. Removed once no kubelet runs here any more.
 */
function removeStaleKubeletSocket(): boolean {
  const socket = "/var/lib/kubelet/device-plugins/kubelet.sock";
  if (!lexists(socket)) return false;
  if (allProcesses().some((p) => /(^|\/)kubelet$/.test(p.cmd.split("\0")[0] ?? "") && !isZombie(p.pid)))
    return false;
  rmSync(socket, { force: true });
  return true;
}

/** The node's Pod sandbox IDs, from its CNI IPAM store and its task bundles. */
function sandboxIds(node: Pick<NodeRecord, "dir">): string[] {
  const ids = new Set<string>();
  const ipam = join(node.dir, "cni/ipam");
  for (const net of readdirSafe(ipam))
    for (const f of readdirSafe(join(ipam, net))) {
      try {
        const id = readFileSync(join(ipam, net, f), "utf8").split(/\s/)[0] ?? "";
        if (/^[0-9a-f]{64}$/.test(id)) ids.add(id);
      } catch {
        /* a directory or gone */
      }
    }
  const tasks = join(node.dir, "containerd/state/io.containerd.runtime.v2.task");
  for (const ns of readdirSafe(tasks)) for (const id of readdirSafe(join(tasks, ns))) ids.add(id);
  return [...ids];
}

/** The node's entries in libcni's result cache, which is host-wide. */
function cniCacheFiles(network: string | undefined, ids: string[]): string[] {
  if (!network) return [];
  const mine = new Set(ids);
  const out: string[] = [];
  for (const f of readdirSafe(CNI_CACHE)) {
    if (f.startsWith(`${network}-`)) {
      out.push(join(CNI_CACHE, f));
      const id = /^.*-([0-9a-f]{64})-[^-]+$/.exec(f)?.[1];
      if (id) mine.add(id);
    }
  }
  for (const f of readdirSafe(CNI_CACHE)) {
    const id = /^cni-loopback-([0-9a-f]{64})-lo$/.exec(f)?.[1];
    if (id && mine.has(id)) out.push(join(CNI_CACHE, f));
  }
  return out;
}

/** The kubelet's links in /var/log/containers (host-wide) to logs in the node's directory. */
function logLinks(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSafe(CONTAINER_LOG_LINKS)) {
    const path = join(CONTAINER_LOG_LINKS, f);
    try {
      if (readlinkSync(path).startsWith(`${dir}/`)) out.push(path);
    } catch {
      /* not a link */
    }
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
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

interface Mount {
  point: string;
  /** For nsfs: the namespace, e.g. "net:[4026532250]". */
  root: string;
  fstype: string;
}

function mounts(): Mount[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const f = l.split(" ");
      const sep = f.indexOf("-");
      const decode = (p: string) =>
        p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
      return { root: decode(f[3] ?? ""), point: decode(f[4] ?? ""), fstype: f[sep + 1] ?? "" };
    });
}

export function mountsUnder(dir: string): string[] {
  return mounts()
    .map((m) => m.point)
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** Removes the node's cgroups, deepest first; returns how many it removed. */
function removeCgroup(root: string): number {
  let n = 0;
  for (const base of cgroupDirs(root))
    for (const d of walk(base).reverse()) {
      try {
        rmdirSync(d);
        n++;
      } catch {
        /* busy or gone */
      }
    }
  return n;
}

/** Cgroups, mounts, processes, host files and the directory this node left (empty: none). */
export function nodeLeftovers(node: NodeTeardown): string[] {
  const found: string[] = [];
  for (const d of cgroupDirs(node.cgroupRoot)) found.push(`cgroup ${d}`);
  for (const m of mountsUnder(node.dir)) found.push(`mount ${m}`);
  for (const p of processesOf(node))
    found.push(`process ${p.pid} ${p.cmd.replace(/\0/g, " ").slice(0, 100)}`);
  for (const f of [...cniCacheFiles(node.cniNetwork, []), ...logLinks(node.dir)]) found.push(`file ${f}`);
  if (existsSync(node.dir)) found.push(`directory ${node.dir}`);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Traces, for teardown tests: what a running node has made, each identified so that a test can
// tell afterwards whether exactly that is still there.

export interface Trace {
  kind: "process" | "mount" | "netns" | "cgroup" | "file";
  /** Human-readable: what it is and why it is the node's. */
  what: string;
  /** process: "<pid>:<start time>"; mount: mount point; netns: "net:[inode]"; cgroup, file: path. */
  id: string;
}

/**
 * Everything of `node` on this host right now: its daemons, shims and container processes (by
 * PID and start time), its mounts, its Pods' and its own network namespaces (by inode), its
 * cgroups and its host-wide files (shim sockets, CNI cache entries, log links).
 */
export function nodeTraces(node: NodeTeardown): Trace[] {
  const traces: Trace[] = [];
  const process_ = (pid: number, role: string) => {
    const start = startTime(pid);
    if (start) traces.push({ kind: "process", what: `${role} (pid ${pid})`, id: `${pid}:${start}` });
  };
  const daemons = new Set((node.processes ?? []).map((p) => p.pid));
  for (const p of processesOf(node)) process_(p.pid, daemonRole(p, daemons));
  const netns = new Map<string, string>();
  for (const pid of cgroupPids(node.cgroupRoot)) {
    process_(pid, `container process ${comm(pid)}`);
    const ns = netnsOf(pid);
    if (ns) netns.set(ns, `Pod network namespace ${ns} (of pid ${pid})`);
  }
  const kubelet = (node.processes ?? []).find((p) => p.name.startsWith("kubelet"));
  const nodeNs = kubelet && netnsOf(kubelet.pid);
  if (nodeNs) netns.set(nodeNs, `node network namespace ${nodeNs}`);
  for (const [id, what] of netns) traces.push({ kind: "netns", what, id });
  for (const m of mounts())
    if (m.point === node.dir || m.point.startsWith(`${node.dir}/`))
      traces.push({ kind: "mount", what: `${m.fstype} mount ${m.point}`, id: m.point });
  for (const d of cgroupDirs(node.cgroupRoot))
    for (const c of walk(d)) traces.push({ kind: "cgroup", what: `cgroup ${c}`, id: c });
  for (const f of shimSockets(node))
    if (lexists(f)) traces.push({ kind: "file", what: `shim socket ${f}`, id: f });
  for (const f of cniCacheFiles(node.cniNetwork, sandboxIds(node)))
    traces.push({ kind: "file", what: `CNI cache ${f}`, id: f });
  for (const f of logLinks(node.dir)) traces.push({ kind: "file", what: `log link ${f}`, id: f });
  traces.push({ kind: "file", what: `node directory ${node.dir}`, id: node.dir });
  return traces;
}

/** The traces that are still there. */
export function remainingTraces(traces: Trace[]): Trace[] {
  const points = new Set(mounts().map((m) => m.point));
  const heldNetns = heldNamespaces();
  return traces.filter((t) => {
    switch (t.kind) {
      case "process": {
        const [pid, start] = t.id.split(":");
        return startTime(Number(pid)) === start && !isZombie(Number(pid));
      }
      case "mount":
        return points.has(t.id);
      case "netns":
        return heldNetns.has(t.id);
      default:
        return lexists(t.id);
    }
  });
}

function daemonRole(p: Proc, daemons: Set<number>): string {
  const prog = (p.cmd.split("\0")[0] ?? "").split("/").pop() ?? "";
  if (SHIM.test(p.cmd)) return `shim ${prog}`;
  return daemons.has(p.pid) ? prog : `process ${prog}`;
}

/** Field 22 of /proc/<pid>/stat: with the PID, it names one process (PIDs get reused). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

function netnsOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** Network namespaces something still holds: a mount (nsfs), a live process, an open descriptor. */
function heldNamespaces(): Set<string> {
  const held = new Set<string>();
  for (const m of mounts()) if (m.fstype === "nsfs" && m.root.startsWith("net:[")) held.add(m.root);
  for (const p of readdirSafe("/proc")) {
    if (!/^\d+$/.test(p) || isZombie(Number(p))) continue;
    const ns = netnsOf(Number(p));
    if (ns) held.add(ns);
    for (const fd of readdirSafe(`/proc/${p}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${p}/fd/${fd}`);
        if (target.startsWith("net:[")) held.add(target);
      } catch {
        /* closed */
      }
    }
  }
  return held;
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
