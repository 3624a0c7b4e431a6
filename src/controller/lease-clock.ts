// Lease liveness on the observer's own clock, as client-go's leader election judges it: a Lease
// is live for leaseDurationSeconds after the moment THIS process first saw its current record,
// never after the writer's renewTime. A writer whose clock runs minutes ahead or behind is
// therefore judged exactly like one in step, and a record the observer saw late (a slow watch)
// gets its full duration from when it arrived. Leader election, agent Leases and framework
// Leases all go through this one implementation.
import { type V1Lease, V1MicroTime } from "@kubernetes/client-node";

/** The fields whose change is a renewal (client-go's LeaderElectionRecord). */
export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

export function recordOf(lease: V1Lease): LeaseRecord {
  const s = lease.spec ?? {};
  const t = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v ?? ""));
  return {
    holderIdentity: s.holderIdentity ?? "",
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: t(s.acquireTime),
    renewTime: t(s.renewTime),
    leaseTransitions: s.leaseTransitions ?? 0,
  };
}

export function sameRecord(a: LeaseRecord | undefined, b: LeaseRecord): boolean {
  return (
    a !== undefined &&
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/** Remembers, per Lease, its last record and the local time that record was first seen. */
export class LeaseClock {
  private readonly seen = new Map<
    string,
    { record: LeaseRecord; at: number; source?: V1Lease; judged?: V1Lease }
  >();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Notes `record` under `key`; true when it differs from the last one (a renewal or a change of holder). */
  observe(key: string, record: LeaseRecord): boolean {
    const prev = this.seen.get(key);
    if (prev && sameRecord(prev.record, record)) return false;
    this.seen.set(key, { record, at: this.now() });
    return true;
  }

  /** Local time at which the current record of `key` was first seen. */
  observedAt(key: string): number | undefined {
    return this.seen.get(key)?.at;
  }

  forget(key: string): void {
    this.seen.delete(key);
  }

  /**
   * The Lease as this process judges it: renewTime replaced by the local time its record was
   * first seen (observed now if it never was), so every reader of renewTime + duration
   * (views.ts's leaseExpired) measures liveness on this clock.
   */
  judge(key: string, lease: V1Lease | undefined): V1Lease | undefined {
    if (!lease?.spec?.renewTime) return lease;
    // The cache hands out the same object until the Lease changes, and every cycle judges every
    // agent's: the same object, the same record, the same judgement (shared: readers only read).
    const prev = this.seen.get(key);
    if (prev?.source === lease && prev.judged) return prev.judged;
    this.observe(key, recordOf(lease));
    const entry = this.seen.get(key);
    const at = entry?.at ?? this.now();
    const judged = { ...lease, spec: { ...lease.spec, renewTime: new V1MicroTime(at) } };
    if (entry) Object.assign(entry, { source: lease, judged });
    return judged;
  }
}
