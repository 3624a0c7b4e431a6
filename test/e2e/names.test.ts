// Names at every limit, end to end: a 63-character namespace, a 63-character framework name, a
// 253-character role, a 63-character task id and a simulated node named at the full 253-character
// subdomain limit. Every object the operator and the agent make for them (the Agent, its Lease
// and labels, the offer, the task Pod <framework>-<task id> and its labels, the offer's task
// status, Events) must be accepted by the API server, and the task must reach Running.
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ANNOTATION_ROLE,
  agentLabelValue,
  agentLeaseName,
  LABEL_AGENT,
  LABEL_ROLE,
  roleLabelValue,
  taskPodName,
} from "../../src/crds/contract.ts";
import { DnsSubdomainSchema, isRoleName } from "../../src/crds/names.ts";
import { taskStatusOf } from "../../src/tasks/state.ts";
import { accept, FrameworkSide, task } from "./offers.ts";
import { LEASE_NAMESPACE, Pool } from "./pool.ts";
import { deleteNamespace, uniqueName, waitFor } from "./support.ts";

const tag = uniqueName("x").slice(2); // six hex digits, unique per run
const pad = (prefix: string, n: number, fill = "a") => `${prefix}${fill.repeat(n - prefix.length)}`;
// 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253, every label at its limit.
const NODE = [pad(`n${tag}`, 63), "b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
const NAMESPACE = pad(`ns-${tag}-`, 63, "n");
const FRAMEWORK = pad(`fw-${tag}-`, 63, "f");
const ROLE = [pad(`r${tag}`, 63), "s".repeat(63), "t".repeat(63), "u".repeat(61)].join("/");
const TASK = pad("task-", 63, "t");

let pool: Pool;
let fw: FrameworkSide;

beforeAll(async () => {
  expect([NODE.length, NAMESPACE.length, FRAMEWORK.length, ROLE.length, TASK.length]).toEqual([
    253, 63, 63, 253, 63,
  ]);
  // What a kubelet could register: the node name is a valid subdomain (the simulator checks it too).
  expect(DnsSubdomainSchema.safeParse(NODE).success).toBe(true);
  expect(isRoleName(ROLE)).toBe(true);
  pool = await Pool.start("names", { nodes: [{ name: NODE, capacity: { cpu: "4", memory: "8Gi" } }] });
  const core = pool.kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await waitFor("the namespace's default ServiceAccount", async () =>
    core.readNamespacedServiceAccount({ name: "default", namespace: NAMESPACE }).then(
      () => true,
      () => false,
    ),
  );
  fw = new FrameworkSide(pool.kc, NAMESPACE);
});

afterAll(async () => {
  await fw?.deleteFramework(FRAMEWORK);
  if (pool) await deleteNamespace(pool.kc, NAMESPACE);
  await pool?.stop();
});

describe("names at their limits", () => {
  it("a task of a 63-character framework in a 63-character namespace, role 253, on a 253-character node, runs", {
    timeout: 120_000,
  }, async () => {
    const core = pool.kc.makeApiClient(CoreV1Api);
    // The agent's Lease fits a Lease name; the node is in the pool.
    const lease = await waitFor("the agent's Lease", async () =>
      pool.kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name: agentLeaseName(NODE), namespace: LEASE_NAMESPACE })
        .catch(() => undefined),
    );
    expect(lease.metadata?.labels?.[LABEL_AGENT]).toBe(agentLabelValue(NODE));

    await fw.createFramework(FRAMEWORK, pool.labels, { roles: [ROLE] });
    const offer = await waitFor(
      "an offer of the long node",
      async () => (await fw.offers(FRAMEWORK, "Offered"))[0],
    );
    expect(offer.spec.agent).toBe(NODE);
    expect(offer.spec.role).toBe(ROLE);
    expect((offer.metadata.name ?? "").length).toBeLessThanOrEqual(63);
    expect(offer.metadata.labels?.[LABEL_ROLE]).toBe(roleLabelValue(ROLE));

    await fw.answer(offer.metadata.name ?? "", accept([task(TASK, { cpu: "1", memory: "256Mi" })]));
    const podName = taskPodName(FRAMEWORK, TASK);
    expect(podName).toBe(`${FRAMEWORK}-${TASK}`);
    const pod = await waitFor("the task Running", async () => {
      const p = await core.readNamespacedPod({ name: podName, namespace: NAMESPACE }).catch(() => undefined);
      return p && taskStatusOf(p, { exists: true, ready: true }).state === "TASK_RUNNING" ? p : undefined;
    });
    expect(pod.spec?.nodeName).toBe(NODE);
    expect(pod.metadata?.labels?.[LABEL_AGENT]).toBe(agentLabelValue(NODE));
    expect(pod.metadata?.labels?.[LABEL_ROLE]).toBe(roleLabelValue(ROLE));
    expect(pod.metadata?.annotations?.[ANNOTATION_ROLE]).toBe(ROLE);

    // The offer's status names the 127-character Pod (a subdomain as Kubernetes validates it).
    const done = await waitFor("the offer's task status", async () => {
      const o = await fw.offer(offer.metadata.name ?? "");
      return o?.status?.tasks?.find((t) => t.pod === podName) ? o : undefined;
    });
    expect(done.status?.phase).toBe("Accepted");
  });
});
