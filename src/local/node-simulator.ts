// Simulated nodes: there is no container runtime here, so this plays the kubelet's part for
// Nodes it registers. It keeps them Ready (status + node Lease), admits Pods bound to them as a
// kubelet does (refused ones fail with the kubelet's reason and message), runs the admitted ones
// (Pending → Running → Succeeded/Failed, as annotations direct) with the status fields a kubelet
// writes, finishes Pods being deleted, and takes nodes down on command for fault tests.
// Here: when each step happens, over each node's admitted Pods, which the heartbeat, admission
// and the Pod lifecycle all read; how each write is made is sim-api.ts, the status it writes
// pod-status.ts, the admission rules kubelet-admission.ts.
import type { KubeConfig, V1Node, V1Pod, V1Taint } from "@kubernetes/client-node";
import pLimit from "p-limit";
import { SIM_EXIT_CODE, SIM_RUN_SECONDS, SIM_START_SECONDS } from "../crds/contract.ts";
import { DnsSubdomainSchema } from "../crds/names.ts";
import { isNotFound } from "../kube/errors.ts";
import { SupervisedInformer } from "../kube/informer.ts";
import { type Admission, admitPod } from "./kubelet-admission.ts";
import { exitedStatus, iso, pendingStatus, rejectedStatus, runningStatus } from "./pod-status.ts";
import { nodeIp, nodeMetadata, SimApi } from "./sim-api.ts";

/**
 * The annotations a simulated node obeys (the contract defines them): seconds a Pod stays
 * Pending, seconds it runs before it exits (absent: until deleted), its exit code (default 0).
 */
export {
  SIM_EXIT_CODE as EXIT_CODE,
  SIM_RUN_SECONDS as RUN_SECONDS,
  SIM_START_SECONDS as START_SECONDS,
} from "../crds/contract.ts";

export interface SimNode {
  name: string;
  /** Capacity = allocatable, e.g. {cpu: "8", memory: "16Gi", pods: "110"}, over the defaults. */
  capacity?: Record<string, string>;
  /** `capacity` is all the node has: no defaults (e.g. no ephemeral-storage, as some kubelets report). */
  exactCapacity?: boolean;
  labels?: Record<string, string>;
  /** Taints the Node registers with (a kubelet's registerWithTaints). */
  taints?: V1Taint[];
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
  /** The Node as last seen: its labels, taints, allocatable and conditions are what admission reads. */
  node: V1Node;
  /** Pods this node admitted that have not terminated (uid → Pod, when admitted): what admission counts. */
  admitted: Map<string, { pod: V1Pod; at: string }>;
}

const DEFAULT_CAPACITY = { cpu: "8", memory: "16Gi", pods: "110", "ephemeral-storage": "100Gi" };

export class NodeSimulator {
  private readonly api: SimApi;
  private readonly nodes = new Map<string, NodeState>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Pod uid → what the simulator last did, so repeated events don't repeat writes. */
  private readonly handled = new Map<string, string>();
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly informer: SupervisedInformer<V1Pod>;
  private readonly nodeInformer: SupervisedInformer<V1Node>;
  /** Pod uid → its in-flight Pending status write, which the Running write must not overtake. */
  private readonly startingWrites = new Map<string, Promise<unknown>>();
  /** Pod uid → when this simulator started its containers, in ms: the API keeps whole seconds only,
   * which would cut up to a second off a simulated run. */
  private readonly startedAtMs = new Map<string, number>();
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly leaseSeconds: number;
  private readonly log: (msg: string) => void;
  private stopped = false;
  /** Counters for benchmarks and debugging. */
  readonly stats = { started: 0, succeeded: 0, failed: 0, rejected: 0, deleted: 0, writeErrors: 0 };

  private readonly opts: NodeSimulatorOptions;

  constructor(kc: KubeConfig, opts: NodeSimulatorOptions = {}) {
    this.opts = opts;
    this.api = new SimApi(kc);
    this.limit = pLimit(opts.concurrency ?? 16);
    this.leaseSeconds = opts.leaseDurationSeconds ?? 40;
    this.log = opts.log ?? (() => {});
    this.informer = new SupervisedInformer<V1Pod>(
      "sim-pods",
      kc,
      "/api/v1/pods",
      () => this.api.core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName!=" }),
      {
        fieldSelector: "spec.nodeName!=",
        resyncMs: 5_000,
        onError: (n, err, ms) => this.log(`${n}: ${String(err)}; restart in ${ms} ms`),
      },
    );
    for (const ev of ["add", "update", "resync"] as const) this.informer.on(ev, (p: V1Pod) => this.onPod(p));
    this.informer.on("delete", (p: V1Pod) => this.forget(p));
    // Labels, taints and conditions others change (kubectl label/taint/cordon) count at admission.
    this.nodeInformer = new SupervisedInformer<V1Node>(
      "sim-nodes",
      kc,
      "/api/v1/nodes",
      () => this.api.core.listNode(),
      { onError: (n, err, ms) => this.log(`${n}: ${String(err)}; restart in ${ms} ms`) },
    );
    for (const ev of ["add", "update"] as const) this.nodeInformer.on(ev, (n: V1Node) => this.onNode(n));
  }

  async start(nodes: SimNode[] = []): Promise<void> {
    await this.addNodes(nodes);
    await this.nodeInformer.start();
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
    // A kubelet cannot register a Node under a name the API server would not take.
    if (!DnsSubdomainSchema.safeParse(spec.name).success)
      throw new Error(
        `simulated node name ${JSON.stringify(spec.name)} is not a DNS subdomain (253 at most)`,
      );
    const idx = this.nodes.size + 1;
    const capacity = spec.exactCapacity ? { ...spec.capacity } : { ...DEFAULT_CAPACITY, ...spec.capacity };
    const state: NodeState = {
      spec,
      up: true,
      ipBase: idx,
      nextIp: 2,
      node: {
        metadata: nodeMetadata(spec.name, spec.labels),
        spec: { taints: spec.taints ?? [] },
        status: { capacity, allocatable: capacity },
      },
      admitted: new Map(),
    };
    this.nodes.set(spec.name, state);
    const registered = await this.api.registerNode({
      name: spec.name,
      idx,
      labels: spec.labels,
      taints: spec.taints,
      capacity,
    });
    this.onNode(registered);
    await this.renewLease(spec.name);
  }

  /** Keeps the newest copy of a simulated Node (watch events may trail a write's response). */
  private onNode(n: V1Node): void {
    const state = this.nodes.get(n.metadata?.name ?? "");
    if (!state) return;
    const seen = Number(state.node.metadata?.resourceVersion ?? 0);
    const got = Number(n.metadata?.resourceVersion ?? 0);
    if (Number.isNaN(seen) || Number.isNaN(got) || got >= seen) state.node = n;
  }

  private async renewLeases(): Promise<void> {
    await Promise.all(
      [...this.nodes.values()].filter((n) => n.up).map((n) => this.limit(() => this.renewLease(n.spec.name))),
    );
  }

  private async renewLease(node: string): Promise<void> {
    if (this.stopped) return;
    const ok = await this.api.renewLease(node, this.nodes.get(node)?.node.metadata?.uid, this.leaseSeconds);
    if (!ok) this.stats.writeErrors++;
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
    await this.api.setNodeReady(name, false);
  }

  /** The node comes back: Ready again, its Pods resume. */
  async nodeUp(name: string): Promise<void> {
    const n = this.mustGet(name);
    n.up = true;
    await this.api.setNodeReady(name, true);
    await this.renewLease(name);
    for (const p of this.informer.list()) if (p.spec?.nodeName === name) this.onPod(p);
  }

  /** Deletes the Node object, as a cloud provider does for a vanished machine. */
  async removeNode(name: string): Promise<void> {
    this.mustGet(name).up = false;
    this.nodes.delete(name);
    await this.api.core.deleteNode({ name }).catch((err: unknown) => {
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
    this.startedAtMs.delete(uid);
    this.nodes.get(p.spec?.nodeName ?? "")?.admitted.delete(uid);
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
      // Still admitted: a terminating Pod holds its resources until it is gone.
      if (this.handled.get(uid) === "delete") return;
      this.handled.set(uid, "delete");
      void this.limit(() => this.finishDeletion(p));
      return;
    }
    if (phase === "Succeeded" || phase === "Failed") {
      node.admitted.delete(uid);
      return;
    }
    const admission = node.admitted.get(uid);
    if (admission) admission.pod = p;
    if (phase === "Pending") {
      const handled = this.handled.get(uid);
      if (handled === "run" || handled === "reject") return;
      const startMs = num(ann[SIM_START_SECONDS]) * 1000;
      let at = admission?.at;
      if (!at) {
        // The kubelet admits a Pod when it first sees it, against the Pods it admitted before.
        const others = [...node.admitted.values()].map((a) => a.pod);
        const verdict = admitPod(node.node, others, p);
        if (!verdict.admitted) {
          this.handled.set(uid, "reject");
          // As the kubelet does, a Pod refused for node affinity alone is checked again against
          // the Node read afresh: the watch may not have brought a label change yet.
          if (verdict.reason === "NodeAffinity") void this.limit(() => this.recheckAffinity(p, node));
          else void this.limit(() => this.markRejected(p, verdict));
          return;
        }
        at = new Date().toISOString();
        node.admitted.set(uid, { pod: p, at });
        // A kubelet reports the Pod Pending on its node (ContainerCreating) while it starts it.
        if (startMs > 0) {
          const write = this.limit(() => this.markStarting(p, node, at ?? ""));
          this.startingWrites.set(uid, write);
          void write.finally(() => this.startingWrites.delete(uid));
        }
      }
      const admittedAt = at;
      this.schedule(p, startMs, () => {
        this.handled.set(uid, "run");
        void this.limit(() => this.markRunning(p, node, admittedAt));
      });
      return;
    }
    // Running when first seen (admitted before this simulator started): it holds its share.
    if (!admission) node.admitted.set(uid, { pod: p, at: iso(p.status?.startTime) ?? "" });
    if (phase === "Running" && ann[SIM_RUN_SECONDS] !== undefined && p.spec?.restartPolicy !== "Always") {
      if (this.handled.get(uid) === "exit") return;
      // Run time counts from when the containers started (after any simulated start delay): as
      // this simulator noted it, or as the API has it for a Pod started before this simulator.
      const running = p.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? p.status?.startTime;
      const started = this.startedAtMs.get(uid) ?? (Date.parse(running?.toString() ?? "") || Date.now());
      const endsAt = started + num(ann[SIM_RUN_SECONDS]) * 1000;
      this.schedule(p, endsAt - Date.now(), () => {
        this.handled.set(uid, "exit");
        // Terminated: the kubelet no longer counts it, whether or not its status write lands.
        node.admitted.delete(uid);
        void this.limit(() => this.markExited(p, Number(ann[SIM_EXIT_CODE] ?? "0") || 0));
      });
    }
  }

  private async recheckAffinity(p: V1Pod, node: NodeState): Promise<void> {
    const uid = p.metadata?.uid ?? "";
    try {
      this.onNode(await this.api.readNode(node.spec.name));
    } catch {
      /* judge by the copy at hand */
    }
    const others = [...node.admitted.values()].map((a) => a.pod);
    const verdict = admitPod(node.node, others, p);
    if (!verdict.admitted) return this.markRejected(p, verdict);
    this.handled.delete(uid);
    this.onPod(this.informer.get(p.metadata?.name ?? "", p.metadata?.namespace) ?? p);
  }

  /** Admission refused the Pod: it fails, never started, as the kubelet's rejectPod writes it. */
  private async markRejected(p: V1Pod, verdict: Admission & { admitted: false }): Promise<void> {
    const now = new Date().toISOString();
    const ok = await this.writeStatus(p, rejectedStatus(p, verdict, now));
    if (!ok) return;
    this.stats.rejected++;
    // And the Warning event the kubelet records, with the handler's message.
    await this.api.rejectionEvent(p, verdict, now);
  }

  private async markStarting(p: V1Pod, node: NodeState, at: string): Promise<void> {
    const hostIP = nodeIp(node.ipBase);
    await this.writeStatus(p, pendingStatus(p, { hostIP, startTime: at, now: new Date().toISOString() }));
  }

  private async markRunning(p: V1Pod, node: NodeState, admittedAt: string): Promise<void> {
    await this.startingWrites.get(p.metadata?.uid ?? "");
    const now = new Date().toISOString();
    const podIP = `10.${100 + Math.floor(node.ipBase / 250)}.${node.ipBase % 250}.${(node.nextIp++ % 250) + 2}`;
    const hostIP = nodeIp(node.ipBase);
    const startTime = iso(p.status?.startTime) ?? (admittedAt || now);
    this.startedAtMs.set(p.metadata?.uid ?? "", Date.parse(now));
    const ok = await this.writeStatus(p, runningStatus(p, { hostIP, podIP, startTime, now }));
    if (ok) this.stats.started++;
  }

  private async markExited(p: V1Pod, exitCode: number): Promise<void> {
    const ok = await this.writeStatus(p, exitedStatus(p, exitCode, new Date().toISOString()));
    if (ok) {
      if (exitCode === 0) this.stats.succeeded++;
      else this.stats.failed++;
    }
  }

  private async writeStatus(p: V1Pod, status: Record<string, unknown>): Promise<boolean> {
    const result = await this.api.podStatus(p, status);
    if (result === "ok") return true;
    // Gone or replaced (404/409) is not counted; anything else is. Either way the resync retries.
    if (result === "error") this.stats.writeErrors++;
    this.handled.delete(p.metadata?.uid ?? "");
    return false;
  }

  /** A kubelet confirms deletion once containers stopped. */
  private async finishDeletion(p: V1Pod): Promise<void> {
    const result = await this.api.finishDeletion(p);
    if (result === "ok") this.stats.deleted++;
    else if (result === "error") {
      this.stats.writeErrors++;
      this.handled.delete(p.metadata?.uid ?? "");
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
    this.nodeInformer.stop();
    // Drop queued writes (a stop must not wait for thousands of them), finish in-flight ones.
    this.limit.clearQueue();
    await this.limit(() => Promise.resolve());
  }
}

function num(v: string | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
}
