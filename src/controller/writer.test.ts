// Every KubeWriter call ends within its deadline, against a loopback server that accepts each
// connection and never answers (a hung API server, or a proxy in front of a dead one).
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_OFFER_TASKS, type ResourceOffer, ResourceOfferStatusSchema } from "../crds/offer.ts";
import { isRequestTimeout } from "../kube/deadline.ts";
import { type LoopbackServer, loopbackServer } from "../kube/loopback-server.ts";
import { boundOfferStatus, KubeWriter, TASK_MESSAGES_BUDGET } from "./writer.ts";

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

describe("boundOfferStatus: a status that fits its schema and etcd", () => {
  /** etcd's request limit: an object larger than this is never stored. */
  const ETCD_LIMIT = 1.5 * 1024 * 1024;
  const task = (i: number, message: string) => ({
    id: `t${String(i).padStart(61, "0")}`, // 63 characters, the longest task id
    pod: `${"f".repeat(63)}-t${String(i).padStart(61, "0")}`,
    state: "TASK_ERROR" as const,
    reason: "R".repeat(200),
    message,
  });
  const cases: [string, number, string][] = [
    ["the most tasks with the longest messages", MAX_OFFER_TASKS, "m".repeat(100_000)],
    ["the most tasks with multi-byte messages", MAX_OFFER_TASKS, "€".repeat(5000)],
    ["one task with a too-long message", 1, "x".repeat(5000)],
    ["a hundred tasks", 100, "y".repeat(4096)],
  ];
  for (const [name, n, message] of cases) {
    it(name, () => {
      const status = boundOfferStatus({
        phase: "Accepted",
        reason: "Launched",
        message: "z".repeat(100_000),
        tasks: Array.from({ length: n }, (_, i) => task(i, message)),
        conditions: [
          {
            type: "Finished",
            status: "True",
            reason: "Launched",
            message: "z".repeat(100_000),
            lastTransitionTime: new Date().toISOString(),
          },
        ],
      });
      // The API server would accept it: every field within the schema's limits…
      expect(() => ResourceOfferStatusSchema.parse(status)).not.toThrow();
      // …and it leaves most of etcd's limit to the framework's answer (spec).
      const bytes = Buffer.byteLength(JSON.stringify(status));
      expect(bytes).toBeLessThan(ETCD_LIMIT / 2);
      const share = Math.floor(TASK_MESSAGES_BUDGET / n);
      const fits = message.length <= 4096 && Buffer.byteLength(message) <= share;
      for (const t of status.tasks ?? []) {
        expect(t.message?.length).toBeLessThanOrEqual(4096);
        expect(Buffer.byteLength(t.message ?? "")).toBeLessThanOrEqual(share);
        expect(t.message?.endsWith("…")).toBe(!fits);
      }
    });
  }

  it("keeps what already fits as it is", () => {
    const status = {
      phase: "Invalid" as const,
      reason: "InsufficientResources",
      message: "task t1 asks cpu 12 > offered 8",
      tasks: [{ id: "t1", pod: "f-t1", state: "TASK_ERROR" as const, reason: "PodRejected", message: "no" }],
    };
    expect(boundOfferStatus(status)).toEqual(status);
  });
});
