// SUBSCRIBE on the operator API: a RecordIO stream of master.proto Events driven by watches of
// the objects /master/state lists (Agents, Frameworks, ResourceOffers and task Pods of the
// configured namespaces, ResourceRoles). SUBSCRIBED carries the state built from the watches'
// caches, then a HEARTBEAT at once and every interval; TASK_ADDED / TASK_UPDATED follow each
// task Pod, AGENT_ADDED / AGENT_REMOVED each Agent, FRAMEWORK_ADDED / _UPDATED / _REMOVED each
// Framework. A subscriber that authenticated sees only its principal's frameworks and tasks.
// The watches start with the first subscriber and run until the API closes.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubernetesObject, V1Pod } from "@kubernetes/client-node";
import type { Agent } from "../../crds/agent.ts";
import { ANNOTATION_PRINCIPAL, LABEL_FRAMEWORK } from "../../crds/contract.ts";
import type { Framework } from "../../crds/framework.ts";
import type { ResourceOffer } from "../../crds/offer.ts";
import type { ResourceRole } from "../../crds/role.ts";
import { SupervisedInformer, waitForSync } from "../../kube/informer.ts";
import { isTerminal, type TaskState } from "../../tasks/state.ts";
import { clusterLists, type ObjectList, type ReadScope } from "../cluster-lists.ts";
import { EventStream } from "../event-stream.ts";
import { type Caller, type Encoding, HttpError, type Log, openEventStream } from "../http.ts";
import { encodeOperatorEvent } from "../proto/operator-codec.ts";
import type { MesosEvent } from "../protocol.ts";
import {
  agentModel,
  type ClusterObjects,
  clusterModel,
  frameworkIdOf,
  frameworkModel,
  type MasterIdentity,
  type Obj,
  taskModels,
  visibleTo,
} from "../state.ts";
import { v1Agent, v1Framework, v1FrameworkInfo, v1State, v1Task, v1TaskStatus } from "./v1.ts";

/** `namespaces`: whose Frameworks and task Pods are watched (the lists of cluster-lists.ts). */
export interface OperatorStreamOptions extends ReadScope {
  master: () => MasterIdentity;
  heartbeatSeconds: number;
  /** Unsent bytes of a stream before it is closed (its client stopped reading). */
  maxBufferedBytes: number;
  /** How long a first SUBSCRIBE waits for the watches to list everything (503 after). */
  syncTimeoutMs?: number;
  log: Log;
}

interface Subscriber {
  conn: EventStream;
  principal: string | undefined;
}

type Watches = {
  agents: SupervisedInformer<Obj<Agent>>;
  roles: SupervisedInformer<Obj<ResourceRole>>;
  namespaces: {
    namespace: string;
    frameworks: SupervisedInformer<Obj<Framework>>;
    offers: SupervisedInformer<Obj<ResourceOffer>>;
    pods: SupervisedInformer<V1Pod>;
  }[];
};

/** The events one changed object causes (pure: old and new task states in, events out). */
export function taskEvents(
  tasks: ReturnType<typeof taskModels>,
  before: ReadonlyMap<string, TaskState> | undefined,
): MesosEvent[] {
  return tasks.flatMap((t): MesosEvent[] => {
    const was = before?.get(t.id);
    if (was === undefined) return [{ type: "TASK_ADDED", task_added: { task: v1Task(t) } }];
    if (was === t.state) return [];
    return [
      {
        type: "TASK_UPDATED",
        task_updated: { framework_id: { value: t.frameworkId }, status: v1TaskStatus(t), state: t.state },
      },
    ];
  });
}

export class OperatorStreams {
  private readonly o: OperatorStreamOptions;
  private readonly subscribers = new Set<Subscriber>();
  private watches: Watches | undefined;
  private starting: Promise<Watches> | undefined;
  /** Per task Pod (namespace/name): the state of each of its tasks last told. */
  private readonly taskStates = new Map<string, Map<string, TaskState>>();
  /** Per Framework (namespace/name): its rendering last told (FRAMEWORK_UPDATED only on a change). */
  private readonly frameworks = new Map<string, string>();
  private closed = false;

  constructor(o: OperatorStreamOptions) {
    this.o = o;
  }

  get count(): number {
    return this.subscribers.size;
  }

  /** Opens `caller`'s stream on `res`: 503 when the watches cannot list everything in time. */
  async subscribe(
    _req: IncomingMessage,
    res: ServerResponse,
    caller: Caller,
    encoding: Encoding,
  ): Promise<void> {
    if (this.closed) throw new HttpError(503, "The Mesos API is shutting down");
    const w = await this.start();
    try {
      await waitForSync(this.informers(w), this.o.syncTimeoutMs ?? 30_000);
    } catch (err) {
      throw new HttpError(503, `The operator event stream is not ready: ${(err as Error).message}`, {
        "retry-after": "5",
      });
    }
    if (res.destroyed) return;
    openEventStream(res, encoding);
    const conn = new EventStream(res, {
      principal: caller.principal,
      encoding,
      maxBuffered: this.o.maxBufferedBytes,
      encode: encodeOperatorEvent,
      log: this.o.log,
    });
    const sub: Subscriber = { conn, principal: caller.principal };
    conn.send({
      type: "SUBSCRIBED",
      subscribed: {
        get_state: v1State(clusterModel(this.objects(w), caller.principal), this.o.master()),
        heartbeat_interval_seconds: this.o.heartbeatSeconds,
      },
    });
    // The first HEARTBEAT goes at once, then one every interval.
    conn.startHeartbeat(this.o.heartbeatSeconds);
    this.subscribers.add(sub);
    conn.whenClosed(() => this.subscribers.delete(sub));
  }

  close(): void {
    this.closed = true;
    for (const s of [...this.subscribers]) s.conn.close();
    this.subscribers.clear();
    if (this.watches) for (const i of this.informers(this.watches)) i.stop();
    this.watches = undefined;
  }

  private informers(
    w: Watches,
  ): { readonly name: string; readonly synced: boolean; start(): Promise<void>; stop(): void }[] {
    return [w.agents, w.roles, ...w.namespaces.flatMap((n) => [n.frameworks, n.offers, n.pods])];
  }

  private objects(w: Watches): ClusterObjects {
    return {
      agents: w.agents.list(),
      roles: w.roles.list(),
      namespaces: w.namespaces.map((n) => ({
        namespace: n.namespace,
        frameworks: n.frameworks.list(),
        offers: n.offers.list(),
        pods: n.pods.list(),
      })),
    };
  }

  /** To every subscriber that may see a framework of `owner` (undefined: every subscriber). */
  private broadcast(event: MesosEvent, owner?: { principal: string | undefined }): void {
    for (const s of this.subscribers)
      if (owner === undefined || visibleTo(s.principal, owner.principal)) s.conn.send(event);
  }

  private start(): Promise<Watches> {
    if (this.watches) return Promise.resolve(this.watches);
    this.starting ??= this.startWatches().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async startWatches(): Promise<Watches> {
    const { kubeConfig: kc, log } = this.o;
    const onError = (name: string, err: unknown, restartInMs: number) =>
      log("warn", "operator stream watch failed", { watch: name, err: String(err), restartInMs });
    const watch = <T extends KubernetesObject>(l: ObjectList<T>) =>
      new SupervisedInformer<T>(`operator-${l.name}`, kc, l.path, l.list, {
        onError,
        ...(l.labelSelector ? { labelSelector: l.labelSelector } : {}),
      });
    const lists = clusterLists(this.o);
    const w: Watches = {
      agents: watch(lists.agents),
      roles: watch(lists.roles),
      namespaces: lists.namespaces.map((n) => ({
        namespace: n.namespace,
        frameworks: watch(n.frameworks),
        offers: watch(n.offers),
        pods: watch(n.pods),
      })),
    };
    this.wire(w);
    // Before the first list is in, nothing is told: SUBSCRIBED carries what the lists hold.
    await Promise.all(this.informers(w).map((i) => i.start()));
    if (this.closed) for (const i of this.informers(w)) i.stop();
    else this.watches = w;
    return w;
  }

  private wire(w: Watches): void {
    const master = () => this.o.master();
    w.agents.on("add", (a: Obj<Agent>) => {
      if (!w.agents.synced) return;
      this.broadcast({
        type: "AGENT_ADDED",
        agent_added: { agent: v1Agent(agentModel(a), { used: [], offered: [] }, master()) },
      });
    });
    w.agents.on("delete", (a: Obj<Agent>) => {
      this.broadcast({
        type: "AGENT_REMOVED",
        agent_removed: { agent_id: { value: a.metadata.name ?? "" } },
      });
    });
    for (const n of w.namespaces) {
      const key = (o: { metadata?: { name?: string } }) => `${n.namespace}/${o.metadata?.name ?? ""}`;
      const ownerOf = (fw: Obj<Framework> | undefined) => ({
        principal: fw?.metadata.annotations?.[ANNOTATION_PRINCIPAL],
      });
      const framework = (fw: Obj<Framework>, type: "FRAMEWORK_ADDED" | "FRAMEWORK_UPDATED") => {
        const rendered = v1Framework(frameworkModel(fw, n.pods.list(), n.offers.list()));
        const text = JSON.stringify(rendered);
        const had = this.frameworks.get(key(fw));
        this.frameworks.set(key(fw), text);
        if (!n.frameworks.synced || had === text) return;
        const kind = had === undefined ? "FRAMEWORK_ADDED" : type;
        this.broadcast(
          kind === "FRAMEWORK_ADDED"
            ? { type: kind, framework_added: { framework: rendered } }
            : { type: kind, framework_updated: { framework: rendered } },
          ownerOf(fw),
        );
      };
      n.frameworks.on("add", (fw: Obj<Framework>) => framework(fw, "FRAMEWORK_ADDED"));
      n.frameworks.on("update", (fw: Obj<Framework>) => framework(fw, "FRAMEWORK_UPDATED"));
      n.frameworks.on("delete", (fw: Obj<Framework>) => {
        this.frameworks.delete(key(fw));
        this.broadcast(
          {
            type: "FRAMEWORK_REMOVED",
            framework_removed: { framework_info: v1FrameworkInfo(frameworkModel(fw, [], [])) },
          },
          ownerOf(fw),
        );
      });
      const pod = (p: V1Pod, deleted: boolean) => {
        const fwName = p.metadata?.labels?.[LABEL_FRAMEWORK] ?? "";
        const fw = n.frameworks.get(fwName, n.namespace);
        const tasks = taskModels(
          deleted && !p.metadata?.deletionTimestamp
            ? { ...p, metadata: { ...p.metadata, deletionTimestamp: new Date() } }
            : p,
          fw ? frameworkIdOf(fw) : fwName,
        );
        const before = this.taskStates.get(key(p));
        if (deleted) this.taskStates.delete(key(p));
        else this.taskStates.set(key(p), new Map(tasks.map((t) => [t.id, t.state])));
        // A Pod that was already over says nothing more when it goes; the initial list is SUBSCRIBED's.
        if (!n.pods.synced) return;
        const told = deleted
          ? tasks.filter((t) => before?.has(t.id) && !isTerminal(before.get(t.id)!))
          : tasks;
        for (const e of taskEvents(told, before)) this.broadcast(e, ownerOf(fw));
      };
      n.pods.on("add", (p: V1Pod) => pod(p, false));
      n.pods.on("update", (p: V1Pod) => pod(p, false));
      n.pods.on("delete", (p: V1Pod) => pod(p, true));
    }
  }
}
