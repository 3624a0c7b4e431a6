// Simulated nodes: there is no container runtime here, so this plays the kubelet's part for
// Nodes it registers. It keeps them Ready (status + node Lease), runs Pods bound to them
// (Pending → Running → Succeeded/Failed, as annotations direct), finishes Pods being deleted,
// and takes nodes down on command for fault tests.
import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  V1MicroTime,
  type V1Pod,
} from "@kubernetes/client-node";
import pLimit from "p-limit";
import { isAlreadyExists, isNotFound, statusCode } from "../kube/errors.ts";
import { SupervisedInformer } from "../kube/informer.ts";
import { mergePatch, microTime } from "../kube/patch.ts";

/** Seconds a Pod stays Pending before it runs (default 0). */
export const START_SECONDS = "sim.kubeoffers.io/start-seconds";
/** Seconds a Pod runs before it exits; absent: it runs until deleted. */
export const RUN_SECONDS = "sim.kubeoffers.io/run-seconds";
/** Exit code when it exits (default 0: Succeeded; otherwise Failed). */
export const EXIT_CODE = "sim.kubeoffers.io/exit-code";

export interface SimNode {
  name: string;
  /** Capacity = allocatable, e.g. {cpu: "8", memory: "16Gi", pods: "110"}. */
  capacity?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface NodeSimulatorOptions {
  leaseDurationSeconds?: number;
  /** How often node Leases are renewed (default leaseDuration / 4). */
  renewIntervalMs?: number;
  /** Concurrent API writes (default 16). */
  concurrency?: number;
  log?: (msg: string) => void;
}

interface NodeState {
  spec: SimNode;
  up: boolean;
  ipBase: number;
  nextIp: number;
}

const DEFAULT_CAPACITY = { cpu: "8", memory: "16Gi", pods: "110", "ephemeral-storage": "100Gi" };

export class NodeSimulator {
  private readonly core: CoreV1Api;
  private readonly coord: CoordinationV1Api;
  private readonly nodes = new Map<string, NodeState>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Pod uid → what the simulator last did, so repeated events don't repeat writes. */
  private readonly handled = new Map<string, string>();
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly informer: SupervisedInformer<V1Pod>;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly leaseSeconds: number;
  private readonly log: (msg: string) => void;
  private stopped = false;
  /** Counters for benchmarks and debugging. */
  readonly stats = { started: 0, succeeded: 0, failed: 0, deleted: 0, writeErrors: 0 };

  private readonly opts: NodeSimulatorOptions;

  constructor(kc: KubeConfig, opts: NodeSimulatorOptions = {}) {
    this.opts = opts;
    this.core = kc.makeApiClient(CoreV1Api);
    this.coord = kc.makeApiClient(CoordinationV1Api);
    this.limit = pLimit(opts.concurrency ?? 16);
    this.leaseSeconds = opts.leaseDurationSeconds ?? 40;
    this.log = opts.log ?? (() => {});
    this.informer = new SupervisedInformer<V1Pod>(
      "sim-pods",
      kc,
      "/api/v1/pods",
      () => this.core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName!=" }),
      {
        fieldSelector: "spec.nodeName!=",
        resyncMs: 5_000,
        onError: (n, err, ms) => this.log(`${n}: ${String(err)}; restart in ${ms} ms`),
      },
    );
    for (const ev of ["add", "update", "resync"] as const) this.informer.on(ev, (p: V1Pod) => this.onPod(p));
    this.informer.on("delete", (p: V1Pod) => this.forget(p));
  }

  async start(nodes: SimNode[] = []): Promise<void> {
    await this.addNodes(nodes);
    await this.informer.start();
    const every = this.opts.renewIntervalMs ?? (this.leaseSeconds * 1000) / 4;
    this.renewTimer = setInterval(() => void this.renewLeases(), every);
    this.renewTimer.unref();
  }

  async addNodes(nodes: SimNode[]): Promise<void> {
    await Promise.all(nodes.map((n) => this.limit(() => this.register(n))));
  }

  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  private async register(spec: SimNode): Promise<void> {
    const idx = this.nodes.size + 1;
    const state: NodeState = { spec, up: true, ipBase: idx, nextIp: 2 };
    this.nodes.set(spec.name, state);
    const capacity = { ...DEFAULT_CAPACITY, ...spec.capacity };
    try {
      await this.core.createNode({
        body: {
          metadata: {
            name: spec.name,
            labels: { "kubernetes.io/hostname": spec.name, "kubernetes.io/os": "linux", ...spec.labels },
            annotations: { "kubeoffers.io/simulated": "true" },
          },
        },
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    await this.core.patchNodeStatus(
      {
        name: spec.name,
        body: {
          status: {
            capacity,
            allocatable: capacity,
            conditions: this.conditions(true),
            addresses: [
              { type: "InternalIP", address: nodeIp(idx) },
              { type: "Hostname", address: spec.name },
            ],
            nodeInfo: {
              architecture: "amd64",
              operatingSystem: "linux",
              kubeletVersion: "v1.34.4-sim",
              kubeProxyVersion: "",
              containerRuntimeVersion: "sim://1",
              osImage: "kube-offers simulated node",
              kernelVersion: "",
              machineID: spec.name,
              systemUUID: spec.name,
              bootID: spec.name,
            },
          },
        },
      },
      mergePatch,
    );
    await this.renewLease(spec.name);
  }

  private conditions(ready: boolean) {
    const now = new Date().toISOString();
    const c = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    return [
      ready
        ? c("Ready", "True", "KubeletReady", "simulated kubelet is posting ready status")
        : c("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."),
      c("MemoryPressure", "False", "KubeletHasSufficientMemory", "simulated"),
      c("DiskPressure", "False", "KubeletHasNoDiskPressure", "simulated"),
      c("PIDPressure", "False", "KubeletHasSufficientPID", "simulated"),
    ];
  }

  private async renewLeases(): Promise<void> {
    await Promise.all(
      [...this.nodes.values()].filter((n) => n.up).map((n) => this.limit(() => this.renewLease(n.spec.name))),
    );
  }

  private async renewLease(node: string): Promise<void> {
    if (this.stopped) return;
    const spec = { holderIdentity: node, leaseDurationSeconds: this.leaseSeconds, renewTime: microTime() };
    try {
      await timeout(
        this.coord.patchNamespacedLease(
          { name: node, namespace: "kube-node-lease", body: { spec } },
          mergePatch,
        ),
      );
    } catch (err) {
      if (!isNotFound(err)) {
        this.stats.writeErrors++;
        return;
      }
      try {
        await this.coord.createNamespacedLease({
          namespace: "kube-node-lease",
          body: {
            metadata: { name: node, namespace: "kube-node-lease" },
            spec: { ...spec, renewTime: new V1MicroTime() },
          },
        });
      } catch (e) {
        if (!isAlreadyExists(e)) this.stats.writeErrors++;
      }
    }
  }

  /** The node's kubelet "dies": Ready becomes Unknown, its lease stops, its Pods freeze. */
  async nodeDown(name: string): Promise<void> {
    const n = this.mustGet(name);
    n.up = false;
    for (const [key, t] of this.timers) {
      if (key.startsWith(`${name}/`)) {
        clearTimeout(t);
        this.timers.delete(key);
      }
    }
    await this.core.patchNodeStatus(
      { name, body: { status: { conditions: this.conditions(false) } } },
      mergePatch,
    );
  }

  /** The node comes back: Ready again, its Pods resume. */
  async nodeUp(name: string): Promise<void> {
    const n = this.mustGet(name);
    n.up = true;
    await this.core.patchNodeStatus(
      { name, body: { status: { conditions: this.conditions(true) } } },
      mergePatch,
    );
    await this.renewLease(name);
    for (const p of this.informer.list()) if (p.spec?.nodeName === name) this.onPod(p);
  }

  /** Deletes the Node object, as a cloud provider does for a vanished machine. */
  async removeNode(name: string): Promise<void> {
    this.mustGet(name).up = false;
    this.nodes.delete(name);
    await this.core.deleteNode({ name }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  private mustGet(name: string): NodeState {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`node ${name} is not simulated here`);
    return n;
  }

  private forget(p: V1Pod): void {
    const uid = p.metadata?.uid ?? "";
    this.handled.delete(uid);
    const key = `${p.spec?.nodeName}/${uid}`;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  private schedule(p: V1Pod, ms: number, fn: () => void): void {
    const key = `${p.spec?.nodeName}/${p.metadata?.uid}`;
    if (this.timers.has(key)) return;
    const t = setTimeout(
      () => {
        this.timers.delete(key);
        fn();
      },
      Math.max(0, ms),
    );
    t.unref();
    this.timers.set(key, t);
  }

  /** Level-based: look at the Pod as it is now and do the next step of its life. */
  private onPod(p: V1Pod): void {
    if (this.stopped) return;
    const node = this.nodes.get(p.spec?.nodeName ?? "");
    if (!node?.up) return;
    const uid = p.metadata?.uid ?? "";
    const phase = p.status?.phase ?? "Pending";
    const ann = p.metadata?.annotations ?? {};
    if (p.metadata?.deletionTimestamp) {
      if (this.handled.get(uid) === "delete") return;
      this.handled.set(uid, "delete");
      void this.limit(() => this.finishDeletion(p));
      return;
    }
    if (phase === "Succeeded" || phase === "Failed") return;
    if (phase === "Pending") {
      if (this.handled.get(uid) === "run") return;
      const startMs = num(ann[START_SECONDS]) * 1000;
      this.schedule(p, startMs, () => {
        this.handled.set(uid, "run");
        void this.limit(() => this.markRunning(p, node));
      });
      return;
    }
    if (phase === "Running" && ann[RUN_SECONDS] !== undefined && p.spec?.restartPolicy !== "Always") {
      if (this.handled.get(uid) === "exit") return;
      const started = Date.parse(p.status?.startTime?.toString() ?? "") || Date.now();
      const endsAt = started + num(ann[RUN_SECONDS]) * 1000;
      this.schedule(p, endsAt - Date.now(), () => {
        this.handled.set(uid, "exit");
        void this.limit(() => this.markExited(p, Number(ann[EXIT_CODE] ?? "0") || 0));
      });
    }
  }

  private async markRunning(p: V1Pod, node: NodeState): Promise<void> {
    const now = new Date().toISOString();
    const podIP = `10.${100 + Math.floor(node.ipBase / 250)}.${node.ipBase % 250}.${(node.nextIp++ % 250) + 2}`;
    const hostIP = nodeIp(node.ipBase);
    const cond = (type: string) => ({ type, status: "True", lastTransitionTime: now });
    const ok = await this.writeStatus(p, {
      phase: "Running",
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: now,
      conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map(cond),
      containerStatuses: containerStatuses(p, true, { running: { startedAt: now } }),
    });
    if (ok) this.stats.started++;
  }

  private async markExited(p: V1Pod, exitCode: number): Promise<void> {
    const now = new Date().toISOString();
    const startedAt = p.status?.startTime?.toString() ?? now;
    const ok = await this.writeStatus(p, {
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      conditions: [
        { type: "Ready", status: "False", reason: "PodCompleted", lastTransitionTime: now },
        { type: "ContainersReady", status: "False", reason: "PodCompleted", lastTransitionTime: now },
      ],
      containerStatuses: containerStatuses(p, false, {
        terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", startedAt, finishedAt: now },
      }),
    });
    if (ok) {
      if (exitCode === 0) this.stats.succeeded++;
      else this.stats.failed++;
    }
  }

  private async writeStatus(p: V1Pod, status: Record<string, unknown>): Promise<boolean> {
    const name = p.metadata?.name ?? "";
    const namespace = p.metadata?.namespace ?? "";
    try {
      await timeout(
        this.core.patchNamespacedPodStatus(
          { name, namespace, body: { metadata: { uid: p.metadata?.uid }, status } },
          mergePatch,
        ),
      );
      return true;
    } catch (err) {
      // 404/409: the Pod is gone or was replaced; anything else is counted and retried on resync.
      if (!isNotFound(err) && statusCode(err) !== 409) this.stats.writeErrors++;
      this.handled.delete(p.metadata?.uid ?? "");
      return false;
    }
  }

  /** A kubelet confirms deletion once containers stopped: delete with grace 0. */
  private async finishDeletion(p: V1Pod): Promise<void> {
    try {
      await timeout(
        this.core.deleteNamespacedPod({
          name: p.metadata?.name ?? "",
          namespace: p.metadata?.namespace ?? "",
          // With a body, the API server ignores query options: grace period goes in the body.
          body: { gracePeriodSeconds: 0, preconditions: { uid: p.metadata?.uid } },
        }),
      );
      this.stats.deleted++;
    } catch (err) {
      if (!isNotFound(err) && statusCode(err) !== 409) {
        this.stats.writeErrors++;
        this.handled.delete(p.metadata?.uid ?? "");
      }
    }
  }

  get synced(): boolean {
    return this.informer.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.informer.stop();
    // Drop queued writes (a stop must not wait for thousands of them), finish in-flight ones.
    this.limit.clearQueue();
    await this.limit(() => Promise.resolve());
  }
}

function num(v: string | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function nodeIp(idx: number): string {
  return `172.${16 + Math.floor(idx / 65000)}.${Math.floor(idx / 250) % 250}.${(idx % 250) + 1}`;
}

/**
 * A write that hangs (a connection to an API server that died) must not hold a concurrency
 * slot for minutes: give up after `ms`; the resync retries it.
 */
function timeout<T>(p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`API write timed out after ${ms} ms`)), ms);
    }),
  ]);
}

/** Every container of the Pod in one state, as a kubelet reports it. */
function containerStatuses(p: V1Pod, running: boolean, state: Record<string, unknown>) {
  return (p.spec?.containers ?? []).map((c) => ({
    name: c.name,
    image: c.image ?? "",
    imageID: "",
    containerID: `sim://${p.metadata?.uid}-${c.name}`,
    ready: running,
    started: running,
    restartCount: 0,
    state,
  }));
}
