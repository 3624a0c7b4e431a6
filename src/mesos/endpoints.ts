// The read-only master endpoints (GET): /master/state and its aliases, /master/frameworks,
// /master/slaves, /master/tasks (all from the state document, state.ts), /master/redirect (to
// this instance: every instance serves), /version and /health. An authenticated caller sees
// its own principal's frameworks only.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Tenancy } from "./auth.ts";
import { type Caller, HttpError, send, sendJson } from "./http.ts";
import { MESOS_VERSION, masterState } from "./state.ts";

const STATE_PATHS = new Set(["/master/state", "/state", "/master/state.json", "/state.json"]);

/** Every path served here. */
export const READONLY_PATHS: ReadonlySet<string> = new Set([
  ...STATE_PATHS,
  "/master/redirect",
  "/redirect",
  "/version",
  "/health",
  "/master/health",
  "/master/frameworks",
  "/frameworks",
  "/master/slaves",
  "/slaves",
  "/master/tasks",
  "/tasks",
]);

export interface EndpointsContext {
  kubeConfig: KubeConfig;
  tenancy: Tenancy;
  /** Only Frameworks with these labels (the operator's pool); empty: all. */
  frameworkLabels: Record<string, string>;
  /** Only Agents with these labels. */
  agentSelector: string | undefined;
  hostname: string;
  /** The port served (known once listening). */
  port: () => number;
  /** This instance's id and start time (ms), as a master's. */
  id: string;
  startTime: number;
}

export function readonlyHandler(ctx: EndpointsContext) {
  const frameworkSelector = Object.entries(ctx.frameworkLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return async (
    req: IncomingMessage,
    res: ServerResponse,
    { path, caller }: { path: string; caller: Caller },
  ): Promise<void> => {
    if (req.method !== "GET" && req.method !== "HEAD")
      throw new HttpError(405, "Expecting a 'GET' request", { allow: "GET" });
    const { principal } = caller;
    const port = ctx.port();
    const host = req.headers.host ?? `${ctx.hostname}:${port}`;
    if (path === "/master/redirect" || path === "/redirect") {
      res.writeHead(307, { location: `//${host}` });
      res.end();
      return;
    }
    if (path === "/version") return sendJson(res, { version: MESOS_VERSION, build_user: "kube-offers" });
    if (path === "/health" || path === "/master/health") return send(res, 200, "");
    const state = await masterState({
      kubeConfig: ctx.kubeConfig,
      namespaces: ctx.tenancy.visibleNamespaces(principal),
      frameworkSelector: frameworkSelector || undefined,
      agentSelector: ctx.agentSelector,
      principal,
      hostname: ctx.hostname,
      port,
      id: ctx.id,
      startTime: ctx.startTime,
    });
    if (STATE_PATHS.has(path)) return sendJson(res, state);
    if (path === "/master/frameworks" || path === "/frameworks")
      return sendJson(res, {
        frameworks: state.frameworks,
        completed_frameworks: [],
        unregistered_frameworks: [],
      });
    if (path === "/master/slaves" || path === "/slaves") return sendJson(res, { slaves: state.slaves });
    if (path === "/master/tasks" || path === "/tasks")
      return sendJson(res, {
        tasks: (state.frameworks as { tasks: unknown[]; completed_tasks: unknown[] }[]).flatMap((f) => [
          ...f.tasks,
          ...f.completed_tasks,
        ]),
      });
    throw new HttpError(404, "Not found");
  };
}
