// SUBSCRIBE: FrameworkInfo -> the Framework object, registered (or updated) by a FrameworkClient
// of the SDK, then the event stream. As in Mesos (Master::subscribe), a SUBSCRIBE that passed the
// call's validation (http.ts, dispatch.ts: 400s) but is refused — an invalid FrameworkInfo,
// suppressed roles or offer constraints, a principal not allowed here, another principal's
// framework id, a removed framework — gets a 200 stream with one ERROR event, then the close.
// A framework id belongs to the principal that registered it; a second SUBSCRIBE of a framework
// served here fails the first stream over and keeps its client; one held by another instance of
// the API (its liveness Lease names it) is redirected there with 307, as a Mesos master that is
// not the leader redirects to the one that is.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { CoordinationV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import {
  ANNOTATION_FRAMEWORK_ID,
  ANNOTATION_FRAMEWORK_INFO,
  ANNOTATION_PRINCIPAL,
  GROUP,
  LABEL_MESOS,
  PLURAL,
  schedulerLeaseName,
  VERSION,
} from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { isNotFound } from "../kube/errors.ts";
import { DEFAULT_LIST_TIMEOUT_MS } from "../kube/informer.ts";
import {
  FrameworkClient,
  FrameworkTerminatingError,
  InvalidLaunchError,
  NotConnectedError,
} from "../sdk/index.ts";
import type { Tenancy } from "./auth.ts";
import { Connection } from "./connection.ts";
import { errorEvent, type MasterInfo, masterIp } from "./events.ts";
import { frameworkSpecOf, infoAnnotation } from "./framework.ts";
import { type Encoding, HttpError, type Log, openEventStream, pathOf } from "./http.ts";
import { frameworkNameFor, newFrameworkId } from "./ids.ts";
import type { Call } from "./protocol.ts";
import type { Registry } from "./registry.ts";
import { MesosFramework, type SessionOptions } from "./session.ts";
import { MESOS_VERSION } from "./state.ts";

/** A SUBSCRIBE refused as Mesos refuses it: an ERROR event on the stream, then the close. */
class Refused extends Error {}

/** The liveness Lease holder of a framework served by this API: `mesos-api@<host>:<port>/<pid>-<stream>`. */
export function holderIdentity(address: string, pid: number, streamId: string): string {
  return `mesos-api@${address}/${pid}-${streamId.slice(0, 8)}`;
}

/** The address (`host:port`) of the API instance a Lease holder identity names, if it is one. */
export function holderAddress(identity: string | undefined): string | undefined {
  return /^mesos-api@([^/\s]+:\d+)\/\d+-/.exec(identity ?? "")?.[1];
}

export interface SubscribeContext {
  kubeConfig: KubeConfig;
  registry: Registry;
  tenancy: Tenancy;
  session: SessionOptions;
  /** Labels of the Frameworks registered (the operator's pool); LABEL_MESOS is added. */
  frameworkLabels: Record<string, string>;
  /** The framework's liveness Lease duration. */
  leaseSeconds: number;
  /** This instance's host name (in the Lease holder identity). */
  hostname: string;
  log: Log;
}

export type Subscribe = ((
  req: IncomingMessage,
  res: ServerResponse,
  call: Call,
  authPrincipal: string | undefined,
  encoding: Encoding,
) => Promise<void>) & {
  /**
   * Where a framework not served here is served: `//<host>:<port><path>` of the API instance
   * holding its liveness Lease (live, and not this process), or undefined.
   */
  holderOf(
    frameworkId: string,
    principal: string | undefined,
    req: IncomingMessage,
  ): Promise<string | undefined>;
};

export function subscriber(ctx: SubscribeContext): Subscribe {
  const co = makeApiClient(ctx.kubeConfig, CustomObjectsApi, DEFAULT_LIST_TIMEOUT_MS);
  const { registry, log } = ctx;

  /** Refuses ids of another principal (403) and Framework names taken by another framework (409). */
  const checkOwnership = async (id: string, ns: string, name: string, principal: string | undefined) => {
    const mine = registry.frameworks.get(`${ns}/${name}`);
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

  const coord = makeApiClient(ctx.kubeConfig, CoordinationV1Api);
  /** This instance in MasterInfo; one id for as long as it serves. */
  const masterId = randomUUID();
  const masterInfo = (req: IncomingMessage): MasterInfo => {
    const port = req.socket.localPort ?? 0;
    const ip = req.socket.localAddress?.replace(/^::ffff:/, "");
    const ipv4 = ip !== undefined && masterIp(ip) !== 0 ? ip : undefined;
    return {
      id: masterId,
      ip: masterIp(ipv4),
      port,
      hostname: ctx.hostname,
      version: MESOS_VERSION,
      pid: `master@${ipv4 ?? ctx.hostname}:${port}`,
      address: { hostname: ctx.hostname, ...(ipv4 ? { ip: ipv4 } : {}), port },
    };
  };
  const ownAddress = (req: IncomingMessage) => `${ctx.hostname}:${req.socket.localPort ?? 0}`;

  /**
   * The live holder of a framework's Lease when it is another API instance: its address. One
   * that names this address is this process or an earlier one on it (gone: this one listens).
   */
  const leaseHolder = async (ns: string, name: string, req: IncomingMessage): Promise<string | undefined> => {
    try {
      const lease = await coord.readNamespacedLease({ name: schedulerLeaseName(name), namespace: ns });
      const identity = lease.spec?.holderIdentity ?? "";
      const renewed = lease.spec?.renewTime
        ? new Date(lease.spec.renewTime as unknown as string).getTime()
        : 0;
      const live = renewed + (lease.spec?.leaseDurationSeconds ?? ctx.leaseSeconds) * 1000 > Date.now();
      const at = holderAddress(identity);
      return live && at !== ownAddress(req) ? at : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new HttpError(503, `Cannot tell which instance serves framework ${name}: ${String(err)}`, {
        "retry-after": "1",
      });
    }
  };

  /** Without authentication a call names no principal: every namespace frameworks may live in is looked at. */
  const holderOf = async (frameworkId: string, principal: string | undefined, req: IncomingMessage) => {
    let namespaces: string[];
    try {
      namespaces = [...new Set(ctx.tenancy.visibleNamespaces(principal))];
    } catch {
      return undefined;
    }
    for (const ns of namespaces) {
      const at = await leaseHolder(ns, frameworkNameFor(frameworkId), req);
      if (at !== undefined) return `//${at}${requestPath(req)}`;
    }
    return undefined;
  };

  const subscribe = async (
    req: IncomingMessage,
    res: ServerResponse,
    call: Call,
    authPrincipal: string | undefined,
    encoding: Encoding,
  ): Promise<void> => {
    const sub = call.subscribe!;
    const info = sub.framework_info;
    // A mismatch with the authenticated principal is 400 before any stream (Mesos's call validation).
    const principal = ctx.tenancy.principalOf(info.principal, authPrincipal);
    const streamId = randomUUID();
    const openStream = () => {
      openEventStream(res, encoding, streamId);
      return new Connection(streamId, principal, res, ctx.session.maxBufferedBytes, encoding, log);
    };
    try {
      await register(req, call, principal, streamId, openStream);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      log("info", "subscription refused", { framework: info.name, principal, err: err.message });
      const conn = openStream();
      conn.send(errorEvent(err.message));
      conn.close();
    }
  };

  const register = async (
    req: IncomingMessage,
    call: Call,
    principal: string | undefined,
    streamId: string,
    openStream: () => Connection,
  ): Promise<void> => {
    const sub = call.subscribe!;
    const info = sub.framework_info;
    let ns: string;
    try {
      ns = ctx.tenancy.namespaceOf(principal);
    } catch (err) {
      // An authorization failure: Mesos refuses it on the stream.
      throw new Refused(`Not authorized to register framework '${info.name}': ${(err as Error).message}`);
    }
    const translated = frameworkSpecOf(info, sub.suppressed_roles, sub.offer_constraints);
    if (!translated.ok) throw new Refused(translated.error);
    const requestedId = info.id?.value ?? call.framework_id?.value;
    const id = requestedId ?? newFrameworkId(info.name);
    const name = frameworkNameFor(id);
    const key = `${ns}/${name}`;
    const path = requestPath(req);
    await registry.withLock(key, async () => {
      if (requestedId !== undefined) {
        if (registry.wasRemoved(requestedId)) throw new Refused("Framework has been removed");
        try {
          await checkOwnership(requestedId, ns, name, principal);
        } catch (err) {
          if (err instanceof HttpError && (err.status === 403 || err.status === 409))
            throw new Refused(err.message);
          throw err;
        }
      }
      let fw = registry.frameworks.get(key);
      const annotations = {
        [ANNOTATION_FRAMEWORK_ID]: id,
        [ANNOTATION_FRAMEWORK_INFO]: infoAnnotation(info),
        ...(principal !== undefined ? { [ANNOTATION_PRINCIPAL]: principal } : {}),
      };
      if (fw?.client) {
        // Failover inside this process: the running client stays, the registration is updated.
        await fw.serial(async () => {
          await fw!.client!.updateFramework(translated.spec, annotations);
          fw!.setSpec(translated.spec, info);
        });
      } else {
        // Held by another instance of the API: that is where the framework is served.
        const holder = requestedId !== undefined ? await leaseHolder(ns, name, req) : undefined;
        if (holder !== undefined) throw redirect(holder, path, id);
        fw ??= new MesosFramework({ id, namespace: ns, name, principal, spec: translated.spec }, ctx.session);
        fw.setSpec(translated.spec, info);
        clearTimeout(fw.evictTimer);
        const client = new FrameworkClient({
          kubeConfig: ctx.kubeConfig,
          namespace: ns,
          name,
          framework: translated.spec,
          labels: { ...ctx.frameworkLabels, [LABEL_MESOS]: "v1" },
          annotations,
          liveness: {
            leaseSeconds: ctx.leaseSeconds,
            leaseName: schedulerLeaseName(name),
            identity: holderIdentity(ownAddress(req), process.pid, streamId),
          },
          standbyTimeoutMs: ctx.leaseSeconds * 1000 + 3000,
          log: (level, msg, fields) => log(level, msg, { framework: key, ...fields }),
        });
        fw.bindClient(client);
        registry.frameworks.set(key, fw);
        try {
          await client.start();
        } catch (err) {
          await fw.stopClient().catch(() => {});
          if (err instanceof FrameworkTerminatingError) {
            registry.forget(fw);
            throw new Refused("Framework has been removed");
          }
          registry.scheduleEviction(fw);
          if (err instanceof InvalidLaunchError) throw new Refused(err.message);
          if (err instanceof NotConnectedError) {
            const at = await leaseHolder(ns, name, req).catch(() => undefined);
            if (at !== undefined) throw redirect(at, path, id);
            throw new HttpError(503, `Framework ${id} is held by another kube-offers instance; retry`, {
              "retry-after": "1",
            });
          }
          throw err;
        }
      }
      if (req.socket.destroyed) {
        // The client went away while we registered: it is disconnected.
        await registry.disconnectedLocked(fw);
        return;
      }
      registry.subscribed(fw, openStream(), masterInfo(req));
      log("info", "framework subscribed", {
        framework: key,
        id,
        principal,
        resubscribe: requestedId !== undefined,
      });
    });
  };

  return Object.assign(subscribe, { holderOf });
}

const requestPath = (req: IncomingMessage) => pathOf(req.url) ?? "/api/v1/scheduler";

/** 307 to the API instance that serves the framework (Mesos's redirect to the leading master). */
function redirect(address: string, path: string, frameworkId: string): HttpError {
  return new HttpError(307, `Framework ${frameworkId} is served by the instance at ${address}`, {
    location: `//${address}${path}`,
  });
}
