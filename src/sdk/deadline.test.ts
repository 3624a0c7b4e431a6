// A framework's scheduler against an API server that accepts every request and never answers:
// each call ends at its deadline, is retried like any transient failure, and start() gives up
// once retryForMs is spent, with an error naming what failed, instead of hanging the scheduler.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameworkClient } from "./client.ts";
import { ApiError } from "./errors.ts";

let server: Server;
let kc: KubeConfig;
let received = 0;

beforeAll(async () => {
  server = createServer(() => {
    received++;
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("FrameworkClient against a hung API server", () => {
  it("start() fails within retryForMs plus one deadline, naming the call", async () => {
    const client = new FrameworkClient({
      kubeConfig: kc,
      namespace: "ns",
      name: "hung",
      liveness: false,
      retryForMs: 600,
      apiTimeoutMs: 150,
    });
    const t0 = performance.now();
    const err = await client.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = performance.now() - t0;
    expect(err).toBeInstanceOf(ApiError);
    expect(String((err as Error).message)).toMatch(/no answer within 150 ms/);
    expect(received).toBeGreaterThanOrEqual(2); // retried, not given up at the first timeout
    expect(took).toBeLessThan(600 + 150 + 2000);
    await client.stop({ release: false });
  });
});
