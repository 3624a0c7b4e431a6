// The Mesos view of the cluster: the model the master endpoints (master-state.ts, endpoints.ts)
// and the operator API (operator/v1.ts) render, made from the Kubernetes objects the operator
// works from — Agents (slaves), Frameworks, ResourceOffers, task Pods and ResourceRoles, as
// cluster-lists.ts lists them for a request or the operator event stream watches them. An
// authenticated caller's model holds its own principal's frameworks only.
import type { KubernetesObject, V1Pod } from "@kubernetes/client-node";
import type { Agent } from "../crds/agent.ts";
import {
  ANNOTATION_FRAMEWORK_ID,
  ANNOTATION_FRAMEWORK_INFO,
  ANNOTATION_PRINCIPAL,
  ANNOTATION_RESOURCES,
  ANNOTATION_ROLE,
  LABEL_FRAMEWORK,
} from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import { objectNameToRole } from "../crds/names.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import type { ResourceRole } from "../crds/role.ts";
import type { ResourceMap } from "../resources/types.ts";
import { podTaskIds } from "../sdk/tracker.ts";
import { isTerminal, type TaskState, taskStatusOf } from "../tasks/state.ts";
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
