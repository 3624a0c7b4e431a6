// What the master endpoints and the operator API show, and where it comes from: the same
// Kubernetes objects the operator works from — Agents (slaves), Frameworks, ResourceOffers, task
// Pods and ResourceRoles. `readCluster` lists them (nothing is cached, so a request always agrees
// with kubectl); `clusterModel` turns objects into one model, which /master/state (here) and the
// operator API (operator/v1.ts) render, and which the operator event stream builds from its
// watches' caches. An authenticated caller's model holds its own principal's frameworks only.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Agent } from "../crds/agent.ts";
import {
  ANNOTATION_FRAMEWORK_ID,
  ANNOTATION_FRAMEWORK_INFO,
  ANNOTATION_PRINCIPAL,
  ANNOTATION_RESOURCES,
  ANNOTATION_ROLE,
  GROUP,
  LABEL_FRAMEWORK,
  PLURAL,
  VERSION,
} from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import { objectNameToRole } from "../crds/names.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import type { ResourceRole } from "../crds/role.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { DEFAULT_LIST_TIMEOUT_MS } from "../kube/informer.ts";
import type { ResourceMap } from "../resources/types.ts";
import { podTaskIds } from "../sdk/tracker.ts";
import { isTerminal, type TaskState, taskStatusOf } from "../tasks/state.ts";
import { toMesosTotals } from "./resources.ts";
import { mesosIdsOf } from "./tasks.ts";

export const MESOS_VERSION = "1.11.0";

export type Obj<T> = T & KubernetesObject & { metadata: { name?: string; namespace?: string } };

/** The objects one request (or one event stream) sees. */
export interface ClusterObjects {
  agents: Obj<Agent>[];
  /** Per visible namespace: its Frameworks, ResourceOffers and task Pods. */
  namespaces: {
    namespace: string;
    frameworks: Obj<Framework>[];
    offers: Obj<ResourceOffer>[];
    pods: V1Pod[];
  }[];
  roles: Obj<ResourceRole>[];
}

/** Who this master is, as the state endpoints and the operator API name it. */
export interface MasterIdentity {
  id: string;
  hostname: string;
  port: number;
  /** Milliseconds since the epoch. */
  startTime: number;
  /** Master flags that have a meaning here (name -> value), in /master/state and GET_FLAGS. */
  flags: Record<string, string>;
}

export interface TaskModel {
  id: string;
  frameworkId: string;
  agent: string;
  state: TaskState;
  reason?: string | undefined;
  message?: string | undefined;
  role: string;
  resources: ResourceMap;
  /** Seconds since the epoch the task (its Pod) was created. */
  createdAt: number | undefined;
  namespace: string;
  pod: string;
}

export interface OfferModel {
  id: string;
  frameworkId: string;
  agent: string;
  role: string;
  resources: ResourceMap;
}

export interface FrameworkModel {
  id: string;
  /** The Framework object's name and namespace. */
  name: string;
  namespace: string;
  principal: string | undefined;
  /** The FrameworkInfo sent at SUBSCRIBE (the annotation), {} for Frameworks created with kubectl. */
  info: Record<string, unknown>;
  displayName: string;
  user: string;
  roles: string[];
  suppressedRoles: string[];
  failoverTimeout: number;
  phase: string | undefined;
  active: boolean;
  registeredAt: number | undefined;
  disconnectedAt: number | undefined;
  tasks: TaskModel[];
  offers: OfferModel[];
}

export interface AgentModel {
  id: string;
  resources: ResourceMap;
  reserved: Record<string, ResourceMap>;
  attributes: Record<string, string>;
  active: boolean;
  /** Why nothing new is offered here (Cordoned, Draining, NotReady, ...), with since when (seconds). */
  unavailable: { reason: string; since: number | undefined } | undefined;
  registeredAt: number | undefined;
  version: string;
}

export interface RoleModel {
  name: string;
  weight: number;
  guarantees: ResourceMap;
  limits: ResourceMap;
}

export interface ClusterModel {
  agents: AgentModel[];
  frameworks: FrameworkModel[];
  /** Roles with a ResourceRole (weights, quota). */
  roles: RoleModel[];
}

export const seconds = (t: unknown): number | undefined => {
  if (!t) return undefined;
  const ms = new Date(t instanceof Date ? t : String(t)).getTime();
  return Number.isFinite(ms) ? ms / 1000 : undefined;
};

function parsedJson(raw: string | undefined): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(raw ?? "{}");
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

// ------------------------------------------------------------------ objects -> model

/** The Mesos view of one Agent. */
export function agentModel(a: Obj<Agent>): AgentModel {
  const u = a.status?.unavailable;
  return {
    id: a.metadata.name ?? "",
    resources: (a.status?.resources as ResourceMap | undefined) ?? {},
    reserved: (a.status?.reserved ?? {}) as Record<string, ResourceMap>,
    attributes: a.status?.attributes ?? {},
    active: a.status?.available ?? false,
    unavailable: u ? { reason: u.reason, since: seconds(u.since) } : undefined,
    registeredAt: seconds(a.metadata.creationTimestamp),
    version: a.status?.agentVersion ?? MESOS_VERSION,
  };
}

/** The framework id a Framework object stands for (its Mesos id, else its name). */
export function frameworkIdOf(fw: Obj<Framework>): string {
  return fw.metadata.annotations?.[ANNOTATION_FRAMEWORK_ID] ?? fw.metadata.name ?? "";
}

/** The tasks one Pod runs (one, or a task group's), as Mesos tasks of `frameworkId`. */
export function taskModels(pod: V1Pod, frameworkId: string): TaskModel[] {
  const st = taskStatusOf(pod);
  const ids = mesosIdsOf(pod.metadata?.annotations);
  const resources = parsedJson(pod.metadata?.annotations?.[ANNOTATION_RESOURCES]) as ResourceMap;
  return podTaskIds(pod).map((key) => ({
    id: ids.get(key) ?? key,
    frameworkId,
    agent: pod.spec?.nodeName ?? "",
    state: st.state,
    reason: st.reason,
    message: st.message,
    role: pod.metadata?.annotations?.[ANNOTATION_ROLE] ?? "*",
    resources,
    createdAt: seconds(pod.metadata?.creationTimestamp),
    namespace: pod.metadata?.namespace ?? "",
    pod: pod.metadata?.name ?? "",
  }));
}

/** An outstanding (unanswered) offer, or undefined for one that is answered or over. */
export function offerModel(o: Obj<ResourceOffer>, frameworkId: string): OfferModel | undefined {
  if ((o.status?.phase ?? "Offered") !== "Offered" || o.spec.response) return undefined;
  return {
    id: o.metadata.name ?? "",
    frameworkId,
    agent: o.spec.agent,
    role: o.spec.role,
    resources: (o.spec.resources ?? {}) as ResourceMap,
  };
}

/** One Framework with its tasks (from `pods`) and outstanding offers (from `offers`). */
export function frameworkModel(
  fw: Obj<Framework>,
  pods: readonly V1Pod[],
  offers: readonly Obj<ResourceOffer>[],
): FrameworkModel {
  const ann = fw.metadata.annotations ?? {};
  const name = fw.metadata.name ?? "";
  const id = frameworkIdOf(fw);
  const info = parsedJson(ann[ANNOTATION_FRAMEWORK_INFO]);
  const phase = fw.status?.phase;
  return {
    id,
    name,
    namespace: fw.metadata.namespace ?? "",
    principal: ann[ANNOTATION_PRINCIPAL],
    info,
    displayName: (typeof info.name === "string" ? info.name : undefined) ?? fw.spec.displayName ?? name,
    user: fw.spec.user ?? (typeof info.user === "string" ? info.user : ""),
    roles: fw.spec.roles ?? ["*"],
    suppressedRoles: fw.spec.suppressedRoles ?? [],
    failoverTimeout: fw.spec.failoverTimeoutSeconds ?? 0,
    phase,
    active: phase === "Active",
    registeredAt: seconds(fw.metadata.creationTimestamp),
    disconnectedAt: seconds(fw.status?.disconnectedAt),
    tasks: pods
      .filter((p) => p.metadata?.labels?.[LABEL_FRAMEWORK] === name)
      .flatMap((p) => taskModels(p, id)),
    offers: offers.filter((o) => o.spec.framework === name).flatMap((o) => offerModel(o, id) ?? []),
  };
}

export function roleModel(r: Obj<ResourceRole>): RoleModel | undefined {
  try {
    return {
      name: objectNameToRole(r.metadata.name ?? ""),
      weight: r.spec?.weight ?? 1,
      guarantees: (r.spec?.guarantees ?? {}) as ResourceMap,
      limits: (r.spec?.limits ?? {}) as ResourceMap,
    };
  } catch {
    return undefined; // not a role's object name: no role
  }
}

/** True when `principal` (undefined: anyone, authentication is off) may see a framework of `owner`. */
export const visibleTo = (principal: string | undefined, owner: string | undefined): boolean =>
  principal === undefined || owner === principal;

/** The model of `objects` as `principal` sees it: its own frameworks (all without authentication). */
export function clusterModel(objects: ClusterObjects, principal: string | undefined): ClusterModel {
  const frameworks: FrameworkModel[] = [];
  for (const ns of objects.namespaces)
    for (const fw of ns.frameworks)
      if (visibleTo(principal, fw.metadata.annotations?.[ANNOTATION_PRINCIPAL]))
        frameworks.push(frameworkModel(fw, ns.pods, ns.offers));
  return {
    agents: objects.agents.map(agentModel),
    frameworks,
    roles: objects.roles.flatMap((r) => roleModel(r) ?? []),
  };
}

// ------------------------------------------------------------------ reading

export interface ReadScope {
  kubeConfig: KubeConfig;
  /** Namespaces whose Frameworks are shown. */
  namespaces: string[];
  /** Only Frameworks with these labels (the operator's pool). */
  frameworkSelector?: string | undefined;
  /** Only Agents with these labels. */
  agentSelector?: string | undefined;
}

/** Lists everything a request shows. A namespace that cannot be read shows nothing (as before). */
export async function readCluster(scope: ReadScope): Promise<ClusterObjects> {
  // Lists of a whole pool: the informers' list deadline, not a single request's.
  const co = makeApiClient(scope.kubeConfig, CustomObjectsApi, DEFAULT_LIST_TIMEOUT_MS);
  const core = makeApiClient(scope.kubeConfig, CoreV1Api, DEFAULT_LIST_TIMEOUT_MS);
  const [agents, roles] = await Promise.all([
    co.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL.agent,
      ...(scope.agentSelector ? { labelSelector: scope.agentSelector } : {}),
    }) as Promise<{ items: Obj<Agent>[] }>,
    // Weights and quota are extras: without the right to read them, roles show the defaults.
    (
      co.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.resourceRole }) as Promise<{
        items: Obj<ResourceRole>[];
      }>
    ).catch(() => ({ items: [] as Obj<ResourceRole>[] })),
  ]);
  const namespaces = await Promise.all(
    [...new Set(scope.namespaces)].map(async (namespace) => {
      const sel = scope.frameworkSelector ? { labelSelector: scope.frameworkSelector } : {};
      const [fws, offers, pods] = await Promise.all([
        co.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL.framework,
          ...sel,
        }),
        co.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL.resourceOffer,
        }),
        core.listNamespacedPod({ namespace, labelSelector: LABEL_FRAMEWORK }),
      ]).catch(() => [{ items: [] }, { items: [] }, { items: [] }] as const);
      return {
        namespace,
        frameworks: (fws as { items: Obj<Framework>[] }).items,
        offers: (offers as { items: Obj<ResourceOffer>[] }).items,
        pods: (pods as { items: V1Pod[] }).items,
      };
    }),
  );
  return { agents: agents.items, namespaces, roles: roles.items };
}

// ------------------------------------------------------------------ /master/state (v0 JSON)

/** Resource totals, Mesos-named: {cpus, mem, disk, gpus, ports: "[a-b, …]", …}. */
export function totals(list: readonly (ResourceMap | undefined)[]): Record<string, number | string> {
  // No prototype: a resource called `constructor` is summed, not looked up on Object.prototype.
  const sum: Record<string, number> = Object.assign(Object.create(null), {
    cpus: 0,
    mem: 0,
    disk: 0,
    gpus: 0,
  });
  for (const r of list)
    for (const [k, v] of Object.entries(toMesosTotals(r)))
      if (typeof v === "number") sum[k] = (sum[k] ?? 0) + v;
  for (const k of Object.keys(sum)) sum[k] = Math.round((sum[k] ?? 0) * 1000) / 1000;
  return sum;
}

/** Tasks that hold resources (not terminal). */
export const liveTasks = (tasks: readonly TaskModel[]) => tasks.filter((t) => !isTerminal(t.state));

/**
 * The `pid` of an agent. Tools take its host and port to talk to the agent's own API (the CLI's
 * `task exec/attach` and the web UI's sandbox and agent pages): no Mesos agent listens on a
 * kube-offers node, so it names this master, whose answer (404, or an unknown-call 400 on
 * /api/v1) fails clearly instead of sending a tool to some port on a node.
 */
export const agentPid = (master: MasterIdentity) => `slave(1)@${master.hostname}:${master.port}`;

export const masterPid = (master: MasterIdentity) => `master@${master.hostname}:${master.port}`;

export function v0Task(t: TaskModel): Record<string, unknown> {
  return {
    id: t.id,
    name: t.id,
    framework_id: t.frameworkId,
    executor_id: "",
    slave_id: t.agent,
    agent_id: t.agent,
    state: t.state,
    role: t.role,
    resources: totals([t.resources]),
    statuses: [{ state: t.state, timestamp: t.createdAt }],
    kubernetes: { namespace: t.namespace, pod: t.pod },
  };
}

export function v0Framework(f: FrameworkModel): Record<string, unknown> {
  const live = liveTasks(f.tasks);
  const used = totals(live.map((t) => t.resources));
  const info = f.info;
  return {
    id: f.id,
    name: f.displayName,
    user: f.user,
    hostname: typeof info.hostname === "string" ? info.hostname : "",
    webui_url: typeof info.webui_url === "string" ? info.webui_url : "",
    principal: f.principal ?? "",
    role: f.roles[0] ?? "*",
    roles: f.roles,
    suppressed_roles: f.suppressedRoles,
    failover_timeout: f.failoverTimeout,
    checkpoint: info.checkpoint === true,
    capabilities: Array.isArray(info.capabilities) ? info.capabilities : [],
    active: f.active,
    connected: f.active,
    recovered: false,
    registered_time: f.registeredAt,
    ...(f.disconnectedAt !== undefined ? { unregistered_time: f.disconnectedAt } : {}),
    resources: used,
    used_resources: used,
    offered_resources: totals(f.offers.map((o) => o.resources)),
    tasks: live.map(v0Task),
    completed_tasks: f.tasks.filter((t) => isTerminal(t.state)).map(v0Task),
    unreachable_tasks: [],
    offers: f.offers.map((o) => ({
      id: o.id,
      framework_id: o.frameworkId,
      slave_id: o.agent,
      agent_id: o.agent,
      resources: totals([o.resources]),
      allocation_info: { role: o.role },
    })),
    executors: [],
    kubernetes: { namespace: f.namespace, name: f.name, phase: f.phase },
  };
}

/** Resources of the visible frameworks' live tasks and outstanding offers, per agent. */
export function usageByAgent(model: ClusterModel): {
  used: Map<string, ResourceMap[]>;
  offered: Map<string, ResourceMap[]>;
} {
  const used = new Map<string, ResourceMap[]>();
  const offered = new Map<string, ResourceMap[]>();
  const add = (m: Map<string, ResourceMap[]>, k: string, r: ResourceMap) =>
    m.set(k, [...(m.get(k) ?? []), r]);
  for (const f of model.frameworks) {
    for (const t of liveTasks(f.tasks)) add(used, t.agent, t.resources);
    for (const o of f.offers) add(offered, o.agent, o.resources);
  }
  return { used, offered };
}

export function v0Slave(
  a: AgentModel,
  usage: ReturnType<typeof usageByAgent>,
  master: MasterIdentity,
): Record<string, unknown> {
  const used = totals(usage.used.get(a.id) ?? []);
  const total = toMesosTotals(a.resources);
  const unreserved: Record<string, number | string> = Object.create(null);
  for (const [k, v] of Object.entries(total))
    unreserved[k] =
      typeof v === "number" ? Math.max(0, Math.round((v - Number(used[k] ?? 0)) * 1000) / 1000) : v;
  return {
    id: a.id,
    pid: agentPid(master),
    hostname: a.id,
    port: master.port,
    registered_time: a.registeredAt,
    active: a.active,
    deactivated: !a.active,
    version: a.version,
    resources: total,
    used_resources: used,
    offered_resources: totals(usage.offered.get(a.id) ?? []),
    reserved_resources: Object.fromEntries(
      Object.entries(a.reserved).map(([role, r]) => [role, toMesosTotals(r)]),
    ),
    unreserved_resources: unreserved,
    attributes: a.attributes,
    capabilities: ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
    ...(a.unavailable ? { unavailability: a.unavailable } : {}),
  };
}

export function leaderInfo(master: MasterIdentity): Record<string, unknown> {
  return {
    id: master.id,
    pid: masterPid(master),
    port: master.port,
    hostname: master.hostname,
    address: { hostname: master.hostname, port: master.port },
    version: MESOS_VERSION,
  };
}

/** GET /master/state. */
export function masterStateJson(model: ClusterModel, master: MasterIdentity): Record<string, unknown> {
  const usage = usageByAgent(model);
  const slaves = model.agents.map((a) => v0Slave(a, usage, master));
  return {
    version: MESOS_VERSION,
    build_user: "kube-offers",
    id: master.id,
    pid: masterPid(master),
    hostname: master.hostname,
    start_time: master.startTime / 1000,
    elected_time: master.startTime / 1000,
    leader: masterPid(master),
    leader_info: leaderInfo(master),
    activated_slaves: model.agents.filter((a) => a.active).length,
    deactivated_slaves: model.agents.filter((a) => !a.active).length,
    unreachable_slaves: 0,
    flags: master.flags,
    slaves,
    recovered_slaves: [],
    frameworks: model.frameworks.map(v0Framework),
    completed_frameworks: [],
    orphan_tasks: [],
    unregistered_frameworks: [],
  };
}
