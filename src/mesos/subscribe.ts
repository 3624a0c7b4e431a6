// SUBSCRIBE: FrameworkInfo -> the Framework object, registered (or updated) by a FrameworkClient
// of the SDK, then the event stream. A framework id belongs to the principal that registered it;
// a second SUBSCRIBE of a framework served here fails the first stream over and keeps its
// client; a torn-down id gets "Framework has been removed".
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
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
import { errorEvent } from "./events.ts";
import { frameworkSpecOf, infoAnnotation } from "./framework.ts";
import { HttpError, type Log, openEventStream } from "./http.ts";
import { frameworkNameFor, newFrameworkId } from "./ids.ts";
import type { Call } from "./protocol.ts";
import type { Registry } from "./registry.ts";
import { MesosFramework, type SessionOptions } from "./session.ts";

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

export type Subscribe = (
  req: IncomingMessage,
  res: ServerResponse,
  call: Call,
  authPrincipal: string | undefined,
) => Promise<void>;

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

  return async (req, res, call, authPrincipal) => {
    const sub = call.subscribe!;
    const info = sub.framework_info;
    const principal = ctx.tenancy.principalOf(info.principal, authPrincipal);
    const ns = ctx.tenancy.namespaceOf(principal);
    const translated = frameworkSpecOf(info, sub.suppressed_roles, sub.offer_constraints);
    if (!translated.ok) throw new HttpError(400, translated.error);
    const requestedId = info.id?.value ?? call.framework_id?.value;
    const id = requestedId ?? newFrameworkId(info.name);
    const name = frameworkNameFor(id);
    const key = `${ns}/${name}`;
    const streamId = randomUUID();
    const openStream = () => {
      openEventStream(req, res, streamId);
      return new Connection(streamId, principal, res, ctx.session.maxBufferedBytes);
    };
    const removedError = () => {
      const conn = openStream();
      conn.send(errorEvent("Framework has been removed"));
      conn.close();
    };
    await registry.withLock(key, async () => {
      if (requestedId !== undefined) {
        if (registry.wasRemoved(requestedId)) return removedError();
        await checkOwnership(requestedId, ns, name, principal);
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
          fw!.setSpec(translated.spec);
        });
      } else {
        fw ??= new MesosFramework({ id, namespace: ns, name, principal, spec: translated.spec }, ctx.session);
        fw.setSpec(translated.spec);
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
            identity: `mesos-api-${ctx.hostname}-${process.pid}-${streamId.slice(0, 8)}`,
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
            return removedError();
          }
          registry.scheduleEviction(fw);
          if (err instanceof InvalidLaunchError) throw new HttpError(400, err.message);
          if (err instanceof NotConnectedError)
            throw new HttpError(409, `Framework ${id} is subscribed through another kube-offers instance`);
          throw err;
        }
      }
      if (req.socket.destroyed) {
        // The client went away while we registered: it is disconnected.
        await registry.disconnectedLocked(fw);
        return;
      }
      registry.subscribed(fw, openStream());
      log("info", "framework subscribed", {
        framework: key,
        id,
        principal,
        resubscribe: requestedId !== undefined,
      });
    });
  };
}
