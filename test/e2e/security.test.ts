// Security of what is launched. (1) Task Pods obey their namespace's Pod Security level: the
// API server's admission refuses a privileged container in a `restricted` namespace, and the
// task ends TASK_ERROR with the API server's reason (and a Warning Event on the offer). (2) The
// cluster-level policy in the controller's configuration forbids host namespaces, hostPath,
// privileged containers and host ports outside the offer in any namespace: the answer is
// Invalid with reason PolicyViolation, nothing is launched.
import { CoreV1Api, CustomObjectsApi, EventsV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STRICT_POD_POLICY } from "../../src/controller/pod-policy.ts";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { waitFor } from "./helm-support.ts";
import { accept, FrameworkSide } from "./offers.ts";
import { Pool } from "./pool.ts";
import { createNamespace, deleteNamespace } from "./support.ts";

let pool: Pool;
let open = ""; // a namespace at the default (privileged) Pod Security level
const co = () => pool.kc.makeApiClient(CustomObjectsApi);

const RESTRICTED_CONTAINER = {
  name: "main",
  image: "busybox",
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 1000,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  },
};

const side = (ns: string) => new FrameworkSide(pool.kc, ns);

const answered = new Set<string>();

/** Answers a fresh open offer of `fw` with these tasks; resolves the offer once it is settled. */
/** `tasks` may be built from the offer chosen (e.g. to take one of its ports). */
async function answer(
  ns: string,
  fw: string,
  tasks: unknown[] | ((offer: ResourceOffer) => unknown[]),
): Promise<ResourceOffer> {
  const offer = await waitFor(`an open offer for ${fw}`, async () =>
    (await side(ns).offers()).find(
      (o) =>
        o.spec.framework === fw &&
        o.status?.phase === "Offered" &&
        !o.spec.response &&
        !answered.has(o.metadata.name ?? ""),
    ),
  );
  const name = offer.metadata.name ?? "";
  answered.add(name);
  await side(ns).answer(name, accept(typeof tasks === "function" ? tasks(offer) : tasks, 0));
  return waitFor(`offer ${name} settled`, async () => {
    const o = await side(ns).offer(name);
    return o?.status?.phase && o.status.phase !== "Offered" ? o : undefined;
  });
}

const task = (
  id: string,
  spec: Record<string, unknown>,
  resources: Record<string, unknown> = { cpu: "250m", memory: "64Mi" },
) => ({
  id,
  resources,
  template: { spec },
});

beforeAll(async () => {
  pool = await Pool.start("security", { nodes: 2 });
  open = await createNamespace(pool.kc, "security-open");
});
afterAll(async () => {
  for (const ns of [pool?.namespace, open]) {
    for (const fw of ["secure", "policed"]) {
      await co()
        .patchNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: ns ?? "",
          plural: PLURAL.framework,
          name: fw,
          body: [{ op: "remove", path: "/metadata/finalizers" }],
        })
        .catch(() => {});
    }
  }
  if (open) await deleteNamespace(pool.kc, open);
  await pool?.stop();
});

describe("Pod Security admission of the framework's namespace", () => {
  it("a privileged container in a `restricted` namespace ends TASK_ERROR with the API server's reason", async () => {
    const ns = pool.namespace;
    await pool.kc.makeApiClient(CoreV1Api).patchNamespace(
      {
        name: ns,
        body: {
          metadata: {
            labels: {
              "pod-security.kubernetes.io/enforce": "restricted",
              "pod-security.kubernetes.io/enforce-version": "latest",
            },
          },
        },
      },
      mergePatch,
    );
    await side(ns).createFramework("secure", pool.labels, { roles: ["*"] });
    // A mixed answer: the compliant task runs, the privileged one is refused.
    const mixed = await answer(ns, "secure", [
      task("ok", { containers: [RESTRICTED_CONTAINER] }),
      task("priv", { containers: [{ ...RESTRICTED_CONTAINER, securityContext: { privileged: true } }] }),
    ]);
    expect(mixed.status?.phase).toBe("Accepted");
    const byId = Object.fromEntries((mixed.status?.tasks ?? []).map((t) => [t.id, t]));
    expect(byId.ok?.state).toMatch(/TASK_(STAGING|STARTING|RUNNING)/);
    expect(byId.priv).toMatchObject({ state: "TASK_ERROR", reason: "PodRejected" });
    expect(byId.priv?.message).toMatch(/violates PodSecurity "restricted:latest"/);
    expect(byId.priv?.message).toMatch(/privileged/);
    const core = pool.kc.makeApiClient(CoreV1Api);
    await core.readNamespacedPod({ name: "secure-ok", namespace: ns });
    await expect(core.readNamespacedPod({ name: "secure-priv", namespace: ns })).rejects.toMatchObject({
      code: 404,
    });

    // Only privileged: nothing launches, the answer is Invalid, and a Warning Event says why.
    const alone = await answer(ns, "secure", [
      task("priv2", {
        containers: [{ name: "main", image: "busybox", securityContext: { privileged: true } }],
      }),
    ]);
    expect(alone.status?.phase).toBe("Invalid");
    expect(alone.status?.reason).toBe("PodRejected");
    expect(alone.status?.tasks?.[0]).toMatchObject({
      id: "priv2",
      state: "TASK_ERROR",
      reason: "PodRejected",
    });
    expect(alone.status?.message).toMatch(/violates PodSecurity "restricted:latest".*privileged/);
    const event = await waitFor("a Warning Event on the offer", async () => {
      const evs = await pool.kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
      return evs.items.find((e) => e.regarding?.name === alone.metadata.name && e.type === "Warning");
    });
    expect(event.reason).toBe("PodRejected");
    expect(event.note).toMatch(/PodSecurity/);
    expect(event.regarding?.kind).toBe("ResourceOffer");

    // Tasks given host ports cannot run at the restricted (or baseline) level at all.
    // A port of the offer answered (an earlier task may hold 31000 on one of the nodes).
    const ported = await answer(ns, "secure", (offer) => {
      const port = (offer.spec.resources.ports as { begin: number }[] | undefined)?.[0]?.begin ?? 31000;
      return [
        task(
          "ported",
          { containers: [RESTRICTED_CONTAINER] },
          { cpu: "250m", memory: "64Mi", ports: [{ begin: port, end: port }] },
        ),
      ];
    });
    expect(ported.status?.tasks?.[0]).toMatchObject({ state: "TASK_ERROR", reason: "PodRejected" });
    expect(ported.status?.tasks?.[0]?.message).toMatch(/hostPort/);
  });
});

describe("the cluster-level launch policy (controller configuration)", () => {
  beforeAll(async () => {
    // Tear "secure" down: its unanswered offers would hold the pool's resources.
    await side(pool.namespace).deleteFramework("secure");
    await waitFor("secure torn down", async () =>
      side(pool.namespace)
        .framework("secure")
        .then(() => false)
        .catch(() => true),
    );
    await pool.stopOperator();
    await pool.startOperator({ podPolicy: STRICT_POD_POLICY });
    await side(open).createFramework("policed", pool.labels, { roles: ["*"] });
  });

  it.each([
    [
      "a hostPath volume",
      { volumes: [{ name: "root", hostPath: { path: "/" } }], containers: [{ name: "m", image: "busybox" }] },
      /spec\.volumes\[0\] \(root\): hostPath volume \/ is forbidden/,
    ],
    [
      "the host network",
      { hostNetwork: true, containers: [{ name: "m", image: "busybox" }] },
      /spec\.hostNetwork/,
    ],
    [
      "the host PID namespace",
      { hostPID: true, containers: [{ name: "m", image: "busybox" }] },
      /spec\.hostPID/,
    ],
    [
      "a privileged container",
      { containers: [{ name: "m", image: "busybox", securityContext: { privileged: true } }] },
      /securityContext\.privileged/,
    ],
    [
      "a sidecar's host port outside the offer",
      {
        containers: [
          { name: "m", image: "busybox" },
          { name: "side", image: "busybox", ports: [{ containerPort: 22, hostPort: 22 }] },
        ],
      },
      /spec\.containers\[1\] \(side\)\.ports\[0\]\.hostPort: 22 is outside the ports offered to the task/,
    ],
  ])(
    "refuses %s in any namespace: Invalid, PolicyViolation, nothing launched",
    async (_what, spec, message) => {
      const id = `t-${Math.random().toString(36).slice(2, 8)}`;
      const o = await answer(open, "policed", [task(id, spec)]);
      expect(o.status?.phase).toBe("Invalid");
      expect(o.status?.reason).toBe("PolicyViolation");
      expect(o.status?.message).toMatch(message);
      expect(o.status?.tasks?.[0]).toMatchObject({ id, state: "TASK_ERROR", reason: "PolicyViolation" });
      await expect(
        pool.kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: `policed-${id}`, namespace: open }),
      ).rejects.toMatchObject({ code: 404 });
    },
  );

  it("allows host ports inside the offered range", async () => {
    const o = await answer(open, "policed", [
      task(
        "web",
        { containers: [{ name: "m", image: "busybox" }] },
        { cpu: "250m", memory: "64Mi", ports: [{ begin: 31005, end: 31006 }] },
      ),
    ]);
    expect(o.status?.phase).toBe("Accepted");
    const pod = await pool.kc
      .makeApiClient(CoreV1Api)
      .readNamespacedPod({ name: "policed-web", namespace: open });
    expect(pod.spec?.containers[0]?.ports?.map((p) => p.hostPort)).toEqual([31005, 31006]);
  });
});
