// The scheduler's liveness Lease (Framework spec.liveness.leaseName), used the way client-go
// uses leader election: one instance holds it and renews it; the operator treats the framework
// as connected while it is renewed; a standby instance takes over once it lapses. So a
// Deployment of a framework may run several replicas and only one schedules.
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import { DEFAULT_API_TIMEOUT_MS } from "../crds/contract.ts";
import { makeApiClient } from "../kube/deadline.ts";
import { isConflict, isNotFound } from "../kube/errors.ts";
import { mergePatch, microTime } from "../kube/patch.ts";
import { ApiError, isTransient } from "./errors.ts";

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  durationSeconds: number;
}

export type LeaseState =
  | { held: true }
  | { held: false; holder: string; expiresInMs: number }
  | { held: false; error: unknown };

function timeOf(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === "string") return Date.parse(v);
  return Number.NaN;
}

export class SchedulerLease {
  private readonly coord: CoordinationV1Api;
  readonly opts: LeaseOptions;
  /** When this instance last renewed successfully (epoch ms), 0 if never. */
  lastRenew = 0;
  /** The Lease as this instance last wrote it, while it holds it: a renewal need not read it first. */
  private written: V1Lease | undefined;

  constructor(kc: KubeConfig, opts: LeaseOptions) {
    // A renewal that hangs must end (and count as failed) well within the lease's duration.
    this.coord = makeApiClient(
      kc,
      CoordinationV1Api,
      Math.min(DEFAULT_API_TIMEOUT_MS, opts.durationSeconds * 500),
    );
    this.opts = opts;
  }

  /** True while a renewal happened within the lease duration. */
  get fresh(): boolean {
    return Date.now() - this.lastRenew < this.opts.durationSeconds * 1000;
  }

  /** One acquire-or-renew attempt. Never throws for transient errors; reports them instead. */
  async tryAcquireOrRenew(): Promise<LeaseState> {
    // Held, and nothing else wrote it since: one write on the version written, no read. Under a
    // loaded API server a renewal is then one request's latency, not two.
    if (this.written && this.fresh) {
      const renewed = await this.renewWritten(this.written);
      if (renewed) return renewed;
    }
    return this.readAndWrite();
  }

  /** A renewal on the version last written; undefined when that version is not current any more. */
  private async renewWritten(written: V1Lease): Promise<LeaseState | undefined> {
    const { namespace, name, durationSeconds } = this.opts;
    const now = Date.now();
    try {
      this.written = await this.coord.patchNamespacedLease(
        {
          name,
          namespace,
          body: {
            metadata: { resourceVersion: written.metadata?.resourceVersion },
            spec: { leaseDurationSeconds: durationSeconds, renewTime: microTime(new Date(now)) },
          },
        },
        mergePatch,
      );
      this.lastRenew = now;
      return { held: true };
    } catch (err) {
      this.written = undefined;
      // Changed since (a standby took it, or it was deleted): read who holds it now.
      if (isConflict(err) || isNotFound(err)) return undefined;
      return this.failed(err, `renew Lease ${namespace}/${name}`);
    }
  }

  private async readAndWrite(): Promise<LeaseState> {
    const { namespace, name, identity, durationSeconds } = this.opts;
    let lease: V1Lease | undefined;
    try {
      lease = await this.coord.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) return this.failed(err, `read Lease ${namespace}/${name}`);
    }
    const now = Date.now();
    if (!lease) {
      try {
        this.written = await this.coord.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace, labels: { "app.kubernetes.io/managed-by": "kube-offers-sdk" } },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: new V1MicroTime(now),
              renewTime: new V1MicroTime(now),
              leaseTransitions: 0,
            },
          },
        });
        this.lastRenew = now;
        return { held: true };
      } catch (err) {
        if (isConflict(err)) return { held: false, holder: "(another instance, just now)", expiresInMs: 0 };
        return this.failed(err, `create Lease ${namespace}/${name}`);
      }
    }
    const holder = lease.spec?.holderIdentity ?? "";
    const until =
      timeOf(lease.spec?.renewTime) + (lease.spec?.leaseDurationSeconds ?? durationSeconds) * 1000;
    const mine = holder === identity;
    if (!mine && holder && until > now) return { held: false, holder, expiresInMs: until - now };
    const spec: Record<string, unknown> = {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(new Date(now)),
    };
    if (!mine) {
      spec.acquireTime = microTime(new Date(now));
      spec.leaseTransitions = (lease.spec?.leaseTransitions ?? 0) + 1;
    }
    try {
      this.written = await this.coord.patchNamespacedLease(
        { name, namespace, body: { metadata: { resourceVersion: lease.metadata?.resourceVersion }, spec } },
        mergePatch,
      );
      this.lastRenew = now;
      return { held: true };
    } catch (err) {
      // Our own Lease changed under this write: another write of ours that overlapped, or a
      // standby taking over. Not a loss yet: the next attempt reads who holds it now.
      if (isConflict(err) && mine) return { held: false, error: err };
      if (isConflict(err)) return { held: false, holder: "(changed concurrently)", expiresInMs: 0 };
      return this.failed(err, `renew Lease ${namespace}/${name}`);
    }
  }

  private failed(err: unknown, action: string): LeaseState {
    if (isTransient(err)) return { held: false, error: err };
    return { held: false, error: new ApiError(action, err) };
  }

  /** Gives the lease up so a standby (or a restarted instance) takes over at once. */
  async release(): Promise<void> {
    const { namespace, name, identity } = this.opts;
    try {
      const lease = await this.coord.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      await this.coord.patchNamespacedLease(
        {
          name,
          namespace,
          body: {
            metadata: { resourceVersion: lease.metadata?.resourceVersion },
            spec: { holderIdentity: null, renewTime: microTime(new Date(Date.now() - 1000)) },
          },
        },
        mergePatch,
      );
    } catch {
      // Best effort: the lease lapses on its own.
    }
    this.lastRenew = 0;
    this.written = undefined;
  }

  async delete(): Promise<void> {
    await this.coord
      .deleteNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace })
      .catch(() => {});
    this.lastRenew = 0;
    this.written = undefined;
  }
}
