// Every KubeWriter call ends within its deadline, against a loopback server that accepts each
// connection and never answers (a hung API server, or a proxy in front of a dead one).
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResourceOffer } from "../crds/offer.ts";
import { isRequestTimeout } from "../kube/deadline.ts";
import { type LoopbackServer, loopbackServer } from "../kube/loopback-server.ts";
import { KubeWriter } from "./kube-writer.ts";

let server: LoopbackServer | undefined;
let kc: KubeConfig;
let received = 0;

beforeAll(async () => {
  server = await loopbackServer(() => {
    received++; // …and never a response
  });
  kc = server.kc;
});
afterAll(async () => server?.close());

const OFFER = {
  apiVersion: "kubeoffers.io/v1alpha1",
  kind: "ResourceOffer",
  metadata: { name: "o", namespace: "ns" },
  spec: { framework: "f", role: "*", agent: "n1", resources: { cpu: "1" } },
} as unknown as ResourceOffer;

describe("KubeWriter against an API server that never answers", () => {
  const TIMEOUT = 150;
  const calls: [string, (w: KubeWriter) => Promise<unknown>][] = [
    ["createOffer", (w) => w.createOffer(OFFER)],
    ["getOffer", (w) => w.getOffer("ns", "o")],
    ["patchOfferStatus", (w) => w.patchOfferStatus("ns", "o", { phase: "Offered" }, "1")],
    ["finishOffer", (w) => w.finishOffer("ns", "o", { phase: "Rescinded", reason: "AgentLost" })],
    ["deleteOffer", (w) => w.deleteOffer("ns", "o")],
    ["createPod", (w) => w.createPod({ metadata: { name: "p", namespace: "ns" } })],
    ["readPod", (w) => w.readPod("ns", "p")],
    ["annotatePod", (w) => w.annotatePod("ns", "p", "k", "v")],
    ["deletePod", (w) => w.deletePod("ns", "p")],
    ["updateDynamicReservations", (w) => w.updateDynamicReservations("n1", (cur) => cur)],
    ["putRoleStatus", (w) => w.putRoleStatus("r", {} as never)],
    ["putFrameworkStatus", (w) => w.putFrameworkStatus("ns", "f", {} as never)],
    ["setFrameworkFinalizers", (w) => w.setFrameworkFinalizers("ns", "f", [], "1")],
  ];
  for (const [name, call] of calls) {
    it(`${name} fails with a timeout after its deadline, counted as code 0`, async () => {
      const seen: string[] = [];
      const w = new KubeWriter(
        kc,
        "test",
        (verb, resource, code) => seen.push(`${verb} ${resource} ${code}`),
        TIMEOUT,
      );
      const before = received;
      const t0 = performance.now();
      const err = await call(w).then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = performance.now() - t0;
      expect(received).toBeGreaterThan(before); // the request did reach the server
      expect(isRequestTimeout(err), String(err)).toBe(true);
      expect(took).toBeGreaterThanOrEqual(TIMEOUT - 10);
      expect(took).toBeLessThan(TIMEOUT + 1500);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(/ 0$/);
    });
  }

  it("an Event, best effort, gives up after the deadline without throwing", async () => {
    const w = new KubeWriter(kc, "test", () => {}, TIMEOUT);
    const t0 = performance.now();
    await expect(
      w.event({ kind: "Framework", namespace: "ns", name: "f" }, "Normal", "Test", "x"),
    ).resolves.toBe(undefined);
    expect(performance.now() - t0).toBeLessThan(TIMEOUT + 1500);
  });
});
