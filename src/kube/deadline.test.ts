// Deadlines against a loopback HTTP server that misbehaves the ways a half-dead API server does:
// it accepts and never answers, or sends the headers and never the body.
import type { IncomingMessage, ServerResponse } from "node:http";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { isRequestTimeout, makeApiClient, RequestTimeoutError, withDeadline } from "./deadline.ts";
import { type LoopbackServer, loopbackServer } from "./loopback-server.ts";

const servers: LoopbackServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** A server whose handler decides how (and whether) to answer; resolves its KubeConfig. */
async function loopbackKubeConfig(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<KubeConfig> {
  const server = await loopbackServer(handler);
  servers.push(server);
  return server.kc;
}

const POD = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "ns" } };

describe("API clients with deadlines", () => {
  it("a request the server accepts and never answers fails after its deadline, naming it", async () => {
    const kc = await loopbackKubeConfig(() => {});
    const core = makeApiClient(kc, CoreV1Api, 200);
    const t0 = performance.now();
    const err = await core.readNamespacedPod({ namespace: "ns", name: "p" }).catch((e: unknown) => e);
    const took = performance.now() - t0;
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(String((err as Error).message)).toMatch(
      /GET \/api\/v1\/namespaces\/ns\/pods\/p: no answer within 200 ms/,
    );
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(2000);
  });

  it("a response whose body never ends fails after its deadline too", async () => {
    const kc = await loopbackKubeConfig((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"apiVersion":"v1",'); // …and nothing more
    });
    const core = makeApiClient(kc, CoreV1Api, 200);
    const err = await core.readNamespacedPod({ namespace: "ns", name: "p" }).catch((e: unknown) => e);
    expect(isRequestTimeout(err)).toBe(true);
  });

  it("a prompt answer is returned as it is, options (a patch's content type) included", async () => {
    const seen: string[] = [];
    const kc = await loopbackKubeConfig((req, res) => {
      seen.push(`${req.method} ${req.headers["content-type"] ?? ""}`);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(POD));
    });
    const core = makeApiClient(kc, CoreV1Api, 1000);
    const pod = await core.readNamespacedPod({ namespace: "ns", name: "p" });
    expect(pod.metadata?.name).toBe("p");
    const { mergePatch } = await import("./patch.ts");
    await core.patchNamespacedPod({ namespace: "ns", name: "p", body: { metadata: {} } }, mergePatch);
    expect(seen).toEqual(["GET ", "PATCH application/merge-patch+json"]);
  });

  it("an error status is still the API's error, not a timeout", async () => {
    const kc = await loopbackKubeConfig((_req, res) => {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ kind: "Status", code: 404, reason: "NotFound", message: 'pods "p" not found' }),
      );
    });
    const err = await makeApiClient(kc, CoreV1Api, 1000)
      .readNamespacedPod({ namespace: "ns", name: "p" })
      .catch((e: unknown) => e);
    expect(isRequestTimeout(err)).toBe(false);
    expect((err as { code?: number }).code).toBe(404);
  });

  it("withDeadline rejects even when the work ignores its signal, and aborts the signal", async () => {
    let signal: AbortSignal | undefined;
    const err = await withDeadline("hung work", 50, (s) => {
      signal = s;
      return new Promise(() => {});
    }).catch((e: unknown) => e);
    expect(isRequestTimeout(err)).toBe(true);
    expect(signal?.aborted).toBe(true);
    await expect(withDeadline("quick work", 1000, async () => 42)).resolves.toBe(42);
    // A synchronous throw is that error, and leaves no timer behind to reject later.
    const boom = withDeadline("throwing work", 30, () => {
      throw new Error("boom");
    });
    await expect(boom).rejects.toThrow("boom");
    await new Promise((r) => setTimeout(r, 60));
  });
});
