// A framework's scheduler against an API server that accepts every request and never answers:
// each call ends at its deadline, is retried like any transient failure, and start() gives up
// once retryForMs is spent, with an error naming what failed, instead of hanging the scheduler.
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackServer, loopbackServer } from "../kube/loopback-server.ts";
import { FrameworkClient } from "./client.ts";
import { ApiError } from "./errors.ts";

let server: LoopbackServer | undefined;
let kc: KubeConfig;
let received = 0;

beforeAll(async () => {
  server = await loopbackServer(() => {
    received++;
  });
  kc = server.kc;
});
afterAll(async () => server?.close());

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
