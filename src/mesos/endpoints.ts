// The read-only master endpoints (GET): /master/state and its aliases, /master/frameworks,
// /master/slaves, /master/tasks (with the CLI's filters), /master/roles, /master/state-summary,
// /metrics/snapshot, /master/maintenance/schedule and /status, /master/redirect (to this
// instance: every instance serves), /version and /health. All of them from the same Kubernetes
// objects (the model of state.ts, rendered by master-state.ts); an authenticated caller sees its
// own principal's frameworks only. Every JSON answer may be JSONP (`?jsonp=<callback>`), as the
// Mesos web UI asks for it.
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Caller, HttpError, send, sendJson } from "./http.ts";
import { masterStateJson, usageByAgent, v0Framework, v0Slave, v0Task } from "./master-state.ts";
import {
  idFilter,
  jsonpCallback,
  metricsSnapshot,
  rolesJson,
  selectTasks,
  stateSummaryJson,
} from "./operator/tools.ts";
import { maintenanceSchedule, maintenanceStatus } from "./operator/v1.ts";
import { asciiJson } from "./recordio.ts";
import { type ClusterModel, type MasterIdentity, MESOS_VERSION } from "./state.ts";

/** Each endpoint under its Mesos paths (with and without /master, and the old .json names). */
const ROUTES: Record<string, readonly string[]> = {
  state: ["/master/state", "/state", "/master/state.json", "/state.json"],
  redirect: ["/master/redirect", "/redirect"],
  version: ["/version"],
  health: ["/health", "/master/health"],
  frameworks: ["/master/frameworks", "/frameworks"],
  slaves: ["/master/slaves", "/slaves"],
  tasks: ["/master/tasks", "/tasks", "/master/tasks.json", "/tasks.json"],
  roles: ["/master/roles", "/roles", "/master/roles.json", "/roles.json"],
  summary: ["/master/state-summary", "/state-summary"],
  metrics: ["/metrics/snapshot"],
  schedule: ["/master/maintenance/schedule", "/maintenance/schedule"],
  status: ["/master/maintenance/status", "/maintenance/status"],
};
type Endpoint = keyof typeof ROUTES;
const ENDPOINT_OF = new Map<string, Endpoint>(
  Object.entries(ROUTES).flatMap(([e, paths]) => paths.map((p) => [p, e as Endpoint])),
);

/** Every path served here. */
export const READONLY_PATHS: ReadonlySet<string> = new Set(ENDPOINT_OF.keys());

export interface EndpointsContext {
  /** The cluster as a caller sees it (its principal's frameworks when it authenticated). */
  read: (principal: string | undefined) => Promise<ClusterModel>;
  master: () => MasterIdentity;
  uptimeSeconds: () => number;
  /** Open operator event streams (a metric). */
  operatorSubscribers: () => number;
}

/** JSON, or JSONP when a callback is given (text/javascript, as libprocess answers it). */
export function sendJsonp(res: ServerResponse, value: unknown, callback: string | undefined): void {
  if (callback === undefined) {
    sendJson(res, value);
    return;
  }
  const body = `${callback}(${asciiJson(value)})`;
  res.writeHead(200, {
    "content-type": "text/javascript",
    "x-content-type-options": "nosniff",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** The JSON an endpoint answers with. */
export function endpointJson(
  endpoint: Exclude<Endpoint, "redirect" | "health">,
  model: ClusterModel,
  query: URLSearchParams,
  ctx: { master: MasterIdentity; uptimeSeconds: number; operatorSubscribers: number },
): unknown {
  const { master } = ctx;
  switch (endpoint) {
    case "version":
      return { version: MESOS_VERSION, build_user: "kube-offers" };
    case "state":
      return masterStateJson(model, master);
    case "frameworks": {
      const wanted = idFilter(query, "framework_id");
      return {
        frameworks: model.frameworks.filter((f) => wanted(f.id)).map(v0Framework),
        completed_frameworks: [],
        unregistered_frameworks: [],
      };
    }
    case "slaves": {
      const wanted = idFilter(query, "slave_id");
      const usage = usageByAgent(model);
      return {
        slaves: model.agents.filter((a) => wanted(a.id)).map((a) => v0Slave(a, usage, master)),
        recovered_slaves: [],
      };
    }
    case "tasks":
      return {
        tasks: selectTasks(
          model.frameworks.flatMap((f) => f.tasks),
          query,
        ).map(v0Task),
      };
    case "roles":
      return rolesJson(model);
    case "summary": {
      const usage = usageByAgent(model);
      return stateSummaryJson(
        model,
        master,
        model.agents.map((a) => v0Slave(a, usage, master)),
      );
    }
    case "metrics":
      return metricsSnapshot(model, {
        uptimeSeconds: ctx.uptimeSeconds,
        operatorSubscribers: ctx.operatorSubscribers,
      });
    case "schedule":
      return maintenanceSchedule(model);
    case "status":
      return maintenanceStatus(model);
  }
}

const WITHOUT_MODEL: ReadonlySet<Endpoint> = new Set(["version"]);

export function readonlyHandler(ctx: EndpointsContext) {
  return async (
    req: IncomingMessage,
    res: ServerResponse,
    { path, caller }: { path: string; caller: Caller },
  ): Promise<void> => {
    const endpoint = ENDPOINT_OF.get(path);
    if (endpoint === undefined) throw new HttpError(404, `No endpoint ${path}`);
    if (req.method !== "GET" && req.method !== "HEAD")
      throw new HttpError(
        405,
        endpoint === "schedule"
          ? "Expecting a 'GET' request: kube-offers has no maintenance schedule to update (cordon or drain the node instead)"
          : "Expecting a 'GET' request",
        { allow: "GET" },
      );
    const master = ctx.master();
    if (endpoint === "redirect") {
      res.writeHead(307, { location: `//${req.headers.host ?? `${master.hostname}:${master.port}`}` });
      res.end();
      return;
    }
    if (endpoint === "health") return send(res, 200, "");
    const query = new URL(req.url ?? "/", "http://localhost").searchParams;
    const jsonp = jsonpCallback(query);
    if (!jsonp.ok) throw new HttpError(400, jsonp.error);
    const model = WITHOUT_MODEL.has(endpoint)
      ? { agents: [], frameworks: [], roles: [] }
      : await ctx.read(caller.principal);
    const value = endpointJson(endpoint, model, query, {
      master,
      uptimeSeconds: ctx.uptimeSeconds(),
      operatorSubscribers: ctx.operatorSubscribers(),
    });
    sendJsonp(res, value, jsonp.callback);
  };
}
