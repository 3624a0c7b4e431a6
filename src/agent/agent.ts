// The per-node agent: reports what its node contributes to the pool as the Agent's status and
// renews a Lease for liveness. It watches its Node only: the Pods there that are not tasks are
// counted by the operator (controller/foreign-pods.ts), so an ordinary Pod landing or finishing
// costs no report. Writes happen only when the report changed; requests and watches share
// keep-alive connections (kube/connections.ts).
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  V1MicroTime,
  type V1Node,
} from "@kubernetes/client-node";
import {
  AGENT_LEASE_LABEL,
  API_VERSION,
  agentLabelValue,
  agentLeaseName,
  DEFAULT_AGENT_LEASE_SECONDS,
  DEFAULT_AGENT_PORTS,
  DEFAULT_API_TIMEOUT_MS,
  DEFAULT_LEASE_NAMESPACE,
  GROUP,
  KIND,
  LABEL_AGENT,
  LABEL_POOL,
  PLURAL,
  VERSION,
} from "../crds/contract.ts";
import { keepConnections, type SharedConnections } from "../kube/connections.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { isAlreadyExists, isNotFound, statusCode } from "../kube/errors.ts";
import { SupervisedInformer } from "../kube/informer.ts";
import { applyPatch, mergePatch, microTime } from "../kube/patch.ts";
import { parseQuantity } from "../resources/quantity.ts";
import { fromResources } from "../resources/resources.ts";
import type { PortRange, Scalars } from "../resources/types.ts";
import { type Contribution, computeContribution } from "./contribution.ts";

/** How long the agent's watch of its Node may stay silent before it is reopened. */
export const NODE_WATCH_IDLE_MS = 6 * 60_000;
export const FIELD_MANAGER = "kube-offers-agent";
export const AGENT_VERSION = "0.1.0";

export interface AgentOptions {
  nodeName: string;
  /** Namespace of the agent's liveness Lease. */
  leaseNamespace?: string;
  leaseDurationSeconds?: number;
  renewIntervalMs?: number;
  /** Held back from the pool, as quantities: {cpu: "500m"}. */
  reserve?: Record<string, string>;
  ports?: PortRange[];
  /** Static reservations per role: {batch: {cpu: "2"}}. */
  staticReservations?: Record<string, Record<string, string | PortRange[]>>;
  attributeExcludePrefixes?: string[];
  /** Pool this agent's node belongs to (labels the Agent kubeoffers.io/pool). */
  pool?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Deadline of one API request (default DEFAULT_API_TIMEOUT_MS). */
  apiTimeoutMs?: number;
}

export class NodeAgent {
  readonly nodeName: string;
  private readonly connections: SharedConnections;
  private readonly co: CustomObjectsApi;
  private readonly coord: CoordinationV1Api;
  private readonly nodeInformer: SupervisedInformer<V1Node>;
  private readonly opts: Required<Omit<AgentOptions, "log" | "pool" | "apiTimeoutMs">> &
    Pick<AgentOptions, "log" | "pool" | "apiTimeoutMs">;
  private reserve: Scalars = {};
  private lastReport = "";
  /** The Agent object is known to exist: reports write its status only (no create that 409s). */
  private agentExists = false;
  private debounce: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  /** Renewals in a row that got no answer at all (a deadline passed, the connection failed). */
  private unanswered = 0;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Failed reports in a row: the next attempt backs off (1 s doubling to 30 s, jittered). */
  private failures = 0;
  writes = 0;
  /** Agent creates attempted (one per process, or again after the Agent was deleted). */
  creates = 0;

  constructor(kc: KubeConfig, opts: AgentOptions) {
    this.nodeName = opts.nodeName;
    this.opts = {
      leaseNamespace: DEFAULT_LEASE_NAMESPACE,
      leaseDurationSeconds: DEFAULT_AGENT_LEASE_SECONDS,
      renewIntervalMs: ((opts.leaseDurationSeconds ?? DEFAULT_AGENT_LEASE_SECONDS) * 1000) / 4,
      reserve: {},
      ports: DEFAULT_AGENT_PORTS.map((r) => ({ ...r })),
      staticReservations: {},
      attributeExcludePrefixes: [
        "kubernetes.io/",
        "beta.kubernetes.io/",
        "node.kubernetes.io/",
        "node-role.kubernetes.io/",
      ],
      ...opts,
    };
    for (const [k, v] of Object.entries(this.opts.reserve)) this.reserve[k] = parseQuantity(k, v);
    this.connections = keepConnections(kc, { minPoolAgeMs: opts.apiTimeoutMs ?? DEFAULT_API_TIMEOUT_MS });
    this.co = makeApiClient(kc, CustomObjectsApi, opts.apiTimeoutMs);
    this.coord = makeApiClient(kc, CoordinationV1Api, opts.apiTimeoutMs);
    const core = makeApiClient(kc, CoreV1Api, opts.apiTimeoutMs);
    const onError = (n: string, err: unknown, ms: number) =>
      this.log(`${n} watch failed, restarting in ${ms} ms: ${String(err)}`);
    this.nodeInformer = new SupervisedInformer<V1Node>(
      "agent-node",
      kc,
      "/api/v1/nodes",
      () => core.listNode({ fieldSelector: `metadata.name=${this.nodeName}` }),
      {
        fieldSelector: `metadata.name=${this.nodeName}`,
        onError,
        // One Node is quiet for minutes (a kubelet posts its status every 5 min when nothing
        // changed; its heartbeat is its Lease): at client-node's 30 s idle timeout every agent
        // reopened its watch twice a minute, 33 watch requests a second at 1,000 nodes. A watch
        // that went half-open is found within these minutes, and what it missed meanwhile is
        // only a change of the Node, which the operator checks each report against anyway.
        watchIdleMs: NODE_WATCH_IDLE_MS,
        staleMs: NODE_WATCH_IDLE_MS + 60_000,
      },
    );
    // Every change, and every (re)sync: a report skipped while the informer was restarting is
    // made once it is synced again (no periodic recomputation needed to catch up).
    for (const ev of ["add", "update", "delete", "synced"]) this.nodeInformer.on(ev, () => this.schedule());
  }

  private log(msg: string, fields: Record<string, unknown> = {}): void {
    this.opts.log?.(msg, { agent: this.nodeName, ...fields });
  }

  async start(): Promise<void> {
    await this.renewLease();
    await this.nodeInformer.start();
    this.renewTimer = setInterval(() => void this.renewLease(), this.opts.renewIntervalMs);
    this.renewTimer.unref();
    this.schedule(0);
  }

  /** Coalesces bursts of Node events into one recomputation. */
  private schedule(ms = 100): void {
    if (this.stopped || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.writing = this.writing
        .then(() => this.report())
        .then(() => {
          this.failures = 0;
        })
        .catch((err: unknown) => {
          this.log(`report failed: ${String(err)}`);
          this.schedule(Math.min(30_000, 1000 * 2 ** this.failures++) * (0.75 + Math.random() / 2));
        });
    }, ms);
  }

  /** The current contribution, or undefined if the Node is not known (yet). */
  contribution(): Contribution | undefined {
    const node = this.nodeInformer.get(this.nodeName);
    if (!node) return undefined;
    return computeContribution(node as never, {
      reserve: this.reserve,
      ports: this.opts.ports,
      attributeExcludePrefixes: this.opts.attributeExcludePrefixes,
    });
  }

  private async report(): Promise<void> {
    if (this.stopped || !this.nodeInformer.synced) return;
    const node = this.nodeInformer.get(this.nodeName);
    const c = this.contribution();
    if (!node || !c) return;
    const status = {
      node: this.nodeName,
      resources: fromResources(c.resources),
      allocatable: fromResources({ scalars: c.allocatable, ports: [] }),
      reserved: this.opts.staticReservations,
      attributes: c.attributes,
      available: c.unavailable === undefined,
      ...(c.unavailable ? { unavailable: c.unavailable } : {}),
      agentVersion: AGENT_VERSION,
    };
    const key = JSON.stringify(status);
    if (key === this.lastReport) return;
    await this.ensureAgentObject(node);
    await this.patchStatus(status).catch((err: unknown) => {
      // The Agent went (its Node was deleted and came back, or someone deleted it): made again
      // on the next report.
      if (isNotFound(err)) this.agentExists = false;
      throw err;
    });
    this.lastReport = key;
    this.writes++;
    this.log("reported contribution", { resources: status.resources, unavailable: c.unavailable?.reason });
  }

  private async patchStatus(status: Record<string, unknown>): Promise<void> {
    await this.co.patchClusterCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL.agent,
        name: this.nodeName,
        body: {
          apiVersion: API_VERSION,
          kind: KIND.agent,
          metadata: { name: this.nodeName },
          // Apply semantics: a field this manager no longer sends (unavailable) is removed.
          status: { ...status, updatedAt: new Date().toISOString() },
        },
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      applyPatch,
    );
  }

  /** Creates the Agent object once; afterwards only its status is written. */
  private async ensureAgentObject(node: V1Node): Promise<void> {
    if (this.agentExists) return;
    this.creates++;
    try {
      await this.co.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL.agent,
        body: {
          apiVersion: API_VERSION,
          kind: KIND.agent,
          metadata: {
            name: this.nodeName,
            labels: {
              [LABEL_AGENT]: agentLabelValue(this.nodeName),
              ...(this.opts.pool ? { [LABEL_POOL]: this.opts.pool } : {}),
            },
            // The Agent goes when its Node goes.
            ownerReferences: [
              { apiVersion: "v1", kind: "Node", name: this.nodeName, uid: node.metadata?.uid ?? "" },
            ],
          },
          spec: {},
        },
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    this.agentExists = true;
  }

  /**
   * One renewal at a time, as a kubelet renews: under a saturated API server overlapping ones
   * would only queue behind each other and add to its load.
   */
  private async renewLease(): Promise<void> {
    if (this.stopped || this.renewing) return;
    this.renewing = true;
    try {
      await this.writeLease();
    } finally {
      this.renewing = false;
    }
  }

  private async writeLease(): Promise<void> {
    const name = agentLeaseName(this.nodeName);
    const namespace = this.opts.leaseNamespace;
    const spec = {
      holderIdentity: this.nodeName,
      leaseDurationSeconds: this.opts.leaseDurationSeconds,
      renewTime: microTime(),
    };
    try {
      await this.coord.patchNamespacedLease({ name, namespace, body: { spec } }, mergePatch);
      this.unanswered = 0;
    } catch (err) {
      if (!isNotFound(err)) {
        this.log(`lease renewal failed: ${String(err)}`);
        this.noteUnanswered(err);
        return;
      }
      this.unanswered = 0;
      try {
        await this.coord.createNamespacedLease({
          namespace,
          body: {
            metadata: {
              name,
              namespace,
              labels: { [AGENT_LEASE_LABEL]: "agent", [LABEL_AGENT]: agentLabelValue(this.nodeName) },
            },
            spec: { ...spec, renewTime: new V1MicroTime(), acquireTime: new V1MicroTime() },
          },
        });
      } catch (e) {
        if (!isAlreadyExists(e)) this.log(`lease creation failed: ${String(e)}`);
      }
    }
  }

  /** A second renewal in a row without an answer: its connection may be dead, so new requests get new ones. */
  private noteUnanswered(err: unknown): void {
    if (statusCode(err) !== undefined) {
      this.unanswered = 0;
      return;
    }
    if (++this.unanswered >= 2 && this.connections.drop())
      this.log(`${this.unanswered} lease renewals unanswered: reconnecting`);
  }

  /** Stops reporting; the lease is left to lapse, as when a real agent dies. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounce);
    clearInterval(this.renewTimer);
    this.nodeInformer.stop();
    await this.writing;
  }
}
