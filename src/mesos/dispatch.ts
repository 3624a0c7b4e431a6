// POST /api/v1/scheduler: a call -> its handler. SUBSCRIBE opens a stream (subscribe.ts); every
// other call is for a framework served here (or redirected, 307, to the instance that serves it)
// and must name its current subscription by `Mesos-Stream-Id`; it is applied to that framework
// (session.ts; its tasks, task-calls.ts; its offers, offer-answers.ts), in arrival order. The
// checks and their codes follow Mesos's Master::Http::scheduler in its order. Calls whose effect
// the scheduler learns from events answer 202 at once; UPDATE_FRAMEWORK answers 200 once the
// Framework is updated; UNKNOWN 501.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ANNOTATION_FRAMEWORK_INFO } from "../crds/contract.ts";
import { InvalidLaunchError } from "../sdk/index.ts";
import { frameworkSpecOf, infoAnnotation } from "./framework.ts";
import type { Guard } from "./guard.ts";
import { type BodyLimits, type Caller, HttpError, type Log, readCall, sendEmpty } from "./http.ts";
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
  const dispatch = async (
    req: IncomingMessage,
    call: Call,
    streamId: string | undefined,
    authPrincipal: string | undefined,
  ) => {
    const frameworkId = call.framework_id!.value;
    const fw = registry.byId(frameworkId);
    if (!fw?.conn) {
      // Served by another instance: redirected there, as a Mesos master that is not the leader does.
      const location = await ctx.subscribe.holderOf(frameworkId, authPrincipal, req);
      if (location)
        throw new HttpError(307, `Framework ${frameworkId} is served by another instance`, { location });
      if (!fw) throw new HttpError(400, "Framework cannot be found");
    }
    if (authPrincipal !== undefined && authPrincipal !== fw.principal)
      throw new HttpError(
        400,
        `Authenticated principal '${authPrincipal}' does not match principal '${fw.principal ?? ""}' set in \`FrameworkInfo\``,
      );
    if (!fw.conn) throw new HttpError(403, "Framework is not subscribed");
    if (!streamId)
      throw new HttpError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    if (streamId !== fw.conn.streamId)
      throw new HttpError(
        400,
        `The stream ID '${streamId}' included in this request didn't match the stream ID currently associated with framework ID ${fw.id}`,
      );
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
        return later("accept", () => fw.offers.accept(call.accept!));
      case "DECLINE":
        return later("decline", () => fw.offers.decline(call.decline!));
      case "REVIVE":
      case "SUPPRESS": {
        const revive = call.type === "REVIVE";
        const named = fw.rolesOf((revive ? call.revive : call.suppress) ?? {});
        if ("dropped" in named) {
          // As Mesos's master drops it: the whole call, with a 202.
          log("info", `${call.type} dropped: ${named.dropped}`, { framework: fw.key });
          return 202;
        }
        return revive
          ? later("revive", () => fw.revive(named.roles))
          : later("suppress", () => fw.suppress(named.roles));
      }
      case "KILL":
        return later("kill", () => fw.tasks.kill(call.kill!));
      case "ACKNOWLEDGE":
        fw.tasks.acknowledge(call.acknowledge!);
        return 202;
      case "RECONCILE":
        return later("reconcile", () => fw.tasks.reconcile(call.reconcile!));
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
          fw.setSpec(t.spec, info);
        });
        return 200;
      }
      case "MESSAGE":
      case "SHUTDOWN":
        // There are no custom executors here: like a Mesos master that cannot find the
        // executor, accept the call and drop it.
        log("info", `${call.type} dropped: no custom executors run on kube-offers`, { framework: fw.key });
        return 202;
      case "ACKNOWLEDGE_OPERATION_STATUS":
        fw.offers.acknowledgeOperation(call.acknowledge_operation_status!);
        return 202;
      case "RECONCILE_OPERATIONS":
        return later("reconcile operations", async () =>
          fw.offers.reconcileOperations(call.reconcile_operations!),
        );
      case "REQUEST":
      case "ACCEPT_INVERSE_OFFERS":
      case "DECLINE_INVERSE_OFFERS":
        // The allocator ignores REQUEST (as Mesos's does); no inverse offers are ever sent.
        return 202;
      default:
        // UNKNOWN (Mesos: "Received 'UNKNOWN' call").
        throw new HttpError(501, `Call type ${call.type} is not implemented`);
    }
  };

  return async (req: IncomingMessage, res: ServerResponse, { caller }: { caller: Caller }): Promise<void> => {
    if (req.method !== "POST") throw new HttpError(405, "Expecting a 'POST' request", { allow: "POST" });
    const { call, accept } = await readCall(req, ctx.body);
    const header = req.headers["mesos-stream-id"];
    const streamId = Array.isArray(header) ? header[0] : header;
    if (call.type === "SUBSCRIBE") {
      if (streamId !== undefined)
        throw new HttpError(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
      ctx.guard.subscribe(caller, res);
      return ctx.subscribe(req, res, call, caller.principal, accept ?? "json");
    }
    sendEmpty(res, await dispatch(req, call, streamId, caller.principal));
  };
}
