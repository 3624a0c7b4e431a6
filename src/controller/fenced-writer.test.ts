// The write fence: a replica whose leadership lapsed on its own clock sends no write, whatever
// it had begun; reads still pass.
import { describe, expect, it } from "vitest";
import { FencedWriter, isNotLeading } from "./fenced-writer.ts";
import { agentOnNode, outstandingOffer } from "./fixtures.ts";
import { MemoryCluster } from "./memory-cluster.ts";
import type { ClusterWriter } from "./writer.ts";

const NS = "team";

function seeded() {
  const cluster = new MemoryCluster();
  const { agent, node, lease } = agentOnNode("n1", { cpu: "4", memory: "8Gi" }, Date.now());
  const offer = outstandingOffer({
    namespace: NS,
    name: "o1",
    framework: "fw",
    agent: "n1",
    resources: { cpu: "1" },
    createdAt: Date.now(),
  });
  cluster.seed({ agents: [agent], nodes: [node], leases: [lease], offers: [offer] });
  return { cluster, offer };
}

const writes: [string, (w: ClusterWriter) => Promise<unknown>][] = [
  [
    "createOffer",
    (w) =>
      w.createOffer(
        outstandingOffer({
          namespace: NS,
          name: "o2",
          framework: "fw",
          agent: "n1",
          resources: { cpu: "1" },
          createdAt: Date.now(),
        }),
      ),
  ],
  ["finishOffer", (w) => w.finishOffer(NS, "o1", { phase: "Declined", reason: "Declined" })],
  ["patchOfferStatus", (w) => w.patchOfferStatus(NS, "o1", { phase: "Offered" })],
  ["deleteOffer", (w) => w.deleteOffer(NS, "o1")],
  [
    "createPod",
    (w) => w.createPod({ metadata: { name: "p", namespace: NS }, spec: { nodeName: "n1", containers: [] } }),
  ],
  ["annotatePod", (w) => w.annotatePod(NS, "p", "k", "v")],
  ["deletePod", (w) => w.deletePod(NS, "p")],
  [
    "updateDynamicReservations",
    (w) =>
      w.updateDynamicReservations("n1", (cur) => [
        ...cur,
        { id: "r1", framework: `${NS}/fw`, resources: { cpu: "1" } } as never,
      ]),
  ],
  ["putRoleStatus", (w) => w.putRoleStatus("r", {} as never)],
  ["putFrameworkStatus", (w) => w.putFrameworkStatus(NS, "fw", {} as never)],
  ["setFrameworkFinalizers", (w) => w.setFrameworkFinalizers(NS, "fw", [], "1")],
];

describe("the write fence", () => {
  it.each(writes)(
    "%s is refused once leadership lapsed, and nothing reaches the cluster",
    async (_name, call) => {
      const { cluster } = seeded();
      const err = await call(new FencedWriter(cluster, () => false)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isNotLeading(err), String(err)).toBe(true);
      expect(String(err)).toMatch(/not sent: this replica's leadership was not renewed/);
      expect(cluster.writes).toEqual([]);
    },
  );

  it("a leader's writes pass through", async () => {
    const { cluster } = seeded();
    const w = new FencedWriter(cluster, () => true);
    await w.finishOffer(NS, "o1", { phase: "Declined", reason: "Declined" });
    expect(cluster.lines()).toEqual([`patch ResourceOffer ${NS}/o1`]);
  });

  it("reads pass whether or not this replica leads; Events are dropped, not thrown", async () => {
    const { cluster } = seeded();
    const w = new FencedWriter(cluster, () => false);
    expect((await w.getOffer(NS, "o1"))?.metadata.name).toBe("o1");
    expect(await w.readPod(NS, "absent")).toBeUndefined();
    await expect(
      w.event({ kind: "ResourceOffer", namespace: NS, name: "o1" }, "Normal", "X", "y"),
    ).resolves.toBe(undefined);
    expect(cluster.writes).toEqual([]);
  });

  it("a reservation update whose leadership lapses between its read and its write sends no write", async () => {
    const { cluster } = seeded();
    let checks = 0;
    const w = new FencedWriter(cluster, () => ++checks === 1); // held at the call, lapsed at the write
    const err = await w
      .updateDynamicReservations("n1", (cur) => [
        ...cur,
        { id: "r1", framework: `${NS}/fw`, resources: { cpu: "1" } } as never,
      ])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isNotLeading(err), String(err)).toBe(true);
    expect(checks).toBe(2);
    expect(cluster.writes).toEqual([]);
    expect(cluster.stores.agents.get("n1")?.spec.dynamicReservations ?? []).toEqual([]);
  });
});
