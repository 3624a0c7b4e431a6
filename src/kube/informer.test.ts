// The supervised informer against a loopback server that hangs the ways a half-dead API server
// does: a list that is accepted and never answered, a watch that connects and never sends a byte.
import type { IncomingMessage, ServerResponse } from "node:http";
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { dropManagedFields, SupervisedInformer } from "./informer.ts";
import { type LoopbackServer, loopbackServer } from "./loopback-server.ts";

const servers: LoopbackServer[] = [];
const informers: SupervisedInformer<V1ConfigMap>[] = [];
afterEach(async () => {
  for (const i of informers.splice(0)) i.stop();
  for (const s of servers.splice(0)) await s.close();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<KubeConfig> {
  const server = await loopbackServer(handler);
  servers.push(server);
  return server.kc;
}

const cm = (name: string, rv: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "ns", resourceVersion: rv },
});
const list = (rv: string) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMapList",
    metadata: { resourceVersion: rv },
    items: [cm("a", rv)],
  });

async function until<T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function informer(kc: KubeConfig, opts: ConstructorParameters<typeof SupervisedInformer>[4]) {
  const core = kc.makeApiClient(CoreV1Api);
  const inf = new SupervisedInformer<V1ConfigMap>(
    "configmaps",
    kc,
    "/api/v1/namespaces/ns/configmaps",
    () => core.listNamespacedConfigMap({ namespace: "ns" }),
    opts,
  );
  informers.push(inf);
  return inf;
}

describe("SupervisedInformer under a hanging API server", () => {
  it("a list that is never answered fails after its deadline and is retried with backoff", async () => {
    const requests: string[] = [];
    const kc = await serve((req, res) => {
      const watch = req.url?.includes("watch=true");
      requests.push(watch ? "watch" : "list");
      if (watch) return void res.writeHead(200, { "content-type": "application/json" }).flushHeaders();
      if (requests.filter((r) => r === "list").length === 1) return; // the first list hangs
      res.writeHead(200, { "content-type": "application/json" }).end(list("7"));
    });
    const errors: string[] = [];
    const inf = informer(kc, {
      listTimeoutMs: 200,
      onError: (_n, err, ms) => errors.push(`${String(err)} ${ms}`),
    });
    const t0 = Date.now();
    await inf.start();
    await until("the informer to sync after the retried list", () => inf.synced);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(errors[0]).toMatch(/list configmaps: no answer within 200 ms/);
    expect(requests.filter((r) => r === "list")).toHaveLength(2);
    expect(inf.get("a", "ns")?.metadata?.resourceVersion).toBe("7");
  });

  it("a watch that connects and never sends a byte is reconnected, and events flow again", async () => {
    const watches: ServerResponse[] = [];
    const kc = await serve((req, res) => {
      if (!req.url?.includes("watch=true")) {
        res.writeHead(200, { "content-type": "application/json" }).end(list("7"));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).flushHeaders();
      watches.push(res); // silent: a half-open connection
    });
    const inf = informer(kc, { watchIdleMs: 300 });
    const added: string[] = [];
    inf.on("add", (o: V1ConfigMap) => added.push(o.metadata?.name ?? ""));
    await inf.start();
    expect(inf.synced).toBe(true);
    // The silent watch is given up and a new one made, from the last resourceVersion.
    await until("a second watch", () => watches.length >= 2, 5000);
    watches.at(-1)?.write(`${JSON.stringify({ type: "ADDED", object: cm("b", "8") })}\n`);
    await until("the event on the new watch", () => added.includes("b"));
    expect(inf.synced).toBe(true);
  });

  it("trims what it caches before any listener sees it: listed objects and watched ones", async () => {
    let watch: ServerResponse | undefined;
    const managed = [{ manager: "kubectl", operation: "Apply", fieldsV1: { "f:data": {} } }];
    const kc = await serve((req, res) => {
      if (!req.url?.includes("watch=true")) {
        const listed = { ...cm("a", "7"), metadata: { ...cm("a", "7").metadata, managedFields: managed } };
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            apiVersion: "v1",
            kind: "ConfigMapList",
            metadata: { resourceVersion: "7" },
            items: [listed],
          }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).flushHeaders();
      watch = res;
    });
    const inf = informer(kc, { trim: dropManagedFields });
    const seen: unknown[] = [];
    inf.on("add", (o: V1ConfigMap) => seen.push(o.metadata?.managedFields));
    await inf.start();
    await until("the watch", () => watch);
    const b = { ...cm("b", "8"), metadata: { ...cm("b", "8").metadata, managedFields: managed } };
    watch?.write(`${JSON.stringify({ type: "ADDED", object: b })}\n`);
    await until("the watched object", () => inf.get("b", "ns"));
    expect(seen).toEqual([undefined, undefined]);
    expect(inf.get("a", "ns")?.metadata?.managedFields).toBeUndefined();
    expect(inf.get("b", "ns")?.metadata?.managedFields).toBeUndefined();
    expect(inf.get("b", "ns")?.metadata?.resourceVersion).toBe("8");
  });
});
