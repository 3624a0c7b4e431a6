// The Mesos v1 Scheduler HTTP API served by kube-offers: POST /api/v1/scheduler (JSON) and the
// read-only master endpoints, on a port of its own (Mesos's 5050 by default). Each subscribed
// framework is a FrameworkClient (src/sdk) on the Framework object; the Kubernetes objects stay
// the single source of truth. docs/mesos.md describes the mapping and what is not supported.
import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname as osHostname } from "node:os";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import {
  ANNOTATION_FRAMEWORK_ID,
  ANNOTATION_FRAMEWORK_INFO,
  ANNOTATION_PRINCIPAL,
  DEFAULT_SCHEDULER_LEASE_SECONDS,
  DEFAULT_TASK_IMAGE,
  GROUP,
  LABEL_MESOS,
  PLURAL,
  schedulerLeaseName,
  VERSION,
} from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import { isNotFound } from "../kube/errors.ts";
import {
  FrameworkClient,
  FrameworkTerminatingError,
  InvalidLaunchError,
  NotConnectedError,
} from "../sdk/index.ts";
import { frameworkSpecOf, infoAnnotation } from "./framework.ts";
import { frameworkNameFor, newFrameworkId } from "./ids.ts";
import { asciiJson, type Call, parseCall } from "./protocol.ts";
import { CallError, Connection, type Log, MesosFramework } from "./session.ts";
import { MESOS_VERSION, masterState } from "./state.ts";

export interface MesosAuthentication {
  /** HTTP Basic: user (= principal) -> password. */
  basic?: Record<string, string>;
  /** Bearer tokens: token -> principal. */
  bearer?: Record<string, string>;
}

export interface MesosApiOptions {
  kubeConfig: KubeConfig;
  port?: number;
  host?: string;
  /** Principal -> namespace its frameworks live in. */
  namespaces?: Record<string, string>;
  /** Namespace of principals not listed (and of frameworks without a principal); unset: they are refused. */
  defaultNamespace?: string;
  /** When set, every request must authenticate; the principal is the authenticated one. */
  authentication?: MesosAuthentication;
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
  /** Largest accepted request body (413 above). Default 8 MiB. */
  maxBodyBytes?: number;
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
  /** Frameworks currently served (for tests and metrics). */
  readonly frameworks: ReadonlyMap<string, MesosFramework>;
  /** Open event streams. */
  readonly streams: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const SCHEDULER_PATH = "/api/v1/scheduler";
const MAX_REMOVED = 1000;
const STATE_PATHS = new Set(["/master/state", "/state", "/master/state.json", "/state.json"]);

function mediaTypes(header: string | undefined): string[] {
  return (header ?? "")
    .split(",")
    .map((s) => s.split(";")[0]?.trim().toLowerCase() ?? "")
    .filter(Boolean);
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startMesosApi(o: MesosApiOptions): Promise<MesosApi> {
  const log: Log = o.log ?? (() => {});
  const heartbeatSeconds = o.heartbeatIntervalSeconds ?? 15;
  const maxBody = o.maxBodyBytes ?? 8 * 1024 * 1024;
  const leaseSeconds = o.leaseSeconds ?? DEFAULT_SCHEDULER_LEASE_SECONDS;
  const sessionOpts = {
    kubeConfig: o.kubeConfig,
    defaultImage: o.defaultImage ?? DEFAULT_TASK_IMAGE,
    heartbeatSeconds,
    updateRetryMs: (o.updateRetrySeconds ?? 10) * 1000,
    maxBufferedBytes: 16 * 1024 * 1024,
    log,
  };
  const co = o.kubeConfig.makeApiClient(CustomObjectsApi);
  const frameworks = new Map<string, MesosFramework>();
  const streams = new Map<string, { conn: Connection; fw: MesosFramework }>();
  /** Framework ids torn down through this API: a later SUBSCRIBE with one gets "removed". */
  const removed = new Set<string>();
  const locks = new Map<string, Promise<unknown>>();
  const instanceId = randomUUID();
  const startTime = Date.now();
  const hostname = o.advertisedHostname ?? osHostname();
  let port = 0;
  let closing = false;
  const frameworkLabels = { ...(o.frameworkLabels ?? {}) };
  const frameworkSelector = Object.entries(frameworkLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

  const withLock = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const prev = locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => {});
    locks.set(key, settled);
    try {
      return await next;
    } finally {
      if (locks.get(key) === settled) locks.delete(key);
    }
  };

  const authenticate = (req: IncomingMessage): string | undefined => {
    const a = o.authentication;
    if (!a || (!a.basic && !a.bearer)) return undefined;
    const challenge = {
      "www-authenticate": a.basic ? 'Basic realm="mesos"' : 'Bearer realm="mesos"',
    };
    const h = req.headers.authorization ?? "";
    const [scheme, cred = ""] = h.split(/\s+/, 2);
    if (/^basic$/i.test(scheme ?? "") && a.basic) {
      const text = Buffer.from(cred, "base64").toString("utf8");
      const i = text.indexOf(":");
      const user = i < 0 ? text : text.slice(0, i);
      const pass = i < 0 ? "" : text.slice(i + 1);
      const want = Object.hasOwn(a.basic, user) ? a.basic[user] : undefined;
      if (want !== undefined && equal(pass, want)) return user;
    } else if (/^bearer$/i.test(scheme ?? "") && a.bearer) {
      for (const [token, principal] of Object.entries(a.bearer)) if (equal(cred, token)) return principal;
    }
    throw new HttpError(401, "Unauthorized: authentication is required", challenge);
  };

  const namespaceOf = (principal: string | undefined): string => {
    const ns = (principal !== undefined && o.namespaces?.[principal]) || o.defaultNamespace;
    if (!ns)
      throw new HttpError(
        403,
        principal === undefined
          ? "Frameworks without a principal are not allowed here: set FrameworkInfo.principal (or authenticate)"
          : `Principal '${principal}' is not allowed to register frameworks (no namespace is configured for it)`,
      );
    return ns;
  };

  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers["content-length"] ?? "0");
      if (declared > maxBody) {
        reject(new HttpError(413, `Request body is larger than ${maxBody} bytes`, { connection: "close" }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      req.on("data", (c: Buffer) => {
        if (done) return;
        size += c.length;
        if (size > maxBody) {
          done = true;
          chunks.length = 0;
          reject(new HttpError(413, `Request body is larger than ${maxBody} bytes`, { connection: "close" }));
          return;
        }
        chunks.push(c);
      });
      req.on("end", () => {
        if (!done) resolve(Buffer.concat(chunks));
      });
      req.on("error", (err) => {
        if (!done) reject(err);
        done = true;
      });
      req.on("aborted", () => {
        if (!done) reject(new HttpError(400, "request aborted"));
        done = true;
      });
    });

  // ------------------------------------------------------------------ SUBSCRIBE

  /** Finds who owns a framework id: refuses ids of another principal, says whether it was removed. */
  const checkOwnership = async (id: string, ns: string, name: string, principal: string | undefined) => {
    const mine = frameworks.get(`${ns}/${name}`);
    if (mine && mine.id === id) {
      if (mine.principal !== principal)
        throw new HttpError(403, `Framework ${id} belongs to another principal`);
      return;
    }
    // The same id under another namespace: someone else's framework.
    const all = (await co.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL.framework,
      fieldSelector: `metadata.name=${name}`,
      labelSelector: LABEL_MESOS,
    })) as { items: Framework[] };
    for (const f of all.items) {
      const fid = f.metadata.annotations?.[ANNOTATION_FRAMEWORK_ID];
      if (fid !== id) continue;
      const fprincipal = f.metadata.annotations?.[ANNOTATION_PRINCIPAL];
      if (f.metadata.namespace !== ns || (fprincipal ?? undefined) !== principal)
        throw new HttpError(403, `Framework ${id} belongs to another principal`);
    }
    try {
      const f = (await co.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL.framework,
        name,
      })) as Framework;
      const fid = f.metadata.annotations?.[ANNOTATION_FRAMEWORK_ID];
      if (fid !== id)
        throw new HttpError(
          409,
          `Framework name ${ns}/${name} is taken by ${fid ? `Mesos framework ${fid}` : "a framework not registered through the Mesos API"}`,
        );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  };

  const subscribe = async (req: IncomingMessage, res: ServerResponse, call: Call, authPrincipal?: string) => {
    const sub = call.subscribe!;
    const info = sub.framework_info;
    let principal = info.principal;
    if (authPrincipal !== undefined) {
      if (principal !== undefined && principal !== authPrincipal)
        throw new HttpError(
          400,
          `Authenticated principal '${authPrincipal}' does not match principal '${principal}' set in 'FrameworkInfo'`,
        );
      principal = authPrincipal;
    }
    const ns = namespaceOf(principal);
    const translated = frameworkSpecOf(info, sub.suppressed_roles, sub.offer_constraints);
    if (!translated.ok) throw new HttpError(400, translated.error);
    const requestedId = info.id?.value ?? call.framework_id?.value;
    const id = requestedId ?? newFrameworkId(info.name);
    const name = frameworkNameFor(id);
    const key = `${ns}/${name}`;
    const accept = mediaTypes(req.headers.accept);
    const recordioAccept = accept.includes("application/recordio");
    const streamId = randomUUID();
    const openStream = () => {
      res.writeHead(200, {
        "content-type": recordioAccept ? "application/recordio" : "application/json",
        ...(recordioAccept ? { "message-content-type": "application/json" } : {}),
        "mesos-stream-id": streamId,
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      res.flushHeaders();
      return new Connection(streamId, principal, res, sessionOpts.maxBufferedBytes);
    };
    const removedError = () => {
      const conn = openStream();
      conn.send({ type: "ERROR", error: { message: "Framework has been removed" } });
      conn.close();
    };
    await withLock(key, async () => {
      if (requestedId !== undefined) {
        if (removed.has(requestedId)) return removedError();
        await checkOwnership(requestedId, ns, name, principal);
      }
      let fw = frameworks.get(key);
      const annotations = {
        [ANNOTATION_FRAMEWORK_ID]: id,
        [ANNOTATION_FRAMEWORK_INFO]: infoAnnotation(info),
        ...(principal !== undefined ? { [ANNOTATION_PRINCIPAL]: principal } : {}),
      };
      if (fw?.client) {
        // Failover inside this process: the running client stays, the registration is updated.
        await fw.serial(async () => {
          await fw!.client!.updateFramework(translated.spec, annotations);
          fw!.setSpec(translated.spec);
        });
      } else {
        fw ??= new MesosFramework({ id, namespace: ns, name, principal, spec: translated.spec }, sessionOpts);
        fw.setSpec(translated.spec);
        clearTimeout(fw.evictTimer);
        const client = new FrameworkClient({
          kubeConfig: o.kubeConfig,
          namespace: ns,
          name,
          framework: translated.spec,
          labels: { ...frameworkLabels, [LABEL_MESOS]: "v1" },
          annotations,
          liveness: {
            leaseSeconds,
            leaseName: schedulerLeaseName(name),
            identity: `mesos-api-${hostname}-${process.pid}-${streamId.slice(0, 8)}`,
          },
          standbyTimeoutMs: leaseSeconds * 1000 + 3000,
          log: (level, msg, fields) => log(level, msg, { framework: key, ...fields }),
        });
        fw.bindClient(client);
        frameworks.set(key, fw);
        try {
          await client.start();
        } catch (err) {
          await fw.stopClient().catch(() => {});
          if (err instanceof FrameworkTerminatingError) {
            frameworks.delete(key);
            fw.dispose();
            return removedError();
          }
          scheduleEviction(fw);
          if (err instanceof InvalidLaunchError) throw new HttpError(400, err.message);
          if (err instanceof NotConnectedError)
            throw new HttpError(409, `Framework ${id} is subscribed through another kube-offers instance`);
          throw err;
        }
      }
      if (req.socket.destroyed) {
        // The client went away while we registered: it is disconnected.
        await disconnectedLocked(fw);
        return;
      }
      const conn = openStream();
      streams.set(streamId, { conn, fw });
      conn.whenClosed(() => {
        streams.delete(streamId);
        if (fw.detach(conn)) void disconnected(fw);
      });
      fw.attach(conn);
      log("info", "framework subscribed", {
        framework: key,
        id,
        principal,
        resubscribe: requestedId !== undefined,
      });
    });
  };

  const scheduleEviction = (fw: MesosFramework) => {
    clearTimeout(fw.evictTimer);
    const ms = Math.min(24 * 3600, Math.max(60, fw.spec.failoverTimeoutSeconds ?? 0) + 60) * 1000;
    fw.evictTimer = setTimeout(() => {
      if (frameworks.get(fw.key) === fw && !fw.conn && !fw.client) {
        frameworks.delete(fw.key);
        fw.dispose();
      }
    }, ms);
    fw.evictTimer.unref();
  };

  /** The stream ended: stop the client (its Lease lapses: failover timeout starts), keep unacked updates a while. */
  const disconnected = async (fw: MesosFramework) => withLock(fw.key, () => disconnectedLocked(fw));
  const disconnectedLocked = async (fw: MesosFramework) => {
    if (fw.conn || frameworks.get(fw.key) !== fw) return;
    await fw
      .stopClient()
      .catch((err: unknown) => log("warn", "stopping framework client failed", { err: String(err) }));
    if (fw.removed) {
      frameworks.delete(fw.key);
      fw.dispose();
      return;
    }
    scheduleEviction(fw);
    log("info", "framework disconnected", { framework: fw.key, id: fw.id });
  };

  // ------------------------------------------------------------------ other calls

  const dispatch = async (call: Call, streamId: string | undefined, authPrincipal: string | undefined) => {
    if (!streamId)
      throw new HttpError(403, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    const s = streams.get(streamId);
    if (!s)
      throw new HttpError(403, `The stream ID '${streamId}' is not associated with a subscribed framework`);
    const { fw, conn } = s;
    if (call.framework_id?.value !== fw.id)
      throw new HttpError(
        403,
        `The stream ID '${streamId}' belongs to framework ${fw.id}, not ${call.framework_id?.value}`,
      );
    if (authPrincipal !== undefined && authPrincipal !== conn.principal)
      throw new HttpError(403, `Principal '${authPrincipal}' may not act for framework ${fw.id}`);
    const later = (what: string, fn: () => Promise<void>) => {
      void fw.serial(fn).catch((err: unknown) =>
        log(err instanceof CallError ? "info" : "warn", `${what} failed`, {
          framework: fw.key,
          err: String(err),
        }),
      );
      return 202;
    };
    switch (call.type) {
      case "ACCEPT":
        return later("accept", () => fw.accept(call.accept!));
      case "DECLINE":
        return later("decline", () => fw.decline(call.decline!));
      case "REVIVE": {
        const roles = fw.rolesOf(call.revive ?? {});
        return later("revive", () => fw.revive(roles));
      }
      case "SUPPRESS": {
        const roles = fw.rolesOf(call.suppress ?? {});
        return later("suppress", () => fw.suppress(roles));
      }
      case "KILL":
        return later("kill", () => fw.kill(call.kill!));
      case "ACKNOWLEDGE":
        fw.acknowledge(call.acknowledge!);
        return 202;
      case "RECONCILE":
        return later("reconcile", () => fw.reconcile(call.reconcile!));
      case "TEARDOWN":
        return later("teardown", async () => {
          fw.removed = true;
          removed.add(fw.id);
          // Remembered like Mesos's completed frameworks: the most recent ones only.
          while (removed.size > MAX_REMOVED) removed.delete(removed.values().next().value as string);
          await fw.stopClient({ teardown: true });
          if (frameworks.get(fw.key) === fw) frameworks.delete(fw.key);
          fw.conn?.close();
          fw.dispose();
          log("info", "framework torn down", { framework: fw.key, id: fw.id });
        });
      case "UPDATE_FRAMEWORK": {
        const u = call.update_framework!;
        const info = u.framework_info;
        if (info.principal !== undefined && info.principal !== fw.principal)
          throw new HttpError(400, "UPDATE_FRAMEWORK cannot change the principal");
        const t = frameworkSpecOf(info, u.suppressed_roles, u.offer_constraints);
        if (!t.ok) throw new HttpError(400, t.error);
        await fw.serial(async () => {
          if (!fw.client) throw new HttpError(403, "Framework is not subscribed");
          try {
            await fw.client.updateFramework(t.spec, { [ANNOTATION_FRAMEWORK_INFO]: infoAnnotation(info) });
          } catch (err) {
            if (err instanceof InvalidLaunchError) throw new HttpError(400, err.message);
            throw err;
          }
          fw.setSpec(t.spec);
        });
        return 200;
      }
      case "MESSAGE":
      case "SHUTDOWN":
        // There are no custom executors here: like a Mesos master that cannot find the
        // executor, accept the call and drop it.
        log("info", `${call.type} dropped: no custom executors run on kube-offers`, { framework: fw.key });
        return 202;
      case "REQUEST":
      case "ACCEPT_INVERSE_OFFERS":
      case "DECLINE_INVERSE_OFFERS":
      case "ACKNOWLEDGE_OPERATION_STATUS":
      case "RECONCILE_OPERATIONS":
        // The allocator ignores REQUEST (as Mesos's does); no inverse offers are ever sent.
        return 202;
      default:
        throw new HttpError(400, `Unsupported call type ${call.type}`);
    }
  };

  // ------------------------------------------------------------------ HTTP

  const send = (res: ServerResponse, code: number, body: string, headers: Record<string, string> = {}) => {
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(code, { "content-type": "text/plain; charset=utf-8", ...headers });
    res.end(body ? `${body}\n` : "");
  };

  const sendJson = (res: ServerResponse, value: unknown) => {
    const body = asciiJson(value);
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
    });
    res.end(body);
  };

  const scheduler = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST") throw new HttpError(405, "Expecting a 'POST' request", { allow: "POST" });
    const principal = authenticate(req);
    const ctype = mediaTypes(req.headers["content-type"])[0];
    if (ctype === undefined) throw new HttpError(415, "Expecting 'Content-Type' to be present");
    if (ctype !== "application/json")
      throw new HttpError(
        415,
        ctype === "application/x-protobuf"
          ? "Protobuf requests are not supported here: send JSON ('Content-Type: application/json')"
          : `Unsupported 'Content-Type' ${ctype}: expecting application/json`,
      );
    const accept = mediaTypes(req.headers.accept);
    const body = await readBody(req);
    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch (err) {
      throw new HttpError(400, `Failed to parse body into JSON: ${(err as Error).message}`);
    }
    const parsed = parseCall(json);
    if (!parsed.ok) throw new HttpError(400, parsed.error);
    const call = parsed.call;
    const okAccept = (extra: string[]) =>
      accept.length === 0 ||
      accept.some(
        (t) => t === "*/*" || t === "application/*" || t === "application/json" || extra.includes(t),
      );
    if (call.type === "SUBSCRIBE") {
      const msgAccept = mediaTypes(req.headers["message-accept"] as string | undefined);
      if (
        !okAccept(["application/recordio"]) ||
        (msgAccept.length && !msgAccept.some((t) => t === "application/json" || t === "*/*"))
      )
        throw new HttpError(406, "Only JSON event streams are served: 'Accept: application/json'");
      return subscribe(req, res, call, principal);
    }
    if (!okAccept([])) throw new HttpError(406, "Only JSON responses are served: 'Accept: application/json'");
    const header = req.headers["mesos-stream-id"];
    const code = await dispatch(call, Array.isArray(header) ? header[0] : header, principal);
    send(res, code, "");
  };

  const readonly = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (req.method !== "GET" && req.method !== "HEAD")
      throw new HttpError(405, "Expecting a 'GET' request", { allow: "GET" });
    const principal = authenticate(req);
    const host = req.headers.host ?? `${hostname}:${port}`;
    if (path === "/master/redirect" || path === "/redirect") {
      res.writeHead(307, { location: `//${host}` });
      res.end();
      return;
    }
    if (path === "/version") return sendJson(res, { version: MESOS_VERSION, build_user: "kube-offers" });
    if (path === "/health" || path === "/master/health") return send(res, 200, "");
    const namespaces =
      principal !== undefined
        ? [namespaceOf(principal)]
        : [...Object.values(o.namespaces ?? {}), ...(o.defaultNamespace ? [o.defaultNamespace] : [])];
    const state = await masterState({
      kubeConfig: o.kubeConfig,
      namespaces,
      frameworkSelector: frameworkSelector || undefined,
      agentSelector: o.agentSelector,
      principal,
      hostname,
      port,
      id: instanceId,
      startTime,
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

  const READONLY = new Set([
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

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "") || "/";
    const handle =
      path === SCHEDULER_PATH || path === "/master/api/v1/scheduler"
        ? scheduler(req, res)
        : READONLY.has(path)
          ? readonly(req, res, path)
          : Promise.reject(new HttpError(404, `No endpoint ${path}`));
    handle.catch((err: unknown) => {
      if (err instanceof HttpError) {
        send(res, err.status, err.message, err.headers);
        if (err.headers.connection === "close") {
          // Discard the rest of the body; the connection closes after the answer. A client that
          // keeps sending is cut off after a grace period.
          req.resume();
          setTimeout(() => req.socket.destroy(), 5000).unref();
        }
        return;
      }
      if (err instanceof CallError) return send(res, err.status, err.message);
      log("error", "request failed", { path, err: err instanceof Error ? err.message : String(err) });
      send(res, closing ? 503 : 500, `Internal error: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 5050, o.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${o.host && o.host !== "0.0.0.0" ? o.host : "127.0.0.1"}:${port}`,
    frameworks,
    get streams() {
      return streams.size;
    },
    close: async () => {
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const { conn } of streams.values()) conn.close();
        server.closeAllConnections();
      });
      // Stop every client: their Leases are released, the operator counts them disconnected.
      await Promise.all(
        [...frameworks.values()].map(async (fw) => {
          await fw.stopClient().catch(() => {});
          fw.dispose();
        }),
      );
      frameworks.clear();
    },
  };
}
