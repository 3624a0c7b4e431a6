// The default launch policy against the real API server: answers with hostile Pod templates —
// each Pod Security "baseline" violation, each allowlist (priority class, ServiceAccount,
// Secrets), a sidecar that pushes the Pod over its task, a RuntimeClass whose overhead does, an
// operator label, a quantity too large to count — end Invalid with the reason and the field
// named in the offer's status, its tasks' and a Warning Event, and nothing is launched. Answers
// that fit (a sidecar inside the task, a RuntimeClass whose overhead is counted) launch Pods
// whose requests, as the kubelet counts them with the overhead the API server filled in, are
// exactly the task's resources; a policy whose RuntimeClass overhead is wrong gets the Pod
// refused by RuntimeClass admission; another framework's well-formed answer still launches; and
// the operator counts a foreign Pod's sidecar, init container and overhead as the kubelet does.
import { CoreV1Api, CustomObjectsApi, EventsV1Api, NodeV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STRICT_POD_POLICY } from "../../src/controller/pod-policy.ts";
import { ANNOTATION_RESOURCES, GROUP, LABEL_POOL, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { podRequests } from "../../src/resources/pod-requests.ts";
import { toResources } from "../../src/resources/resources.ts";
import { waitFor } from "./helm-support.ts";
import { accept, FrameworkSide } from "./offers.ts";
import { Pool } from "./pool.ts";

let pool: Pool;
let runtimeClass = "";
/** A RuntimeClass whose overhead the operator's policy has wrong. */
let drifted = "";
const OVERHEAD = { cpu: "250m", memory: "32Mi" };
const RESOURCES = { cpu: "500m", memory: "128Mi" };

const side = () => new FrameworkSide(pool.kc, pool.namespace);
const answered = new Set<string>();

/** Answers a fresh open offer of `fw` with these tasks; resolves the offer once it is settled. */
async function answer(fw: string, tasks: unknown[]): Promise<ResourceOffer> {
  const offer = await waitFor(`an open offer for ${fw}`, async () =>
    (await side().offers(fw)).find(
      (o) => o.status?.phase === "Offered" && !o.spec.response && !answered.has(o.metadata.name ?? ""),
    ),
  );
  const name = offer.metadata.name ?? "";
  answered.add(name);
  await side().answer(name, accept(tasks, 0));
  return waitFor(`offer ${name} settled`, async () => {
    const o = await side().offer(name);
    return o?.status?.phase && o.status.phase !== "Offered" ? o : undefined;
  });
}

const task = (
  id: string,
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
  resources: Record<string, string> = RESOURCES,
) => ({
  id,
  resources,
  template: { metadata, spec: { containers: [{ name: "main", image: "busybox" }], ...spec } },
});
const main = (extra: Record<string, unknown>) => ({
  containers: [{ name: "main", image: "busybox", ...extra }],
});
const sc = (securityContext: Record<string, unknown>) => main({ securityContext });
const T = "spec\\.response\\.operations\\[0\\]\\.launch\\.tasks\\[0\\]\\.template";

beforeAll(async () => {
  pool = await Pool.start("launch-policy", { nodes: 2, operator: false });
  runtimeClass = `${pool.name}-overhead`;
  drifted = `${pool.name}-drifted`;
  const node = pool.kc.makeApiClient(NodeV1Api);
  await node.createRuntimeClass({
    body: { metadata: { name: runtimeClass }, handler: "runc", overhead: { podFixed: OVERHEAD } },
  });
  await node.createRuntimeClass({
    body: { metadata: { name: drifted }, handler: "runc", overhead: { podFixed: { cpu: "300m" } } },
  });
  // The controller's default policy (main.ts, the chart), told about the RuntimeClass's overhead.
  await pool.startOperator({
    podPolicy: { ...STRICT_POD_POLICY, runtimeClasses: { [runtimeClass]: OVERHEAD, [drifted]: OVERHEAD } },
  });
  await side().createFramework("hostile", pool.labels, { roles: ["*"] });
  await side().createFramework("fair", pool.labels, { roles: ["*"] });
});

afterAll(async () => {
  const co = pool?.kc.makeApiClient(CustomObjectsApi);
  for (const fw of ["hostile", "fair"]) {
    await co
      ?.patchNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: pool.namespace,
        plural: PLURAL.framework,
        name: fw,
        body: [{ op: "remove", path: "/metadata/finalizers" }],
      })
      .catch(() => {});
  }
  for (const rc of [runtimeClass, drifted].filter(Boolean))
    await pool?.kc
      .makeApiClient(NodeV1Api)
      .deleteRuntimeClass({ name: rc })
      .catch(() => {});
  await pool?.stop();
});

describe("hostile Pod templates end Invalid, naming the field, and launch nothing", () => {
  const secret = { name: "creds", secret: { secretName: "creds" } };
  it.each<[string, Record<string, unknown>, Record<string, unknown>, string, RegExp]>([
    [
      "a capability beyond the baseline set",
      sc({ capabilities: { add: ["NET_ADMIN"] } }),
      {},
      "PolicyViolation",
      /spec\.containers\[0\] \(main\)\.securityContext\.capabilities\.add\[0\]: capability NET_ADMIN/,
    ],
    [
      "Unconfined seccomp",
      { securityContext: { seccompProfile: { type: "Unconfined" } } },
      {},
      "PolicyViolation",
      /spec\.securityContext\.seccompProfile\.type: Unconfined seccomp/,
    ],
    [
      "Unconfined AppArmor",
      sc({ appArmorProfile: { type: "Unconfined" } }),
      {},
      "PolicyViolation",
      /spec\.containers\[0\] \(main\)\.securityContext\.appArmorProfile\.type: Unconfined AppArmor/,
    ],
    [
      "an Unmasked /proc",
      sc({ procMount: "Unmasked" }),
      {},
      "PolicyViolation",
      /securityContext\.procMount: Unmasked/,
    ],
    [
      "an unsafe sysctl",
      { securityContext: { sysctls: [{ name: "kernel.msgmax", value: "65536" }] } },
      {},
      "PolicyViolation",
      /spec\.securityContext\.sysctls\[0\]\.name: sysctl kernel\.msgmax/,
    ],
    [
      "a Windows hostProcess container",
      sc({ windowsOptions: { hostProcess: true } }),
      {},
      "PolicyViolation",
      /windowsOptions\.hostProcess: host process containers are forbidden/,
    ],
    [
      "a priority class",
      { priorityClassName: "system-cluster-critical" },
      {},
      "PolicyViolation",
      /spec\.priorityClassName: priority class system-cluster-critical is not allowed \(allowed: none\)/,
    ],
    [
      "another ServiceAccount",
      { serviceAccountName: "builder" },
      {},
      "PolicyViolation",
      /spec\.serviceAccountName: ServiceAccount builder is not allowed \(allowed: default\)/,
    ],
    [
      "a Secret volume",
      { volumes: [secret] },
      {},
      "PolicyViolation",
      /spec\.volumes\[0\] \(creds\)\.secret: Secret volumes are forbidden/,
    ],
    [
      "a projected Secret",
      { volumes: [{ name: "p", projected: { sources: [{ secret: { name: "creds" } }] } }] },
      {},
      "PolicyViolation",
      /spec\.volumes\[0\] \(p\)\.projected\.sources\[0\]\.secret/,
    ],
    [
      "env from a Secret key",
      main({ env: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } }] }),
      {},
      "PolicyViolation",
      /spec\.containers\[0\] \(main\)\.env\[0\]\.valueFrom\.secretKeyRef/,
    ],
    [
      "envFrom a Secret",
      main({ envFrom: [{ secretRef: { name: "creds" } }] }),
      {},
      "PolicyViolation",
      /spec\.containers\[0\] \(main\)\.envFrom\[0\]\.secretRef/,
    ],
    [
      "a sidecar that pushes the Pod over its task",
      {
        initContainers: [
          { name: "proxy", image: "busybox", restartPolicy: "Always", resources: { requests: { cpu: "1" } } },
        ],
      },
      {},
      "PodTemplateExceedsTask",
      new RegExp(
        `^${T}\\.spec\\.initContainers\\[0\\]\\.resources\\.requests\\.cpu: cpu 1 .* more than task \\S+'s cpu 500m`,
      ),
    ],
    [
      "an init container larger than its task",
      { initContainers: [{ name: "migrate", image: "busybox", resources: { limits: { memory: "1Gi" } } }] },
      {},
      "PodTemplateExceedsTask",
      new RegExp(
        `^${T}\\.spec\\.initContainers\\[0\\]\\.resources\\.limits\\.memory: init container migrate needs memory 1Gi`,
      ),
    ],
    [
      "a quantity too large to count",
      {
        containers: [
          { name: "main", image: "busybox" },
          { name: "x", image: "busybox", resources: { requests: { memory: "99999999999999999999Ei" } } },
        ],
      },
      {},
      "InvalidResources",
      new RegExp(
        `^${T}\\.spec\\.containers\\[1\\]\\.resources\\.requests\\.memory: 99999999999999999999Ei is too large to count`,
      ),
    ],
    [
      "a RuntimeClass the policy does not list",
      { runtimeClassName: "gvisor" },
      {},
      "UnknownRuntimeClass",
      new RegExp(
        `^${T}\\.spec\\.runtimeClassName: RuntimeClass gvisor is not in the launch policy's runtimeClasses`,
      ),
    ],
    [
      "an operator label that would move the Pod to another pool",
      {},
      { labels: { [LABEL_POOL]: "elsewhere" } },
      "ReservedKey",
      new RegExp(
        `^${T}\\.metadata\\.labels\\["kubeoffers\\.io/pool"\\]: kubeoffers\\.io/ keys are set by the operator only`,
      ),
    ],
  ])("%s", async (_what, spec, metadata, reason, field) => {
    const id = `t-${Math.random().toString(36).slice(2, 8)}`;
    const o = await answer("hostile", [task(id, spec, metadata)]);
    expect(o.status?.phase).toBe("Invalid");
    expect(o.status?.reason).toBe(reason);
    expect(o.status?.message).toMatch(field);
    expect(o.status?.tasks).toEqual([expect.objectContaining({ id, state: "TASK_ERROR", reason })]);
    expect(o.status?.tasks?.[0]?.message).toMatch(field);
    const event = await waitFor(`a Warning Event on offer ${o.metadata.name}`, async () => {
      const evs = await pool.kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: pool.namespace });
      return evs.items.find((e) => e.regarding?.name === o.metadata.name && e.type === "Warning");
    });
    expect(event.reason).toBe(reason);
    expect(event.note).toMatch(field);
    await expect(
      pool.kc
        .makeApiClient(CoreV1Api)
        .readNamespacedPod({ name: `hostile-${id}`, namespace: pool.namespace }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it("a RuntimeClass whose overhead is more than the task: the overhead is named", async () => {
    const o = await answer("hostile", [
      task("small", { runtimeClassName: runtimeClass }, {}, { cpu: "200m", memory: "128Mi" }),
    ]);
    expect(o.status).toMatchObject({ phase: "Invalid", reason: "PodTemplateExceedsTask" });
    expect(o.status?.message).toMatch(
      new RegExp(
        `^${T}\\.spec\\.runtimeClassName \\(RuntimeClass ${runtimeClass}'s overhead cpu\\): cpu 250m .* more than task small's cpu 200m`,
      ),
    );
  });
});

describe("a launch policy whose overhead is not the RuntimeClass's", () => {
  it("the Pod carries the policy's overhead, so RuntimeClass admission refuses it: TASK_ERROR, not an undercounted Pod", async () => {
    const o = await answer("hostile", [task("drift", { runtimeClassName: drifted })]);
    expect(o.status).toMatchObject({ phase: "Invalid", reason: "PodRejected" });
    expect(o.status?.tasks?.[0]).toMatchObject({ id: "drift", state: "TASK_ERROR", reason: "PodRejected" });
    expect(o.status?.tasks?.[0]?.message).toMatch(/Overhead doesn't match RuntimeClass's defined Overhead/);
  });
});

describe("templates that fit are counted exactly as their tasks", () => {
  /** The Pod as the API server stored it, counted as the kubelet counts it, against its task's resources. */
  async function expectCountedAsTask(podName: string) {
    const pod = await pool.kc
      .makeApiClient(CoreV1Api)
      .readNamespacedPod({ name: podName, namespace: pool.namespace });
    const charged = toResources(JSON.parse(pod.metadata?.annotations?.[ANNOTATION_RESOURCES] ?? "{}"));
    const counted = Object.fromEntries(
      [...podRequests(pod)].filter(([, v]) => v > 0n).map(([k, v]) => [k, Number(v)]),
    );
    expect(counted).toEqual(charged.scalars);
    return pod;
  }

  it("a sidecar and a RuntimeClass with overhead come out of the task's resources", async () => {
    const o = await answer("hostile", [
      task("sidecar", {
        initContainers: [
          {
            name: "proxy",
            image: "busybox",
            restartPolicy: "Always",
            resources: { requests: { cpu: "100m", memory: "16Mi" } },
          },
        ],
      }),
      task("kata", { runtimeClassName: runtimeClass }),
    ]);
    expect(o.status?.phase).toBe("Accepted");
    for (const t of o.status?.tasks ?? []) expect(t.state).toMatch(/^TASK_(STAGING|STARTING|RUNNING)$/);
    expect(o.status?.tasks).toHaveLength(2);
    const sidecar = await expectCountedAsTask("hostile-sidecar");
    expect(sidecar.spec?.containers[0]?.resources?.requests).toEqual({ cpu: "400m", memory: "112Mi" });
    const kata = await expectCountedAsTask("hostile-kata");
    // RuntimeClass admission filled the overhead in; the task's own container has the rest.
    expect(kata.spec?.overhead).toEqual(OVERHEAD);
    expect(kata.spec?.containers[0]?.resources?.limits).toEqual({ cpu: "250m", memory: "96Mi" });
  });

  it("another framework's well-formed answer still launches and runs", async () => {
    const o = await answer("fair", [task("plain", {})]);
    expect(o.status?.phase).toBe("Accepted");
    await expectCountedAsTask("fair-plain");
    await waitFor("fair-plain running", async () => {
      const s = await side().offer(o.metadata.name ?? "");
      return s?.status?.tasks?.[0]?.state === "TASK_RUNNING";
    });
  });
});

describe("the operator counts foreign Pods as the kubelet does", () => {
  it("a foreign Pod's sidecar, init container and RuntimeClass overhead all come off its node", async () => {
    const node = pool.nodes[0]!.name;
    const core = pool.kc.makeApiClient(CoreV1Api);
    const counted = () => pool.operator?.cache.foreign.usedOn(node)?.scalars.cpu ?? 0;
    const before = counted();
    const r = (cpu: string) => ({ requests: { cpu } });
    await core.createNamespacedPod({
      namespace: pool.namespace,
      body: {
        metadata: { name: "foreign" },
        spec: {
          nodeName: node,
          runtimeClassName: runtimeClass,
          initContainers: [
            { name: "proxy", image: "busybox", restartPolicy: "Always", resources: r("500m") },
            { name: "migrate", image: "busybox", resources: r("1") },
          ],
          containers: [{ name: "main", image: "busybox", resources: r("250m") }],
        },
      },
    });
    // max(migrate 1 + proxy 500m, main 250m + proxy 500m) + overhead 250m = 1750m.
    const want = before + 1750;
    await waitFor(`the operator to count ${want}m of cpu taken on ${node}`, async () => counted() === want);
    await core.deleteNamespacedPod({ name: "foreign", namespace: pool.namespace, gracePeriodSeconds: 0 });
    await waitFor(
      `the operator to count ${before}m taken on ${node} again`,
      async () => counted() === before,
    );
  });
});
