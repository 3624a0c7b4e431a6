// /master/state and the v0 JSON it is made of (slaves, frameworks, tasks, leader_info), as
// Mesos's master writes it, rendered from the cluster model (state.ts). The endpoints that show
// parts of it (/master/frameworks, /master/slaves, /master/tasks) and the tools' endpoints
// (operator/tools.ts) render with the same pieces.
import type { ResourceMap } from "../resources/types.ts";
import { isTerminal } from "../tasks/state.ts";
import { toMesosTotals } from "./resources.ts";
import {
  type AgentModel,
  agentPid,
  type ClusterModel,
  type FrameworkModel,
  liveTasks,
  type MasterIdentity,
  MESOS_VERSION,
  masterPid,
  type TaskModel,
} from "./state.ts";

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
