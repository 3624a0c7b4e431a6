// POST /api/v1/scheduler: a call -> its handler. SUBSCRIBE opens a stream (subscribe.ts); every
// other call names its subscription by `Mesos-Stream-Id` and is applied to that framework
// (session.ts), in arrival order. Calls whose effect the scheduler learns from events answer 202
// at once; UPDATE_FRAMEWORK answers 200 once the Framework is updated.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ANNOTATION_FRAMEWORK_INFO } from "../crds/contract.ts";
import { InvalidLaunchError } from "../sdk/index.ts";
import { frameworkSpecOf, infoAnnotation } from "./framework.ts";
import type { Guard } from "./guard.ts";
import { type BodyLimits, type Caller, HttpError, type Log, readCall, send } from "./http.ts";
import type { Call } from "./protocol.ts";
import type { Registry } from "./registry.ts";
import type { Subscribe } from "./subscribe.ts";

export interface DispatchContext {
  registry: Registry;
  guard: Guard;
  subscribe: Subscribe;
  body: BodyLimits;
  log: Log;
}

/** The handler of the scheduler endpoint. */
export function schedulerHandler(ctx: DispatchContext) {
  const { registry, log } = ctx;

  /** A call other than SUBSCRIBE: its status code, or an HttpError. */
  const dispatch = async (call: Call, streamId: string | undefined, authPrincipal: string | undefined) => {
    if (!streamId)
      throw new HttpError(403, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    const s = registry.stream(streamId);
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
    /** Applied after the calls before it; the answer does not wait. */
    const later = (what: string, fn: () => Promise<void>) => {
      void fw.serial(fn).catch((err: unknown) =>
        log(err instanceof HttpError ? "info" : "warn", `${what} failed`, {
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
        return later("teardown", () => registry.teardown(fw));
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

  return async (req: IncomingMessage, res: ServerResponse, { caller }: { caller: Caller }): Promise<void> => {
    if (req.method !== "POST") throw new HttpError(405, "Expecting a 'POST' request", { allow: "POST" });
    const call = await readCall(req, ctx.body);
    if (call.type === "SUBSCRIBE") {
      ctx.guard.subscribe(caller, res);
      return ctx.subscribe(req, res, call, caller.principal);
    }
    const header = req.headers["mesos-stream-id"];
    const code = await dispatch(call, Array.isArray(header) ? header[0] : header, caller.principal);
    send(res, code, "");
  };
}
