// Leader election semantics on the real API server, with short timings so it runs quickly:
// one leader at a time, release on stop hands over at once, a silent leader is replaced only
// after the lease expires, and a leader that cannot renew stops within the renew deadline.
import { CoordinationV1Api, RbacAuthorizationV1Api, type V1Lease } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaderElector } from "../../src/controller/leader-election.ts";
import {
  adminKubeConfig,
  createNamespace,
  deleteNamespace,
  mintUser,
  uniqueName,
  waitFor,
  waitUntil,
} from "./support.ts";

const LEASE_MS = 3000;
const RENEW_MS = 2000;
const RETRY_MS = 500;

const admin = adminKubeConfig();
let ns = "";
const electors: LeaderElector[] = [];

interface Probe {
  elector: LeaderElector;
  events: { at: number; what: string }[];
}

function candidate(identity: string, lease: string, kc = admin): Probe {
  const events: Probe["events"] = [];
  const elector = new LeaderElector(kc, {
    namespace: ns,
    name: lease,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_MS,
    retryPeriodMs: RETRY_MS,
    onStartedLeading: () => events.push({ at: Date.now(), what: "started" }),
    onStoppedLeading: (why) => events.push({ at: Date.now(), what: `stopped:${why}` }),
  });
  electors.push(elector);
  return { elector, events };
}

function readLease(lease: string): Promise<V1Lease> {
  return admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: lease, namespace: ns });
}

beforeAll(async () => {
  ns = await createNamespace(admin, "election");
});
afterAll(async () => {
  for (const e of electors) await e.stop(false).catch(() => {});
  await deleteNamespace(admin, ns);
});

describe("leader election (client-go semantics)", () => {
  it("elects one leader; a graceful stop releases the lease and the standby takes over at once", async () => {
    const a = candidate("a", "l1");
    a.elector.start();
    await waitFor("a leads", async () => a.elector.isLeader);
    const b = candidate("b", "l1");
    b.elector.start();
    await waitFor("b to see a's lease", async () => b.elector.leader === "a", 5000, 20);
    const first = await readLease("l1");
    // b keeps trying for longer than the lease it saw (its duration, from when b saw it, plus two
    // of b's jittered retries): a renews meanwhile, so b never leads.
    const durationMs = (first.spec?.leaseDurationSeconds ?? 0) * 1000;
    expect(durationMs).toBeGreaterThan(0);
    await waitUntil("a lease term past b's first look", Date.now() + durationMs + 2 * RETRY_MS * 1.2);
    expect(b.elector.isLeader).toBe(false);
    // The term a leads in is the Lease's transitions; a standby has none.
    expect([a.elector.term, b.elector.term]).toEqual([first.spec?.leaseTransitions ?? 0, undefined]);
    const later = await readLease("l1");
    expect(later.spec?.holderIdentity).toBe("a");
    expect(new Date(later.spec?.renewTime ?? 0).getTime()).toBeGreaterThan(
      new Date(first.spec?.renewTime ?? 0).getTime(),
    );
    const t0 = Date.now();
    await a.elector.stop(true);
    expect(a.events.map((e) => e.what)).toEqual(["started", "stopped:released"]);
    await waitFor("b leads", async () => b.elector.isLeader, 5000, 20);
    const handover = Date.now() - t0;
    process.stdout.write(`[election] handover after a graceful release: ${handover} ms\n`);
    expect(handover).toBeLessThan(RETRY_MS * 1.2 + 500);
    const lease = await admin
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: "l1", namespace: ns });
    expect(lease.spec?.holderIdentity).toBe("b");
    expect(lease.spec?.leaseTransitions).toBe(1);
    expect([a.elector.term, b.elector.term]).toEqual([undefined, 1]);
  });

  it("replaces a leader that went silent only after the lease expired", async () => {
    const a = candidate("a", "l2");
    a.elector.start();
    await waitFor("a leads", async () => a.elector.isLeader);
    const b = candidate("b", "l2");
    b.elector.start();
    await waitFor("b to see a's lease", async () => b.elector.leader === "a", 5000, 20);
    // A crash: a stops renewing without releasing.
    const t0 = Date.now();
    await a.elector.stop(false);
    await waitFor("b leads", async () => b.elector.isLeader, LEASE_MS * 3, 20);
    const failover = Date.now() - t0;
    process.stdout.write(
      `[election] failover after a silent leader (lease ${LEASE_MS} ms): ${failover} ms\n`,
    );
    // Never before the lease could have expired (minus one renew interval), and promptly after.
    expect(failover).toBeGreaterThanOrEqual(LEASE_MS - RETRY_MS * 1.2);
    expect(failover).toBeLessThan(LEASE_MS + 2 * RETRY_MS * 1.2 + 500);
  });

  it("a leader that cannot renew stops leading within the renew deadline, before anyone else leads", async () => {
    // A restricted identity that may use the lease only while its RoleBinding exists.
    const user = uniqueName("elector");
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: user },
        rules: [
          { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: user },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: user },
        subjects: [{ kind: "User", name: user, apiGroup: "rbac.authorization.k8s.io" }],
      },
    });
    const a = candidate("a", "l3", mintUser(user).kubeConfig);
    a.elector.start();
    await waitFor("a leads", async () => a.elector.isLeader);
    const b = candidate("b", "l3");
    b.elector.start();
    const cut = Date.now();
    await rbac.deleteNamespacedRoleBinding({ name: user, namespace: ns });
    await waitFor("a stops leading", async () => !a.elector.isLeader, RENEW_MS * 3, 10);
    const stoppedAfter = Date.now() - cut;
    const stopped = a.events.find((e) => e.what === "stopped:lost");
    expect(stopped).toBeDefined();
    await waitFor("b leads", async () => b.elector.isLeader, LEASE_MS * 3, 20);
    const bStarted = b.events.find((e) => e.what === "started");
    process.stdout.write(
      `[election] renew failing: leader stopped ${stoppedAfter} ms after losing access; standby led ${(bStarted?.at ?? 0) - cut} ms after\n`,
    );
    // Stops by the renew deadline (+ one retry of slack), and strictly before the standby starts.
    expect(stoppedAfter).toBeLessThanOrEqual(RENEW_MS + RETRY_MS * 1.2 + 300);
    expect(stopped?.at ?? Infinity).toBeLessThan(bStarted?.at ?? 0);
  });
});
