// Tenancy through the chart's framework ClusterRole: a scheduler bound in namespace A works
// there (reads and answers its offers, reads and kills its tasks, renews its Lease) and can do
// none of it in namespace B, nor create Pods anywhere, nor forge an offer's status. The
// namespace is the tenancy boundary.
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { offerPhase } from "../../src/crds/offer.ts";
import { statusCode } from "../../src/kube/errors.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { CHART, helmOk, serviceAccountKubeconfig, waitFor } from "./helm-support.ts";
import { accept, BUSYBOX, FrameworkSide, task } from "./offers.ts";
import { Pool } from "./pool.ts";
import { createNamespace, deleteNamespace, uniqueName } from "./support.ts";

let pool: Pool;
let nsA = "";
let nsB = "";
let tenantA: KubeConfig;
let tenantB: KubeConfig;
const role = uniqueName("tenancy-framework");

async function code(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return 200;
  } catch (err) {
    return statusCode(err);
  }
}

const offersIn = (kc: KubeConfig, ns: string) => new FrameworkSide(kc, ns).offers();

/** Answers `offer` in `ns` as the identity of `kc`, launching one small task. */
function launch(
  kc: KubeConfig,
  ns: string,
  offer: string,
  taskId: string,
  refuseSeconds?: number,
): Promise<void> {
  const tasks = [task(taskId, { cpu: "500m", memory: "128Mi" }, { spec: BUSYBOX })];
  return new FrameworkSide(kc, ns).answer(offer, accept(tasks, refuseSeconds));
}

beforeAll(async () => {
  pool = await Pool.start("tenancy", { nodes: 2 });
  nsA = pool.namespace;
  nsB = await createNamespace(pool.kc, "tenancy-b");
  // The tenant ClusterRole exactly as the chart renders it.
  const out = await helmOk([
    "template",
    "t",
    CHART,
    "--show-only",
    "templates/tenant-clusterrole.yaml",
    "--set",
    `tenantRole.name=${role}`,
  ]);
  const rbac = pool.kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createClusterRole({ body: parse(out) as V1ClusterRole });
  const core = pool.kc.makeApiClient(CoreV1Api);
  for (const [ns, fw] of [
    [nsA, "fa"],
    [nsB, "fb"],
  ] as const) {
    await core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: `${fw}-scheduler` } },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: `${fw}-scheduler` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
        subjects: [{ kind: "ServiceAccount", name: `${fw}-scheduler`, namespace: ns }],
      },
    });
  }
  const register = (ns: string, fw: string) =>
    new FrameworkSide(pool.kc, ns).createFramework(fw, pool.labels, { roles: ["*"] });
  tenantA = (await serviceAccountKubeconfig(nsA, "fa-scheduler")).kc;
  tenantB = (await serviceAccountKubeconfig(nsB, "fb-scheduler")).kc;
  // Framework B first, with a running task; then it refuses both agents for the rest of the
  // file, so that A is offered them. (Offers do not expire here: an offer B held unanswered, or
  // one of what its launch left over, would keep A waiting.)
  await register(nsB, "fb");
  const offerB = await waitFor(
    "an offer for fb",
    async () => (await offersIn(tenantB, nsB)).find((o) => o.status?.phase === "Offered"),
    60_000,
  );
  await launch(tenantB, nsB, offerB.metadata.name ?? "", "t1", 3600);
  await waitFor("fb's task Pod", () =>
    tenantB
      .makeApiClient(CoreV1Api)
      .readNamespacedPod({ name: "fb-t1", namespace: nsB })
      .catch(() => undefined),
  );
  const sideB = new FrameworkSide(tenantB, nsB);
  await waitFor("fb to hold no open offer", async () => {
    const open = (await sideB.offers()).filter((o) => !o.spec.response && offerPhase(o) === "Offered");
    for (const o of open)
      await sideB
        .answer(o.metadata.name ?? "", { action: "Decline", filters: { refuseSeconds: 3600 } })
        .catch(() => {}); // answered or rescinded meanwhile: looked at again next round
    return open.length === 0;
  });
  await register(nsA, "fa");
}, 120_000);

afterAll(async () => {
  // Frameworks in B are torn down by the still-running operator; then everything goes.
  if (pool) {
    const co = pool.kc.makeApiClient(CustomObjectsApi);
    const fb = { group: GROUP, version: VERSION, namespace: nsB, plural: PLURAL.framework, name: "fb" };
    await co.deleteNamespacedCustomObject(fb).catch(() => {});
    await waitFor(
      "fb to be torn down",
      () =>
        co
          .getNamespacedCustomObject(fb)
          .then(() => false)
          .catch((err: unknown) => statusCode(err) === 404),
      15_000,
    ).catch(async () => {
      // The operator did not finish the teardown: drop its finalizer so the namespace can go.
      await co
        .patchNamespacedCustomObject({ ...fb, body: [{ op: "remove", path: "/metadata/finalizers" }] })
        .catch(() => {});
    });
  }
  if (nsB) await deleteNamespace(pool.kc, nsB);
  await pool?.kc
    .makeApiClient(RbacAuthorizationV1Api)
    .deleteClusterRole({ name: role })
    .catch(() => {});
  await pool?.stop();
});

describe("a framework identity bound in namespace A", () => {
  it("works in A: reads and answers its offers, reads and kills its tasks, renews its Lease", async () => {
    const offer = await waitFor("an offer for fa, read by its scheduler", async () =>
      (await offersIn(tenantA, nsA)).find((o) => o.spec.framework === "fa" && o.status?.phase === "Offered"),
    );
    await launch(tenantA, nsA, offer.metadata.name ?? "", "t1");
    const core = tenantA.makeApiClient(CoreV1Api);
    await waitFor("fa's task Pod", () =>
      core.readNamespacedPod({ name: "fa-t1", namespace: nsA }).catch(() => undefined),
    );
    expect((await core.listNamespacedPod({ namespace: nsA })).items.map((p) => p.metadata?.name)).toContain(
      "fa-t1",
    );
    await core.deleteNamespacedPod({ name: "fa-t1", namespace: nsA });
    const coord = tenantA.makeApiClient(CoordinationV1Api);
    await coord.createNamespacedLease({
      namespace: nsA,
      body: { metadata: { name: "fa-liveness" }, spec: { holderIdentity: "fa-0", leaseDurationSeconds: 10 } },
    });
    await coord.patchNamespacedLease(
      { name: "fa-liveness", namespace: nsA, body: { spec: { leaseDurationSeconds: 15 } } },
      mergePatch,
    );
  });

  it("cannot list, read, watch or answer offers in namespace B", async () => {
    const co = tenantA.makeApiClient(CustomObjectsApi);
    const [offerB] = await offersIn(pool.kc, nsB);
    expect(offerB).toBeDefined();
    const name = offerB?.metadata.name ?? "";
    expect(
      await code(
        co.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: nsB,
          plural: PLURAL.resourceOffer,
        }),
      ),
    ).toBe(403);
    expect(
      await code(
        co.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: nsB,
          plural: PLURAL.resourceOffer,
          watch: true,
          timeoutSeconds: 1,
        }),
      ),
    ).toBe(403);
    expect(
      await code(
        co.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: nsB,
          plural: PLURAL.resourceOffer,
          name,
        }),
      ),
    ).toBe(403);
    expect(await code(launch(tenantA, nsB, name, "stolen"))).toBe(403);
    expect(
      await code(
        co.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.resourceOffer }),
      ),
    ).toBe(403);
    expect(
      await code(
        co.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: nsB,
          plural: PLURAL.framework,
          name: "fb",
        }),
      ),
    ).toBe(403);
  });

  it("cannot read or kill another framework's tasks", async () => {
    const core = tenantA.makeApiClient(CoreV1Api);
    expect(await code(core.listNamespacedPod({ namespace: nsB }))).toBe(403);
    expect(await code(core.readNamespacedPod({ name: "fb-t1", namespace: nsB }))).toBe(403);
    expect(await code(core.deleteNamespacedPod({ name: "fb-t1", namespace: nsB }))).toBe(403);
    expect(await code(core.listPodForAllNamespaces())).toBe(403);
    // Still running.
    const p = await pool.kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: "fb-t1", namespace: nsB });
    expect(p.metadata?.deletionTimestamp).toBeUndefined();
  });

  it("cannot create Pods (only the operator launches), register frameworks, forge offer status or read Secrets", async () => {
    const core = tenantA.makeApiClient(CoreV1Api);
    const co = tenantA.makeApiClient(CustomObjectsApi);
    const pod = { metadata: { name: "sneaky" }, spec: { containers: [{ name: "c", image: "busybox" }] } };
    expect(await code(core.createNamespacedPod({ namespace: nsA, body: pod }))).toBe(403);
    expect(await code(core.createNamespacedPod({ namespace: nsB, body: pod }))).toBe(403);
    expect(
      await code(
        co.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: nsA,
          plural: PLURAL.framework,
          body: {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: "Framework",
            metadata: { name: "rogue" },
            spec: {},
          },
        }),
      ),
    ).toBe(403);
    const [mine] = await offersIn(tenantA, nsA);
    expect(
      await code(
        co.patchNamespacedCustomObjectStatus(
          {
            group: GROUP,
            version: VERSION,
            namespace: nsA,
            plural: PLURAL.resourceOffer,
            name: mine?.metadata.name ?? "x",
            body: { status: { phase: "Accepted" } },
          },
          mergePatch,
        ),
      ),
    ).toBe(403);
    expect(await code(core.listNamespacedSecret({ namespace: nsA }))).toBe(403);
    expect(await code(tenantA.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: nsB }))).toBe(
      403,
    );
  });
});
