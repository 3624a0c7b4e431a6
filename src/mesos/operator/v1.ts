// The cluster model (state.ts) in the messages of the v1 operator API
// (include/mesos/v1/master/master.proto: Response.Get*, Event.*; mesos.proto: Task, AgentInfo,
// FrameworkInfo, MasterInfo, ...), as protobuf JSON with Mesos's field names. Pure: the
// operator API's answers and its event stream both build on these.
import type { ResourceMap } from "../../resources/types.ts";
import { isTerminal } from "../../tasks/state.ts";
import { type MesosResource, TASK_STATUS_REASONS } from "../messages.ts";
import { toMesosAttributes, toMesosResources } from "../resources.ts";
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
} from "../state.ts";

type Json = Record<string, unknown>;

/** TimeInfo from seconds since the epoch. */
export const timeInfo = (secs: number | undefined): Json | undefined =>
  secs === undefined ? undefined : { nanoseconds: Math.round(secs * 1e9) };

/** Drops undefined fields (protobuf JSON has no nulls). */
function defined(o: Json): Json {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** Resources with their allocation to `role` (tasks, offers, what a framework holds). */
export const allocatedResources = (map: ResourceMap, role: string): MesosResource[] =>
  toMesosResources(map, role);

/** Resources as an agent has them: no allocation. */
export function unallocatedResources(map: ResourceMap): MesosResource[] {
  return toMesosResources(map, "*").map(({ allocation_info: _a, ...r }) => r as MesosResource);
}

/** What several tasks or offers hold, as Mesos adds resources up: one entry per name, role and reservation. */
export function allocatedOf(items: readonly { resources: ResourceMap; role: string }[]): MesosResource[] {
  const merged = new Map<string, MesosResource>();
  for (const i of items)
    for (const r of allocatedResources(i.resources, i.role)) {
      const key = JSON.stringify([r.name, r.role, r.allocation_info, r.reservations]);
      const seen = merged.get(key);
      if (!seen) merged.set(key, structuredClone(r));
      else if (seen.scalar && r.scalar)
        seen.scalar.value = Math.round((seen.scalar.value + r.scalar.value) * 1000) / 1000;
      else if (seen.ranges && r.ranges)
        seen.ranges.range = [...(seen.ranges.range ?? []), ...(r.ranges.range ?? [])];
    }
  return [...merged.values()];
}

export function v1TaskStatus(t: TaskModel): Json {
  return defined({
    task_id: { value: t.id },
    state: t.state,
    message: t.message,
    source: t.state === "TASK_LOST" || t.state === "TASK_ERROR" ? "SOURCE_MASTER" : "SOURCE_EXECUTOR",
    // Only Mesos's names: the enum has no others.
    reason: t.reason && TASK_STATUS_REASONS.has(t.reason) ? t.reason : undefined,
    agent_id: t.agent ? { value: t.agent } : undefined,
    timestamp: t.createdAt,
  });
}

/** mesos.v1.Task. */
export function v1Task(t: TaskModel): Json {
  return defined({
    name: t.id,
    task_id: { value: t.id },
    framework_id: { value: t.frameworkId },
    agent_id: { value: t.agent },
    state: t.state,
    resources: allocatedResources(t.resources, t.role),
    statuses: [v1TaskStatus(t)],
  });
}

/** mesos.v1.FrameworkInfo: what the framework sent, with what the Framework object says now. */
export function v1FrameworkInfo(f: FrameworkModel): Json {
  const info = f.info;
  const str = (k: string) => (typeof info[k] === "string" ? (info[k] as string) : undefined);
  const multiRole = Array.isArray(info.capabilities)
    ? info.capabilities.some((c) => (c as { type?: unknown })?.type === "MULTI_ROLE")
    : false;
  return defined({
    user: f.user,
    name: f.displayName,
    id: { value: f.id },
    failover_timeout: f.failoverTimeout,
    checkpoint: info.checkpoint === true,
    ...(multiRole ? { roles: f.roles } : { role: f.roles[0] ?? "*" }),
    hostname: str("hostname"),
    principal: f.principal,
    webui_url: str("webui_url"),
    capabilities: Array.isArray(info.capabilities) ? info.capabilities : undefined,
    labels: info.labels && typeof info.labels === "object" ? info.labels : undefined,
  });
}

/** master.Response.GetFrameworks.Framework. */
export function v1Framework(f: FrameworkModel): Json {
  return defined({
    framework_info: v1FrameworkInfo(f),
    active: f.active,
    connected: f.active,
    recovered: false,
    registered_time: timeInfo(f.registeredAt),
    unregistered_time: timeInfo(f.disconnectedAt),
    offers: f.offers.map((o) => ({
      id: { value: o.id },
      framework_id: { value: o.frameworkId },
      agent_id: { value: o.agent },
      hostname: o.agent,
      resources: allocatedResources(o.resources, o.role),
      allocation_info: { role: o.role },
    })),
    allocated_resources: allocatedOf(liveTasks(f.tasks)),
    offered_resources: allocatedOf(f.offers),
  });
}

const AGENT_CAPABILITIES = ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"].map((type) => ({
  type,
}));

/** master.Response.GetAgents.Agent; `used`/`offered`: what the visible frameworks hold there. */
export function v1Agent(
  a: AgentModel,
  held: { used: readonly TaskModel[]; offered: readonly { resources: ResourceMap; role: string }[] },
  master: MasterIdentity,
): Json {
  const total = unallocatedResources(a.resources);
  return defined({
    agent_info: {
      hostname: a.id,
      port: master.port,
      resources: total,
      attributes: toMesosAttributes(a.attributes),
      id: { value: a.id },
    },
    active: a.active,
    deactivated: !a.active,
    version: a.version,
    pid: agentPid(master),
    registered_time: timeInfo(a.registeredAt),
    total_resources: total,
    allocated_resources: allocatedOf(held.used),
    offered_resources: allocatedOf(held.offered),
    capabilities: AGENT_CAPABILITIES,
  });
}

export function v1Agents(model: ClusterModel, master: MasterIdentity): Json {
  const tasks = model.frameworks.flatMap((f) => liveTasks(f.tasks));
  const offers = model.frameworks.flatMap((f) => f.offers);
  return {
    agents: model.agents.map((a) =>
      v1Agent(
        a,
        { used: tasks.filter((t) => t.agent === a.id), offered: offers.filter((o) => o.agent === a.id) },
        master,
      ),
    ),
  };
}

export function v1Frameworks(model: ClusterModel): Json {
  return { frameworks: model.frameworks.map(v1Framework) };
}

/** Response.GetTasks: live tasks in `tasks`, those on a node that went away in `unreachable_tasks`, terminal ones in `completed_tasks`. */
export function v1Tasks(model: ClusterModel): Json {
  const all = model.frameworks.flatMap((f) => f.tasks);
  const unreachable = (t: TaskModel) => t.state === "TASK_UNREACHABLE";
  return {
    tasks: all.filter((t) => !isTerminal(t.state) && !unreachable(t)).map(v1Task),
    unreachable_tasks: all.filter(unreachable).map(v1Task),
    completed_tasks: all.filter((t) => isTerminal(t.state)).map(v1Task),
  };
}

/** No executors are visible: tasks run in Pods, with no Mesos executor of their own. */
export const v1Executors = (): Json => ({ executors: [] });

export function v1State(model: ClusterModel, master: MasterIdentity): Json {
  return {
    get_tasks: v1Tasks(model),
    get_executors: v1Executors(),
    get_frameworks: v1Frameworks(model),
    get_agents: v1Agents(model, master),
  };
}

/** The IPv4 address in MasterInfo.ip's form (network byte order read as a little-endian uint32), 0 if none. */
export function packedIp(address: string | undefined): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address ?? "");
  if (!m) return 0;
  const [a, b, c, d] = m.slice(1).map(Number) as [number, number, number, number];
  if ([a, b, c, d].some((x) => x > 255)) return 0;
  return ((d << 24) >>> 0) + (c << 16) + (b << 8) + a;
}

export function v1MasterInfo(master: MasterIdentity, ip?: string): Json {
  return defined({
    id: master.id,
    ip: packedIp(ip),
    port: master.port,
    pid: masterPid(master),
    hostname: master.hostname,
    version: MESOS_VERSION,
    address: defined({ hostname: master.hostname, ip, port: master.port }),
  });
}

export function v1Master(master: MasterIdentity, ip?: string): Json {
  return {
    master_info: v1MasterInfo(master, ip),
    start_time: master.startTime / 1000,
    elected_time: master.startTime / 1000,
  };
}

export const v1Version = (): Json => ({
  version_info: { version: MESOS_VERSION, build_user: "kube-offers" },
});

export const v1Flags = (master: MasterIdentity): Json => ({
  flags: Object.entries(master.flags).map(([name, value]) => ({ name, value })),
});

export const v1Metrics = (metrics: Record<string, number>): Json => ({
  metrics: Object.entries(metrics).map(([name, value]) => ({ name, value })),
});

/** mesos.v1.Role per known role: weight, the visible frameworks in it, what they hold. */
export function v1Roles(model: ClusterModel): Json {
  const names = new Set<string>(model.roles.map((r) => r.name));
  for (const f of model.frameworks) for (const r of f.roles) names.add(r);
  return {
    roles: [...names].sort().map((name) => {
      const frameworks = model.frameworks.filter((f) => f.roles.includes(name));
      const held = [
        ...frameworks.flatMap((f) => liveTasks(f.tasks)).filter((t) => t.role === name),
        ...frameworks.flatMap((f) => f.offers).filter((o) => o.role === name),
      ];
      return {
        name,
        weight: model.roles.find((r) => r.name === name)?.weight ?? 1,
        frameworks: frameworks.map((f) => ({ value: f.id })),
        resources: allocatedOf(held),
      };
    }),
  };
}

/** Agents cordoned or draining stand for Mesos machines in maintenance (draining: no new offers). */
export function inMaintenance(model: ClusterModel): AgentModel[] {
  return model.agents.filter((a) => a.unavailable && /^(Cordoned|Draining)$/.test(a.unavailable.reason));
}

/** maintenance.ClusterStatus: cordoned and draining nodes are draining machines; none is down. */
export function maintenanceStatus(model: ClusterModel): Json {
  const draining = inMaintenance(model);
  return draining.length ? { draining_machines: draining.map((a) => ({ id: { hostname: a.id } })) } : {};
}

/** maintenance.Schedule: one window per cordoned or draining node, from when it became so. */
export function maintenanceSchedule(model: ClusterModel): Json {
  const draining = inMaintenance(model);
  return draining.length
    ? {
        windows: draining.map((a) => ({
          machine_ids: [{ hostname: a.id }],
          unavailability: { start: timeInfo(a.unavailable?.since ?? a.registeredAt ?? 0) },
        })),
      }
    : {};
}
