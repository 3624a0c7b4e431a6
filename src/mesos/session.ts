// One Mesos framework as the API serves it: a FrameworkClient (the SDK) that registers the
// Framework, holds its liveness Lease and watches its offers and task Pods, plus what the Mesos
// protocol adds on top — the stream of the current subscription (connection.ts), its tasks
// (task-calls.ts: status updates re-sent until acknowledged, RECONCILE, KILL) and its offers
// (offer-answers.ts: OFFERS, DECLINE, ACCEPT and operation updates). Here: the framework's
// registration (SUPPRESS, REVIVE, capabilities), its client and stream, and the SDK events,
// which become Mesos events through those parts. Calls of one framework are applied one at a
// time, in order.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { ANNOTATION_REVIVE } from "../crds/contract.ts";
import { makeApiClient } from "../kube/deadline.ts";
import type { FrameworkClient, FrameworkRegistration, SchedulerEvent } from "../sdk/index.ts";
import type { Connection } from "./connection.ts";
import { errorEvent, failureEvent, type MasterInfo, subscribedEvent } from "./events.ts";
import { HttpError, type Log } from "./http.ts";
import type { FrameworkInfo } from "./messages.ts";
import { OfferAnswers } from "./offer-answers.ts";
import type { MesosEvent } from "./protocol.ts";
import type { ResourceFormat } from "./resources.ts";
import { type FrameworkContext, FrameworkTasks } from "./task-calls.ts";
import type { Capabilities } from "./tasks.ts";

export interface SessionOptions {
  kubeConfig: KubeConfig;
  defaultImage: string;
  heartbeatSeconds: number;
  updateRetryMs: number;
  /** A stream whose unsent bytes exceed this is closed (a client that stopped reading). */
  maxBufferedBytes: number;
  log: Log;
}

/**
 * The roles a SUPPRESS or REVIVE names (`roles`, the deprecated `role`; none: all), or why Mesos
 * drops the call: a role the framework is not subscribed to drops it whole (answered 202).
 */
export function namedRoles(
  r: { roles?: string[] | undefined; role?: string | undefined },
  frameworkRoles: readonly string[],
): { roles: string[] } | { dropped: string } {
  const roles = r.roles?.length ? r.roles : r.role ? [r.role] : [];
  const unknown = roles.find((x) => !frameworkRoles.includes(x));
  if (unknown !== undefined)
    return {
      dropped: `role '${unknown}' is not one of the framework's subscribed roles (${frameworkRoles.join(", ")})`,
    };
  return { roles };
}

export class MesosFramework implements FrameworkContext {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly principal: string | undefined;
  spec: FrameworkRegistration;
  capabilities: Capabilities;
  /** How resources are shown to it (MULTI_ROLE, RESERVATION_REFINEMENT). */
  resourceFormat: ResourceFormat = { multiRole: false, refinement: false };
  client: FrameworkClient | undefined;
  conn: Connection | undefined;
  /** Set when the framework is gone for good (torn down, deleted). */
  removed = false;
  /** Forgets a disconnected framework after a while (registry.ts). */
  evictTimer: NodeJS.Timeout | undefined;
  /** KILL, RECONCILE, ACKNOWLEDGE and the task status updates. */
  readonly tasks: FrameworkTasks;
  /** OFFERS, DECLINE, ACCEPT and the operation status updates. */
  readonly offers: OfferAnswers;
  private readonly opts: SessionOptions;
  private readonly failedAgents = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private offListeners: (() => void) | undefined;
  /** Client stops under way: a second stopClient (the API closing) waits for them to release. */
  private readonly stopping = new Set<Promise<void>>();

  constructor(
    init: {
      id: string;
      namespace: string;
      name: string;
      principal: string | undefined;
      spec: FrameworkRegistration;
    },
    opts: SessionOptions,
  ) {
    this.id = init.id;
    this.namespace = init.namespace;
    this.name = init.name;
    this.principal = init.principal;
    this.spec = init.spec;
    this.capabilities = capsOf(init.spec);
    this.opts = opts;
    const core = makeApiClient(opts.kubeConfig, CoreV1Api);
    this.tasks = new FrameworkTasks(this, { core, retryMs: opts.updateRetryMs, log: opts.log });
    this.offers = new OfferAnswers(this, this.tasks, {
      defaultImage: opts.defaultImage,
      retryMs: opts.updateRetryMs,
      log: opts.log,
    });
  }

  get key(): string {
    return `${this.namespace}/${this.name}`;
  }

  /** The registration, and the capabilities of the FrameworkInfo it came from. */
  setSpec(spec: FrameworkRegistration, info?: FrameworkInfo): void {
    this.spec = spec;
    this.capabilities = capsOf(spec);
    if (info) {
      const caps = new Set((info.capabilities ?? []).map((c) => c.type));
      this.resourceFormat = {
        multiRole: caps.has("MULTI_ROLE"),
        refinement: caps.has("RESERVATION_REFINEMENT"),
      };
    }
  }

  /** Runs calls of this framework one at a time, in arrival order. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  // ---------------------------------------------------------------- client and stream

  /** Listens to a (not yet started) client: its events become Mesos events. */
  bindClient(client: FrameworkClient): void {
    this.offListeners?.();
    this.client = client;
    this.offListeners = client.onAny((e) => this.onEvent(e));
    this.tasks.startRetries();
    this.offers.startRetries();
  }

  /**
   * A subscription starts: SUBSCRIBED (with the serving instance's MasterInfo), a HEARTBEAT at
   * once, then unacknowledged updates, then outstanding offers.
   */
  attach(conn: Connection, master: MasterInfo): void {
    const old = this.conn;
    this.conn = conn;
    if (old && old !== conn) {
      old.send(errorEvent("Framework failed over"));
      old.close();
    }
    conn.send(subscribedEvent(this.id, this.opts.heartbeatSeconds, master));
    conn.startHeartbeat(this.opts.heartbeatSeconds);
    this.tasks.resendAll();
    this.offers.subscribed();
  }

  /** The subscription's stream ended. Returns true if it was the current one. */
  detach(conn: Connection): boolean {
    if (this.conn !== conn) return false;
    this.conn = undefined;
    this.offers.clearBatch();
    return true;
  }

  /** Stops the client (releasing its Lease: the operator counts the framework disconnected). */
  async stopClient(opts: { teardown?: boolean } = {}): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.offListeners?.();
    this.offListeners = undefined;
    this.tasks.stopRetries();
    this.offers.stopRetries();
    if (c) {
      const stop = c.stop(opts.teardown ? { teardown: true } : { release: true });
      this.stopping.add(stop);
      void stop.then(
        () => this.stopping.delete(stop),
        () => this.stopping.delete(stop),
      );
    }
    // A stop begun by the stream's end must finish before the process may exit: its Lease release
    // is what lets another instance serve the framework at once instead of redirecting to a dead one.
    await Promise.all([...this.stopping]);
  }

  /** Forget everything (framework removed, or disconnected long enough). */
  dispose(): void {
    clearTimeout(this.evictTimer);
    this.offListeners?.();
    this.offers.dispose();
    this.tasks.dispose();
  }

  send(e: MesosEvent): void {
    this.conn?.send(e);
  }

  mustClient(): FrameworkClient {
    if (!this.client) throw new HttpError(403, "Framework is not subscribed");
    return this.client;
  }

  // ---------------------------------------------------------------- SDK events -> Mesos events

  private onEvent(e: SchedulerEvent): void {
    switch (e.type) {
      case "offer":
        this.offers.offered(e.offer);
        return;
      case "rescinded":
      case "expired":
        this.offers.gone(e.offer.name);
        if (e.reason === "AgentRemoved") this.agentFailed(e.offer.agent);
        return;
      case "update":
        this.tasks.onUpdate(e.task);
        return;
      case "answered":
        this.offers.answered(e.outcome);
        return;
      case "disconnected":
        if (/deleted|torn down/i.test(e.reason)) this.removedExternally();
        else if (/another instance/.test(e.reason)) {
          this.send(errorEvent("Framework failed over"));
          this.conn?.close();
        }
        return;
      case "warning":
        this.opts.log("warn", e.message, { framework: this.key });
        return;
      default:
        return;
    }
  }

  private removedExternally(): void {
    this.removed = true;
    this.send(errorEvent("Framework has been removed"));
    this.conn?.close();
  }

  agentFailed(agent: string | undefined): void {
    if (!agent || this.failedAgents.has(agent)) return;
    this.failedAgents.add(agent);
    this.send(failureEvent(agent));
  }

  // ---------------------------------------------------------------- SUPPRESS and REVIVE

  /** SUPPRESS / REVIVE: the roles the call names, or why it is dropped (logged; the call still gets 202). */
  rolesOf(r: {
    roles?: string[] | undefined;
    role?: string | undefined;
  }): { roles: string[] } | { dropped: string } {
    return namedRoles(r, this.spec.roles ?? ["*"]);
  }

  /**
   * SUPPRESS: no more offers for these roles (all when none). Outstanding offers stay the
   * framework's, as with Mesos's allocator: nothing is declined or rescinded.
   */
  async suppress(roles: string[]): Promise<void> {
    const client = this.mustClient();
    const all = this.spec.roles ?? ["*"];
    const which = new Set([...(this.spec.suppressedRoles ?? []), ...(roles.length ? roles : all)]);
    const next = { ...this.spec, suppressedRoles: all.filter((r) => which.has(r)) };
    if (next.suppressedRoles.length === (this.spec.suppressedRoles ?? []).length) return;
    await client.updateFramework(next);
    this.spec = next;
  }

  /**
   * REVIVE: offers again for these roles (all when none), the framework's refusal filters
   * cleared (the revive annotation). Written as the whole registration, as SUPPRESS is, so the
   * SDK's copy (what a re-registration writes) stays the same as the Framework's.
   */
  async revive(roles: string[]): Promise<void> {
    const client = this.mustClient();
    const revived = new Set(roles.length ? roles : (this.spec.roles ?? ["*"]));
    const next = {
      ...this.spec,
      suppressedRoles: (this.spec.suppressedRoles ?? []).filter((r) => !revived.has(r)),
    };
    await client.updateFramework(next, { [ANNOTATION_REVIVE]: new Date().toISOString() });
    this.spec = next;
  }
}

function capsOf(spec: FrameworkRegistration): Capabilities {
  return {
    partitionAware: spec.capabilities?.partitionAware ?? false,
    taskKillingState: spec.capabilities?.taskKillingState ?? false,
  };
}
