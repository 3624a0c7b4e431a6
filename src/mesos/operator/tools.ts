// The master endpoints Mesos's own tools read (the web UI, the CLI), as pure functions of the
// cluster model (state.ts): /metrics/snapshot, /master/roles, /master/state-summary, the
// query filters of /master/tasks, /master/frameworks and /master/slaves, and JSONP. Field names
// and defaults follow src/master/readonly_handler.cpp and src/master/metrics.cpp in Mesos.
import { TASK_STATES, type TaskState } from "../../crds/offer.ts";
import type { ResourceMap } from "../../resources/types.ts";
import { totals } from "../master-state.ts";
import { toMesosTotals } from "../resources.ts";
import { type ClusterModel, liveTasks, type MasterIdentity, type TaskModel } from "../state.ts";

type Json = Record<string, unknown>;

// ------------------------------------------------------------------ JSONP

/**
 * A JSONP callback is a dotted JavaScript name (Angular's `angular.callbacks._0`, jQuery's
 * `jQuery123_456`): anything else could inject script into the page that loads it.
 */
const CALLBACK = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
const MAX_CALLBACK = 128;

/** The callback of `?jsonp=`, or an error naming the parameter. */
export function jsonpCallback(
  query: URLSearchParams,
): { ok: true; callback?: string } | { ok: false; error: string } {
  const cb = query.get("jsonp");
  if (cb === null) return { ok: true };
  if (cb.length > MAX_CALLBACK || !CALLBACK.test(cb))
    return {
      ok: false,
      error: `Invalid 'jsonp' query parameter: expecting a JavaScript function name (letters, digits, '_', '$' and '.', at most ${MAX_CALLBACK} characters)`,
    };
  return { ok: true, callback: cb };
}

// ------------------------------------------------------------------ query filters

/** Mesos's default `limit` of /master/tasks (TASK_LIMIT). */
export const TASK_LIMIT = 100;

/** A query number as Mesos's numify<int> reads it: an integer, or undefined when absent or not one. */
function intParam(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || !/^[-+]?\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

/**
 * /master/tasks: `framework_id`, `task_id`, `order` (asc, or descending by default) by first
 * status time, `offset`, `limit` (default 100; a negative one — the CLI sends -1 — means all, as
 * Mesos's cast to size_t makes it).
 */
export function selectTasks(tasks: readonly TaskModel[], query: URLSearchParams): TaskModel[] {
  const fw = query.get("framework_id");
  const id = query.get("task_id");
  const picked = tasks.filter((t) => (fw === null || t.frameworkId === fw) && (id === null || t.id === id));
  const asc = query.get("order") === "asc";
  const time = (t: TaskModel) => t.createdAt ?? 0;
  picked.sort((a, b) => (asc ? time(a) - time(b) : time(b) - time(a)));
  const limit = intParam(query, "limit") ?? TASK_LIMIT;
  const offset = Math.max(0, intParam(query, "offset") ?? 0);
  return picked.slice(offset, limit < 0 ? undefined : offset + limit);
}

/** `framework_id` of /master/frameworks and `slave_id` of /master/slaves: only that one, when given. */
export const idFilter = (query: URLSearchParams, name: string) => {
  const want = query.get(name);
  return (id: string) => want === null || id === want;
};

// ------------------------------------------------------------------ /master/roles

/** GET /master/roles: every role with a ResourceRole or a visible framework in it. */
export function rolesJson(model: ClusterModel): Json {
  const names = new Set<string>(model.roles.map((r) => r.name));
  for (const f of model.frameworks) for (const r of f.roles) names.add(r);
  return {
    roles: [...names].sort().map((name) => {
      const role = model.roles.find((r) => r.name === name);
      const frameworks = model.frameworks.filter((f) => f.roles.includes(name));
      const allocated = totals(
        frameworks.flatMap((f) =>
          liveTasks(f.tasks)
            .filter((t) => t.role === name)
            .map((t) => t.resources),
        ),
      );
      const offered = totals(
        frameworks.flatMap((f) => f.offers.filter((o) => o.role === name).map((o) => o.resources)),
      );
      return {
        name,
        weight: role?.weight ?? 1,
        quota: {
          role: name,
          guarantee: role ? scalarsOf(role.guarantees) : {},
          limit: role ? scalarsOf(role.limits) : {},
          consumed: allocated,
        },
        resources: sumTotals(allocated, offered),
        allocated,
        offered,
        reserved: {},
        frameworks: frameworks.map((f) => f.id),
      };
    }),
  };
}

/** A quota's quantities, Mesos-named, without the zeros of the resources it does not name. */
const scalarsOf = (map: ResourceMap): Record<string, number | string> =>
  Object.fromEntries(Object.entries(toMesosTotals(map)).filter(([, v]) => v !== 0));

function sumTotals(a: Record<string, number | string>, b: Record<string, number | string>) {
  const out: Record<string, number | string> = Object.assign(Object.create(null), a);
  for (const [k, v] of Object.entries(b))
    out[k] = typeof v === "number" ? Math.round((Number(out[k] ?? 0) + v) * 1000) / 1000 : v;
  return out;
}

// ------------------------------------------------------------------ /master/state-summary

/** The task-state counters Mesos writes per agent and framework in the state summary. */
const SUMMARY_STATES: readonly TaskState[] = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_KILLED",
  "TASK_FAILED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_UNREACHABLE",
];

function stateCounts(tasks: readonly TaskModel[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(SUMMARY_STATES.map((s) => [s, 0]));
  for (const t of tasks) if (t.state in out) out[t.state] = (out[t.state] ?? 0) + 1;
  return out;
}

/** GET /master/state-summary: agents and frameworks with task counts and who runs where. */
export function stateSummaryJson(model: ClusterModel, master: MasterIdentity, slaves: readonly Json[]): Json {
  const tasks = model.frameworks.flatMap((f) => f.tasks);
  return {
    hostname: master.hostname,
    slaves: slaves.map((s) => {
      const here = tasks.filter((t) => t.agent === s.id);
      return {
        ...s,
        ...stateCounts(here),
        framework_ids: [...new Set(here.map((t) => t.frameworkId))],
      };
    }),
    frameworks: model.frameworks.map((f) => {
      const live = liveTasks(f.tasks);
      const used = totals(live.map((t) => t.resources));
      return {
        id: f.id,
        name: f.displayName,
        pid: "",
        used_resources: used,
        offered_resources: totals(f.offers.map((o) => o.resources)),
        capabilities: Array.isArray(f.info.capabilities) ? f.info.capabilities : [],
        hostname: typeof f.info.hostname === "string" ? f.info.hostname : "",
        webui_url: typeof f.info.webui_url === "string" ? f.info.webui_url : "",
        active: f.active,
        connected: f.active,
        recovered: false,
        ...stateCounts(f.tasks),
        slave_ids: [...new Set(f.tasks.map((t) => t.agent).filter(Boolean))],
      };
    }),
  };
}

// ------------------------------------------------------------------ /metrics/snapshot

const SCALARS = ["cpus", "mem", "disk", "gpus"] as const;

/** TASK_RUNNING -> master/tasks_running. */
const taskMetric = (s: TaskState) => `master/tasks_${s.slice("TASK_".length).toLowerCase()}`;

/**
 * The master metrics that have a meaning here (docs/mesos.md lists them and their sources).
 * Task counters are the tasks known now in each state (Mesos counts since its start), framework
 * counts are the visible Frameworks; a caller that authenticates counts its own only.
 */
export function metricsSnapshot(
  model: ClusterModel,
  o: { uptimeSeconds: number; operatorSubscribers: number },
): Record<string, number> {
  const m: Record<string, number> = {};
  m["master/elected"] = 1;
  m["master/uptime_secs"] = Math.round(o.uptimeSeconds * 1000) / 1000;
  const active = model.frameworks.filter((f) => f.active).length;
  m["master/frameworks_active"] = active;
  m["master/frameworks_inactive"] = model.frameworks.length - active;
  m["master/frameworks_connected"] = active;
  m["master/frameworks_disconnected"] = model.frameworks.length - active;
  const up = model.agents.filter((a) => a.active).length;
  m["master/slaves_active"] = up;
  m["master/slaves_inactive"] = model.agents.length - up;
  m["master/slaves_connected"] = model.agents.length;
  m["master/slaves_disconnected"] = 0;
  m["master/slaves_unreachable"] = 0;
  const tasks = model.frameworks.flatMap((f) => f.tasks);
  for (const s of TASK_STATES) if (s !== "TASK_UNKNOWN") m[taskMetric(s)] = 0;
  for (const t of tasks) m[taskMetric(t.state)] = (m[taskMetric(t.state)] ?? 0) + 1;
  m["master/outstanding_offers"] = model.frameworks.reduce((n, f) => n + f.offers.length, 0);
  m["master/operator_event_stream_subscribers"] = o.operatorSubscribers;
  const total = totals(model.agents.map((a) => a.resources));
  const used = totals(model.frameworks.flatMap((f) => liveTasks(f.tasks).map((t) => t.resources)));
  for (const r of SCALARS) {
    const t = Number(total[r] ?? 0);
    const u = Number(used[r] ?? 0);
    m[`master/${r}_total`] = t;
    m[`master/${r}_used`] = u;
    m[`master/${r}_percent`] = t > 0 ? u / t : 0;
  }
  return m;
}
