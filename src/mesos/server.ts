// The Mesos v1 Scheduler HTTP API served by kube-offers: POST /api/v1/scheduler (JSON) and the
// read-only master endpoints, on a port of its own (Mesos's 5050 by default). Each subscribed
// framework is a FrameworkClient (src/sdk) on the Framework object; the Kubernetes objects stay
// the single source of truth. docs/mesos.md describes the mapping and what is not supported.
// This module puts the parts together: http.ts serves, auth.ts says who calls, guard.ts and
// limits.ts hold each client to its limits, dispatch.ts and subscribe.ts handle calls,
// registry.ts keeps the subscriptions, endpoints.ts the GET endpoints, operator/ the operator API
// (POST /api/v1) and the views Mesos's tools read.
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import { hostname as osHostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import { DEFAULT_SCHEDULER_LEASE_SECONDS, DEFAULT_TASK_IMAGE } from "../crds/contract.ts";
import { credentialsCheck, type MesosAuthentication, Tenancy } from "./auth.ts";
import { readCluster } from "./cluster-lists.ts";
import { schedulerHandler } from "./dispatch.ts";
import { READONLY_PATHS, readonlyHandler } from "./endpoints.ts";
import { type Counted, Guard } from "./guard.ts";
import { type Handler, type Log, serve } from "./http.ts";
import { limitsOf, type MesosLimits } from "./limits.ts";
import { operatorHandler } from "./operator/api.ts";
import { OperatorStreams } from "./operator/stream.ts";
import { Registry } from "./registry.ts";
import type { MesosFramework } from "./session.ts";
import { type ClusterModel, clusterModel, type MasterIdentity } from "./state.ts";
import { subscriber } from "./subscribe.ts";

export interface MesosApiOptions {
  kubeConfig: KubeConfig;
  port?: number;
  host?: string;
  /** Principal -> namespace its frameworks live in. */
  namespaces?: Record<string, string>;
  /** Namespace of principals not listed (and of frameworks without a principal); unset: they are refused. */
  defaultNamespace?: string;
  /** When it holds credentials, every request must authenticate; the principal is the authenticated one. */
  authentication?: MesosAuthentication;
  /** Serve without credentials (FrameworkInfo.principal is trusted). Must be said: no credentials without it is an error. */
  allowUnauthenticated?: boolean;
  /** Labels put on the Frameworks this API registers (e.g. the operator's pool). */
  frameworkLabels?: Record<string, string>;
  /** Label selector of the Agents the state endpoints list (e.g. the pool's). */
  agentSelector?: string;
  /** Image for CommandInfo tasks without a ContainerInfo (default DEFAULT_TASK_IMAGE, busybox:1.35). */
  defaultImage?: string;
  /** SUBSCRIBED.heartbeat_interval_seconds (Mesos: 15). */
  heartbeatIntervalSeconds?: number;
  /** Unacknowledged status updates are re-sent this often (Mesos agents start at 10 s). */
  updateRetrySeconds?: number;
  /** Largest accepted request body (413 above). Default 8 MiB; the other limits: limits.ts. */
  maxBodyBytes?: number;
  maxInflightBodyBytes?: number;
  maxConnectionsPerPrincipal?: number;
  maxSubscriptionsPerPrincipal?: number;
  requestsPerSecondPerPrincipal?: number;
  requestBurstPerPrincipal?: number;
  headersTimeoutSeconds?: number;
  requestTimeoutSeconds?: number;
  /** The framework's liveness Lease duration (default 10 s). */
  leaseSeconds?: number;
  /** Host name the master advertises (state endpoints, redirect). Default: this host's name. */
  advertisedHostname?: string;
  log?: Log;
}

export interface MesosApi {
  server: Server;
  port: number;
  url: string;
  /** Frameworks currently served (for tests). */
  readonly frameworks: ReadonlyMap<string, MesosFramework>;
  /** Open event streams. */
  readonly streams: number;
  /** Open operator API event streams (POST /api/v1 SUBSCRIBE). */
  readonly operatorStreams: number;
  /** The limits in force. */
  readonly limits: MesosLimits;
  /** Connections and streams counted against clients, and body bytes being read (for tests). */
  readonly counted: Counted;
  close(): Promise<void>;
}

const SCHEDULER_PATHS = new Set(["/api/v1/scheduler", "/master/api/v1/scheduler"]);
const OPERATOR_PATHS = new Set(["/api/v1", "/master/api/v1"]);

/** The master flags that mean something here, as /master/state and GET_FLAGS show them. */
export function masterFlags(o: {
  authenticating: boolean;
  hostname: string;
  port: number;
}): Record<string, string> {
  const auth = String(o.authenticating);
  return {
    authenticate_frameworks: auth,
    authenticate_http_frameworks: auth,
    authenticate_http_readonly: auth,
    authenticate_http_readwrite: auth,
    hostname: o.hostname,
    port: String(o.port),
  };
}

/** Starts the API; refuses (throws, naming the setting) to serve without credentials unless `allowUnauthenticated`. */
export async function startMesosApi(o: MesosApiOptions): Promise<MesosApi> {
  const refused = credentialsCheck(o.authentication, o.allowUnauthenticated);
  if (refused) throw new Error(`Mesos API: ${refused}`);
  const log: Log = o.log ?? (() => {});
  const hostname = o.advertisedHostname ?? osHostname();
  const frameworkLabels = { ...(o.frameworkLabels ?? {}) };
  const tenancy = new Tenancy(o);
  const limits = limitsOf(o);
  const guard = new Guard(limits, tenancy);
  const registry = new Registry(log);
  let port = 0;
  let closing = false;
  const scheduler = schedulerHandler({
    registry,
    guard,
    body: {
      maxBytes: limits.maxBodyBytes,
      budget: guard.bodies,
      timeoutMs: limits.requestTimeoutSeconds * 1000,
    },
    log,
    subscribe: subscriber({
      kubeConfig: o.kubeConfig,
      registry,
      tenancy,
      session: {
        kubeConfig: o.kubeConfig,
        defaultImage: o.defaultImage ?? DEFAULT_TASK_IMAGE,
        heartbeatSeconds: o.heartbeatIntervalSeconds ?? 15,
        updateRetryMs: (o.updateRetrySeconds ?? 10) * 1000,
        maxBufferedBytes: 16 * 1024 * 1024,
        log,
      },
      frameworkLabels,
      leaseSeconds: o.leaseSeconds ?? DEFAULT_SCHEDULER_LEASE_SECONDS,
      hostname,
      log,
    }),
  });
  const id = randomUUID();
  const startTime = Date.now();
  const master = (): MasterIdentity => ({
    id,
    hostname,
    port,
    startTime,
    flags: masterFlags({ authenticating: tenancy.authenticating, hostname, port }),
  });
  const frameworkSelector =
    Object.entries(frameworkLabels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",") || undefined;
  const read = async (principal: string | undefined): Promise<ClusterModel> =>
    clusterModel(
      await readCluster({
        kubeConfig: o.kubeConfig,
        namespaces: tenancy.visibleNamespaces(principal),
        frameworkSelector,
        agentSelector: o.agentSelector,
      }),
      principal,
    );
  const uptimeSeconds = () => (Date.now() - startTime) / 1000;
  const operatorStreams = new OperatorStreams({
    kubeConfig: o.kubeConfig,
    namespaces: tenancy.visibleNamespaces(undefined),
    frameworkSelector,
    agentSelector: o.agentSelector,
    master,
    heartbeatSeconds: o.heartbeatIntervalSeconds ?? 15,
    maxBufferedBytes: 16 * 1024 * 1024,
    log,
  });
  const readonly: Handler = readonlyHandler({
    read,
    master,
    uptimeSeconds,
    operatorSubscribers: () => operatorStreams.count,
  });
  const operator: Handler = operatorHandler({
    read,
    master,
    uptimeSeconds,
    subscribers: () => operatorStreams.count,
    body: {
      maxBytes: limits.maxBodyBytes,
      budget: guard.bodies,
      timeoutMs: limits.requestTimeoutSeconds * 1000,
    },
    subscribe: (req, res, caller, encoding) => {
      // The same refusal as a GET_* call's: a principal without a namespace (403).
      tenancy.visibleNamespaces(caller.principal);
      guard.subscribe(caller, res);
      return operatorStreams.subscribe(req, res, caller, encoding);
    },
  });
  const served = await serve({
    port: o.port ?? 5050,
    host: o.host ?? "0.0.0.0",
    route: (path) =>
      SCHEDULER_PATHS.has(path)
        ? scheduler
        : OPERATOR_PATHS.has(path)
          ? operator
          : READONLY_PATHS.has(path)
            ? readonly
            : undefined,
    admit: (req) => guard.admit(req),
    headersTimeoutMs: limits.headersTimeoutSeconds * 1000,
    requestTimeoutMs: limits.requestTimeoutSeconds * 1000,
    closing: () => closing,
    log,
  });
  const { server } = served;
  port = served.port;
  return {
    server,
    port,
    url: `http://${o.host && o.host !== "0.0.0.0" ? o.host : "127.0.0.1"}:${port}`,
    frameworks: registry.frameworks,
    get streams() {
      return registry.streamCount;
    },
    get operatorStreams() {
      return operatorStreams.count;
    },
    limits,
    get counted() {
      return guard.counted;
    },
    close: async () => {
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        registry.closeStreams();
        operatorStreams.close();
        server.closeAllConnections();
      });
      await registry.stopAll();
    },
  };
}
