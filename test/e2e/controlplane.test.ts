// Smoke tests proving the local control plane is real: CRDs, watches, simulated nodes running
// Pods, garbage collection by kube-controller-manager, RBAC, and an etcd failure surfacing.
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  VersionApi,
  Watch,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIM_EXIT_CODE, SIM_RUN_SECONDS } from "../../src/crds/contract.ts";
import { statusCode } from "../../src/kube/errors.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { ControlPlane } from "../../src/local/controlplane.ts";
import { NodeSimulator } from "../../src/local/node-simulator.ts";
import {
  adminKubeConfig,
  createNamespace,
  deleteNamespace,
  mintUser,
  uniqueName,
  waitFor,
} from "./support.ts";

let kc: KubeConfig;
let ns: string;
let sim: NodeSimulator;
const node = uniqueName("smoke-node");

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, "smoke");
  sim = new NodeSimulator(kc);
  await sim.start([{ name: node, capacity: { cpu: "4", memory: "8Gi" }, labels: { zone: "a" } }]);
});

afterAll(async () => {
  await sim?.stop();
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNode({ name: node })
    .catch(() => {});
  await deleteNamespace(kc, ns);
});

describe("local control plane", () => {
  it("reports the real Kubernetes version it was built from", async () => {
    const v = await kc.makeApiClient(VersionApi).getCode();
    expect(v.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(v.gitVersion).not.toContain("master");
  });

  it("serves a CRD: create, watch and patch a custom object", async () => {
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const group = "smoke.kubeoffers.io";
    const plural = `widgets${Math.floor(Math.random() * 1e6)}`;
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: `${plural}.${group}` },
        spec: {
          group,
          scope: "Namespaced",
          names: { plural, singular: plural.slice(0, -1), kind: `Widget${plural.slice(7)}` },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: { spec: { type: "object", properties: { size: { type: "integer" } } } },
                },
              },
            },
          ],
        },
      },
    });
    try {
      const co = kc.makeApiClient(CustomObjectsApi);
      await waitFor("CRD established", async () => {
        const crd = await ext.readCustomResourceDefinition({ name: `${plural}.${group}` });
        return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
      });
      // Established is not yet serving: lists get 429 "storage is (re)initializing" for a moment.
      await waitFor("CRD serving", () =>
        co.listNamespacedCustomObject({ group, version: "v1", namespace: ns, plural }).then(() => true),
      );
      const seen: string[] = [];
      const watch = await new Watch(kc).watch(
        `/apis/${group}/v1/namespaces/${ns}/${plural}`,
        {},
        (phase, obj: { spec?: { size?: number } }) => seen.push(`${phase}:${obj.spec?.size}`),
        () => {},
      );
      const kind = `Widget${plural.slice(7)}`;
      await co.createNamespacedCustomObject({
        group,
        version: "v1",
        namespace: ns,
        plural,
        body: { apiVersion: `${group}/v1`, kind, metadata: { name: "w1" }, spec: { size: 1 } },
      });
      await co.patchNamespacedCustomObject(
        { group, version: "v1", namespace: ns, plural, name: "w1", body: { spec: { size: 2 } } },
        mergePatch,
      );
      await waitFor("watch events", async () => seen.includes("ADDED:1") && seen.includes("MODIFIED:2"));
      watch.abort();
    } finally {
      await ext.deleteCustomResourceDefinition({ name: `${plural}.${group}` });
    }
  });

  it("runs a Pod bound to a simulated node to Running and then Succeeded", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const created = Date.now();
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "p1", annotations: { [SIM_RUN_SECONDS]: "1", [SIM_EXIT_CODE]: "0" } },
        spec: { nodeName: node, restartPolicy: "Never", containers: [{ name: "main", image: "busybox" }] },
      },
    });
    const phases = new Set<string>();
    await waitFor(
      "pod p1 Succeeded",
      async () => {
        const p = await core.readNamespacedPod({ name: "p1", namespace: ns });
        phases.add(p.status?.phase ?? "");
        return p.status?.phase === "Succeeded";
      },
      30_000,
      50,
    );
    expect(phases.has("Running")).toBe(true);
    // It ran its whole second (the API's whole-second timestamps must not shorten it).
    expect(Date.now() - created).toBeGreaterThanOrEqual(1000);
    const node1 = await core.readNode({ name: node });
    expect(node1.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
  });

  it("garbage-collects a dependent when its owner is deleted", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const owner = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "owner" } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: "dependent",
          ownerReferences: [
            { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata?.uid ?? "" },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ name: "owner", namespace: ns });
    await waitFor("dependent collected", async () => {
      try {
        await core.readNamespacedConfigMap({ name: "dependent", namespace: ns });
        return false;
      } catch (err) {
        return statusCode(err) === 404;
      }
    });
  });

  it("denies a restricted identity what RBAC does not grant", async () => {
    const core = mintUser("smoke-nobody").kubeConfig.makeApiClient(CoreV1Api);
    const err = await core.listNamespacedPod({ namespace: ns }).catch((e: unknown) => e);
    expect(statusCode(err)).toBe(403);
  });
});

describe("fault injection", () => {
  it("reports an unready apiserver when etcd is killed", async () => {
    // A private control plane: killing the shared one's etcd would break the other tests.
    const cp = await ControlPlane.start({ controllerManager: false, log: () => {} });
    try {
      const exits: string[] = [];
      cp.on("process-exit", (e: { name: string }) => exits.push(e.name));
      expect((await cp.readyz()).ready).toBe(true);
      cp.processes.kill("etcd");
      const r = await waitFor("apiserver unready", async () => {
        const rz = await cp.readyz();
        return rz.ready ? false : rz;
      });
      // The apiserver names etcd among its failing checks: "etcd", "etcd-readiness", or both,
      // depending on which probe noticed first.
      expect(r.failing.filter((c: string) => c.startsWith("etcd")).length).toBeGreaterThan(0);
      expect(exits).toContain("etcd");
      await cp.restartEtcd();
      expect((await cp.readyz()).ready).toBe(true);
    } finally {
      await cp.stop();
    }
  });
});
