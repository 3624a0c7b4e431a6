// The agent against an API server that accepts every request and never answers: its start()
// does not hang (the Lease renewal and the lists end at their deadline and are retried later).
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackServer, loopbackServer } from "../kube/loopback-server.ts";
import { NodeAgent } from "./agent.ts";

let server: LoopbackServer | undefined;
let kc: KubeConfig;
const requests: string[] = [];

beforeAll(async () => {
  server = await loopbackServer((req) => {
    requests.push(`${req.method} ${req.url?.split("?")[0]}`);
  });
  kc = server.kc;
});
afterAll(async () => server?.close());

describe("NodeAgent against a hung API server", () => {
  it("starts within its deadlines, says the renewal failed, and keeps trying", async () => {
    const logs: string[] = [];
    const agent = new NodeAgent(kc, { nodeName: "n1", apiTimeoutMs: 150, log: (m) => logs.push(m) });
    const t0 = performance.now();
    await agent.start();
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(logs.some((l) => /lease renewal failed: .*no answer within 150 ms/.test(l))).toBe(true);
    // The node and Pod lists failed at their deadline too, and are restarted with backoff.
    const lists = () => requests.filter((r) => r === "GET /api/v1/nodes").length;
    const deadline = Date.now() + 5000;
    while (lists() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(lists()).toBeGreaterThanOrEqual(2);
    await agent.stop();
  });
});
