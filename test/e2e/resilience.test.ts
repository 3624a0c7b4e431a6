// The operator survives its API server going away: supervised informers restart, resync, and
// the protocol carries on. Uses a private control plane, since it kills kube-apiserver.
import { CoreV1Api, type V1ConfigMap } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeAgent } from "../../src/agent/agent.ts";
import { createLogger } from "../../src/controller/log.ts";
import { Metrics } from "../../src/controller/metrics.ts";
import { Operator } from "../../src/controller/operator.ts";
import { isAlreadyExists } from "../../src/kube/errors.ts";
import { SupervisedInformer } from "../../src/kube/informer.ts";
import { ControlPlane } from "../../src/local/controlplane.ts";
import { installCrds } from "../../src/local/crds.ts";
import { NodeSimulator } from "../../src/local/node-simulator.ts";
import { accept, FrameworkSide, task } from "./offers.ts";
import { waitFor } from "./support.ts";

let cp: ControlPlane;
let sim: NodeSimulator;
let agent: NodeAgent;
let op: Operator;

beforeAll(async () => {
  cp = await ControlPlane.start({ controllerManager: true, log: () => {} });
  const kc = cp.kubeConfig();
  await installCrds(kc);
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of ["kube-offers-system", "team"]) {
    await core.createNamespace({ body: { metadata: { name } } }).catch((e: unknown) => {
      if (!isAlreadyExists(e)) throw e;
    });
  }
  await waitFor("default ServiceAccount", () =>
    core.readNamespacedServiceAccount({ name: "default", namespace: "team" }).catch(() => undefined),
  );
  sim = new NodeSimulator(kc);
  await sim.start([{ name: "n1", capacity: { cpu: "4", memory: "8Gi" } }]);
  agent = new NodeAgent(kc, { nodeName: "n1", leaseDurationSeconds: 20 });
  await agent.start();
  op = new Operator(kc, {
    log: createLogger("resilience", process.env.LOG_LEVEL ?? "silent"),
    metrics: new Metrics(false),
  });
  await op.start();
});

afterAll(async () => {
  await op?.stop();
  await agent?.stop();
  await sim?.stop();
  await cp?.stop();
});

describe("API server restart", () => {
  it("a supervised informer restarts after the API server dies and sees what happened meanwhile", async () => {
    const kc = cp.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const inf = new SupervisedInformer<V1ConfigMap>(
      "configmaps",
      kc,
      "/api/v1/namespaces/team/configmaps",
      () => core.listNamespacedConfigMap({ namespace: "team" }),
    );
    const seen = new Set<string>();
    inf.on("add", (c: V1ConfigMap) => seen.add(c.metadata?.name ?? ""));
    await inf.start();
    try {
      await core.createNamespacedConfigMap({ namespace: "team", body: { metadata: { name: "before" } } });
      await waitFor("before", async () => seen.has("before"));
      await cp.restartApiserver(2000);
      await core.createNamespacedConfigMap({ namespace: "team", body: { metadata: { name: "after" } } });
      await waitFor("after seen through a restarted watch", async () => seen.has("after"), 60_000);
      expect(inf.synced).toBe(true);
      expect(inf.restarts).toBeGreaterThanOrEqual(1);
    } finally {
      inf.stop();
    }
  });

  it("the operator keeps offering and launching across an API server restart", async () => {
    const fw = new FrameworkSide(cp.kubeConfig(), "team");
    await fw.createFramework("r", {});
    await waitFor("an offer", async () => (await fw.offers("r", "Offered"))[0]);
    await cp.restartApiserver(1000);
    await waitFor("operator caches synced again", async () => op.ready, 60_000);
    const offer = await waitFor(
      "an offer after the restart",
      async () => (await fw.offers("r", "Offered"))[0],
      60_000,
    );
    await fw.answer(offer.metadata.name ?? "", accept([task("t", { cpu: "1" })]));
    await waitFor(
      "accepted and launched",
      async () => (await fw.offer(offer.metadata.name ?? ""))?.status?.phase === "Accepted",
      60_000,
    );
    expect((await fw.pods("r")).map((p) => p.metadata?.name)).toEqual(["r-t"]);
  });
});
