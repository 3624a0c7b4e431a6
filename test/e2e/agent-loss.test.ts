// Agent loss under a control-plane problem: when most agents stop renewing at once (their
// nodes still Ready), the operator holds back declaring them lost — their offers stand, their
// tasks stay TASK_RUNNING, an AgentLossHeld Event says why — and resumes once renewals come back.
// One agent going silent alone is still declared lost at once (AgentLost).
import { CoordinationV1Api, EventsV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_AGENT_LOSS } from "../../src/controller/agent-loss.ts";
import { agentLeaseName, NODE_STATE_ANNOTATION, REPORTING_CONTROLLER } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { accept, FrameworkSide, task } from "./offers.ts";
import { LEASE_NAMESPACE, Pool } from "./pool.ts";
import { holdsUntil, waitFor } from "./support.ts";

// Three renewals (pool.ts renews every 2 s) per lease: a busy test machine must not lose agents.
const LEASE_SECONDS = 6;
let pool: Pool;
let fw: FrameworkSide;
const started = Date.now();

beforeAll(async () => {
  pool = await Pool.start("loss", {
    nodes: 4,
    agentLeaseSeconds: LEASE_SECONDS,
    operator: {
      agentLoss: { ...DEFAULT_AGENT_LOSS, massFraction: 0.5, massMinAgents: 3, massWindowMs: 20_000 },
    },
  });
  fw = new FrameworkSide(pool.kc, pool.namespace);
});
afterAll(async () => pool?.stop());

async function events(reason: string) {
  const list = await pool.kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: LEASE_NAMESPACE });
  return list.items.filter(
    (e) =>
      e.reason === reason &&
      e.reportingController === REPORTING_CONTROLLER &&
      e.reportingInstance === pool.operator?.config.instance &&
      new Date(e.eventTime ?? 0).getTime() >= started,
  );
}

describe("agent loss", () => {
  it("many agents lapsing at once keep their offers and tasks until renewals resume; one alone is lost", async () => {
    await fw.createFramework("h", pool.labels);
    const nodes = pool.nodes.map((n) => n.name);
    const first = await waitFor("an offer on every agent", async () => {
      const os = await fw.offers("h", "Offered");
      return nodes.every((n) => os.some((o) => o.spec.agent === n)) ? os : undefined;
    });
    for (const o of first)
      await fw.answer(o.metadata.name ?? "", accept([task(o.spec.agent.slice(-2), { cpu: "1" })], 0));
    await waitFor("4 tasks running", async () => (await fw.framework("h")).status?.tasks?.TASK_RUNNING === 4);
    const outstanding = await waitFor("the rest offered on every agent", async () => {
      const os = await fw.offers("h", "Offered");
      return nodes.every((n) => os.some((o) => o.spec.agent === n)) ? os : undefined;
    });
    const offerOn = (n: string) => outstanding.find((o) => o.spec.agent === n) as ResourceOffer;

    // Three of four agents stop renewing at once; their nodes stay Ready.
    const silent = nodes.slice(0, 3);
    await Promise.all(silent.map((n) => pool.stopAgent(n)));
    const held = await waitFor(
      "an AgentLossHeld Event",
      async () => (await events("AgentLossHeld"))[0],
      30_000,
    );
    expect(held.note).toMatch(/control-plane problem/);
    // Held for well past the lease — two more lease durations after the silent agents' Leases
    // lapsed, by those Leases' own figures — while the operator keeps deciding: no offer
    // rescinded, no task unreachable.
    const coord = pool.kc.makeApiClient(CoordinationV1Api);
    const lapses = await Promise.all(
      silent.map(async (n) => {
        const l = await coord.readNamespacedLease({ name: agentLeaseName(n), namespace: LEASE_NAMESPACE });
        if (!l.spec?.renewTime || !l.spec.leaseDurationSeconds) throw new Error(`${n}'s Lease has no term`);
        const durationMs = l.spec.leaseDurationSeconds * 1000;
        return new Date(l.spec.renewTime).getTime() + durationMs + 2 * durationMs;
      }),
    );
    await holdsUntil(
      async () => {
        for (const n of silent)
          expect((await fw.offer(offerOn(n).metadata.name ?? ""))?.status?.phase, n).toBe("Offered");
        const pods = await fw.pods("h");
        expect(pods.map((p) => p.metadata?.annotations?.[NODE_STATE_ANNOTATION] ?? "none")).toEqual([
          "none",
          "none",
          "none",
          "none",
        ]);
        expect((await fw.framework("h")).status?.tasks?.TASK_RUNNING).toBe(4);
      },
      Math.max(...lapses),
      { cycles: { source: pool.operator, n: 3 } },
    );

    // Renewals resume: the hold ends and nothing was lost.
    for (const n of silent) await pool.startAgent(n, { agentLeaseSeconds: LEASE_SECONDS });
    await waitFor("an AgentLossResumed Event", async () => (await events("AgentLossResumed"))[0], 30_000);
    for (const n of silent)
      expect((await fw.offer(offerOn(n).metadata.name ?? ""))?.status?.phase, n).toBe("Offered");
    expect((await fw.pods("h")).filter((p) => p.metadata?.deletionTimestamp)).toEqual([]);

    // One agent alone going silent is a lost node: declared at once.
    const lone = nodes[3] ?? "";
    await pool.stopAgent(lone);
    const rescinded = await waitFor("the lone agent's offer rescinded", async () => {
      const o = await fw.offer(offerOn(lone).metadata.name ?? "");
      return o?.status?.phase === "Rescinded" ? o : undefined;
    });
    expect(rescinded.status?.reason).toBe("AgentLost");
    await waitFor(
      "its task unreachable",
      async () => (await fw.framework("h")).status?.tasks?.TASK_UNREACHABLE === 1,
      30_000,
    );
  });
});
