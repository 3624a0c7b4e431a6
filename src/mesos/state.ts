// The read-only master endpoints Mesos tooling and framework libraries call (GET /master/state,
// /state, /master/frameworks, /master/slaves, /master/tasks), built on every request from the
// same Kubernetes objects the operator works from: Agents (slaves), Frameworks, ResourceOffers
// and task Pods. Nothing is cached, so they always agree with kubectl.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
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
import type { ResourceOffer } from "../crds/offer.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { DEFAULT_LIST_TIMEOUT_MS } from "../kube/informer.ts";
import type { ResourceMap } from "../resources/types.ts";
import { podTaskIds } from "../sdk/tracker.ts";
import { taskStatusOf } from "../tasks/state.ts";
import { toMesosTotals } from "./resources.ts";
import { mesosIdsOf } from "./tasks.ts";

export const MESOS_VERSION = "1.11.0";

export interface StateContext {
  kubeConfig: KubeConfig;
  /** Namespaces whose Frameworks are shown. */
  namespaces: string[];
  /** Only Frameworks with these labels (the operator's pool). */
  frameworkSelector?: string | undefined;
  /** Only Agents with these labels. */
  agentSelector?: string | undefined;
  /** Only Frameworks of this principal (an authenticated caller sees its own). */
  principal?: string | undefined;
  hostname: string;
  port: number;
  id: string;
  startTime: number;
}

type Obj<T> = T & { metadata: { name?: string; namespace?: string } };

const seconds = (t: unknown) => (t ? new Date(String(t)).getTime() / 1000 : undefined);

function totals(list: (ResourceMap | undefined)[]): Record<string, number | string> {
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

function taskResources(pod: V1Pod): ResourceMap {
  try {
    return JSON.parse(pod.metadata?.annotations?.[ANNOTATION_RESOURCES] ?? "{}") as ResourceMap;
  } catch {
    return {};
  }
}

export async function masterState(ctx: StateContext): Promise<Record<string, unknown>> {
  // Lists of a whole pool: the informers' list deadline, not a single request's.
  const co = makeApiClient(ctx.kubeConfig, CustomObjectsApi, DEFAULT_LIST_TIMEOUT_MS);
  const core = makeApiClient(ctx.kubeConfig, CoreV1Api, DEFAULT_LIST_TIMEOUT_MS);
  const agents = (
    (await co.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL.agent,
      ...(ctx.agentSelector ? { labelSelector: ctx.agentSelector } : {}),
    })) as { items: Obj<Agent>[] }
  ).items;
  const frameworks: Record<string, unknown>[] = [];
  const slaveUsed = new Map<string, ResourceMap[]>();
  const slaveOffered = new Map<string, ResourceMap[]>();
  for (const ns of [...new Set(ctx.namespaces)]) {
    const sel = ctx.frameworkSelector ? { labelSelector: ctx.frameworkSelector } : {};
    const [fws, offers, pods] = await Promise.all([
      co.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL.framework,
        ...sel,
      }),
      co.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL.resourceOffer,
      }),
      core.listNamespacedPod({ namespace: ns, labelSelector: LABEL_FRAMEWORK }),
    ]).catch(() => [{ items: [] }, { items: [] }, { items: [] }] as const);
    for (const fw of (fws as { items: Obj<Framework>[] }).items) {
      const ann = fw.metadata.annotations ?? {};
      const principal = ann[ANNOTATION_PRINCIPAL];
      if (ctx.principal !== undefined && principal !== ctx.principal) continue;
      const name = fw.metadata.name ?? "";
      const id = ann[ANNOTATION_FRAMEWORK_ID] ?? name;
      let info: Record<string, unknown> = {};
      try {
        info = JSON.parse(ann[ANNOTATION_FRAMEWORK_INFO] ?? "{}") as Record<string, unknown>;
      } catch {
        // shown without it
      }
      const myPods = (pods as { items: V1Pod[] }).items.filter(
        (p) => p.metadata?.labels?.[LABEL_FRAMEWORK] === name,
      );
      const tasks: Record<string, unknown>[] = [];
      const completed: Record<string, unknown>[] = [];
      const used: ResourceMap[] = [];
      for (const pod of myPods) {
        const st = taskStatusOf(pod);
        const ids = mesosIdsOf(pod.metadata?.annotations);
        const node = pod.spec?.nodeName ?? "";
        const res = taskResources(pod);
        const terminal = ["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST"].includes(
          st.state,
        );
        if (!terminal) {
          used.push(res);
          slaveUsed.set(node, [...(slaveUsed.get(node) ?? []), res]);
        }
        for (const key of podTaskIds(pod)) {
          const task = {
            id: ids.get(key) ?? key,
            name: ids.get(key) ?? key,
            framework_id: id,
            executor_id: "",
            slave_id: node,
            agent_id: node,
            state: st.state,
            role: pod.metadata?.annotations?.[ANNOTATION_ROLE] ?? "*",
            resources: totals([res]),
            statuses: [{ state: st.state, timestamp: seconds(pod.metadata?.creationTimestamp) }],
            kubernetes: { namespace: ns, pod: pod.metadata?.name },
          };
          (terminal ? completed : tasks).push(task);
        }
      }
      const myOffers = (offers as { items: Obj<ResourceOffer>[] }).items.filter(
        (o) => o.spec.framework === name && (o.status?.phase ?? "Offered") === "Offered" && !o.spec.response,
      );
      for (const o of myOffers)
        slaveOffered.set(o.spec.agent, [
          ...(slaveOffered.get(o.spec.agent) ?? []),
          o.spec.resources as ResourceMap,
        ]);
      const phase = fw.status?.phase;
      frameworks.push({
        id,
        name: (info.name as string | undefined) ?? fw.spec.displayName ?? name,
        user: fw.spec.user ?? (info.user as string | undefined) ?? "",
        hostname: (info.hostname as string | undefined) ?? "",
        webui_url: (info.webui_url as string | undefined) ?? "",
        principal: principal ?? "",
        role: fw.spec.roles?.[0] ?? "*",
        roles: fw.spec.roles ?? ["*"],
        suppressed_roles: fw.spec.suppressedRoles ?? [],
        failover_timeout: fw.spec.failoverTimeoutSeconds ?? 0,
        checkpoint: (info.checkpoint as boolean | undefined) ?? false,
        capabilities: (info.capabilities as unknown[] | undefined) ?? [],
        active: phase === "Active",
        connected: phase === "Active",
        recovered: false,
        registered_time: seconds(fw.metadata.creationTimestamp),
        ...(fw.status?.disconnectedAt ? { unregistered_time: seconds(fw.status.disconnectedAt) } : {}),
        resources: totals(used),
        used_resources: totals(used),
        offered_resources: totals(myOffers.map((o) => o.spec.resources as ResourceMap)),
        tasks,
        completed_tasks: completed,
        unreachable_tasks: [],
        offers: myOffers.map((o) => ({
          id: o.metadata.name,
          framework_id: id,
          slave_id: o.spec.agent,
          agent_id: o.spec.agent,
          resources: totals([o.spec.resources as ResourceMap]),
          allocation_info: { role: o.spec.role },
        })),
        executors: [],
        kubernetes: { namespace: ns, name, phase },
      });
    }
  }
  const slaves = agents.map((a) => {
    const node = a.metadata.name ?? "";
    const res = a.status?.resources as ResourceMap | undefined;
    const usedR = totals(slaveUsed.get(node) ?? []);
    const total = toMesosTotals(res);
    const unreserved: Record<string, number | string> = Object.create(null);
    for (const [k, v] of Object.entries(total))
      unreserved[k] =
        typeof v === "number" ? Math.max(0, Math.round((v - Number(usedR[k] ?? 0)) * 1000) / 1000) : v;
    return {
      id: node,
      pid: `slave(1)@${node}:5051`,
      hostname: node,
      port: 5051,
      registered_time: seconds(a.metadata.creationTimestamp),
      active: a.status?.available ?? false,
      deactivated: !(a.status?.available ?? false),
      version: a.status?.agentVersion ?? MESOS_VERSION,
      resources: total,
      used_resources: usedR,
      offered_resources: totals(slaveOffered.get(node) ?? []),
      reserved_resources: Object.fromEntries(
        Object.entries(a.status?.reserved ?? {}).map(([role, r]) => [role, toMesosTotals(r as ResourceMap)]),
      ),
      unreserved_resources: unreserved,
      attributes: a.status?.attributes ?? {},
      capabilities: ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
      ...(a.status?.unavailable ? { unavailability: a.status.unavailable } : {}),
    };
  });
  const pid = `master@${ctx.hostname}:${ctx.port}`;
  return {
    version: MESOS_VERSION,
    id: ctx.id,
    pid,
    hostname: ctx.hostname,
    start_time: ctx.startTime / 1000,
    elected_time: ctx.startTime / 1000,
    leader: pid,
    leader_info: {
      id: ctx.id,
      pid,
      port: ctx.port,
      hostname: ctx.hostname,
      address: { hostname: ctx.hostname, port: ctx.port },
      version: MESOS_VERSION,
    },
    activated_slaves: slaves.filter((s) => s.active).length,
    deactivated_slaves: slaves.filter((s) => !s.active).length,
    unreachable_slaves: 0,
    flags: {},
    slaves,
    frameworks,
    completed_frameworks: [],
    orphan_tasks: [],
    unregistered_frameworks: [],
  };
}
