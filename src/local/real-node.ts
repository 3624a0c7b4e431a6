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
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, type V1Node } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { REAL_NODE_LABEL } from "../crds/contract.ts";
import { isNotFound } from "../kube/errors.ts";
import type { Binaries } from "./binaries.ts";
import { loadPki, mintClientCert, type Pki } from "./certs.ts";
import { writeIdentity } from "./kubeconfig.ts";
import { cniConfig, containerdConfig, kubeletConfig, kubeProxyConfig } from "./node-config.ts";
import { type NodeAddress, type NodeNetwork, run } from "./node-network.ts";
import { type NodeRecord, saveRecord } from "./node-record.ts";
import { CGROUP_V1, teardownNode } from "./node-teardown.ts";
import { ProcessGroup, REGISTRY_DIR } from "./processes.ts";
import { realNodeSupport } from "./real-node-support.ts";

export { REAL_NODE_LABEL } from "../crds/contract.ts";
export { REAL_NODE_TAINT } from "./node-config.ts";
export { realNodeSupport, type Support } from "./real-node-support.ts";

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

/** A running real node. */
export interface RealNode extends NodeRecord {
  spec: RealNodeSpec;
  address: NodeAddress;
  /** Its registry file. */
  recordFile: string;
}

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
   * the API server (NodeNetwork.exposeApiserver; a control plane started with nodeNetwork has
   * one: `RealNodes.start(cp, cp.nodeNetwork, specs)`); it stays the caller's: stop() removes the
   * nodes from it, not the network itself.
   */
  static async start(
    host: RealNodeHost,
    net: NodeNetwork | undefined,
    specs: RealNodeSpec[],
    opts: RealNodeOptions = {},
  ): Promise<RealNodes> {
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
