// The node simulator's admission over Pods' lives: what a simulated node admitted holds its
// share until it ends or is gone, Pods are judged in the order the node sees them, a restarted
// simulator counts the Pods already running, and changes to the Node count at once.
// (test/e2e/real-admission.test.ts compares each rule with a real kubelet.)
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergePatch } from "../../src/kube/patch.ts";
import { NodeSimulator, RUN_SECONDS, type SimNode } from "../../src/local/node-simulator.ts";
import { adminKubeConfig, createNamespace, deleteNamespace, uniqueName, waitFor } from "./support.ts";

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
let ns = "";
const sims: NodeSimulator[] = [];
const nodes: string[] = [];

async function simulate(...specs: SimNode[]): Promise<NodeSimulator> {
  const sim = new NodeSimulator(admin);
  sims.push(sim);
  await sim.start(specs);
  for (const s of specs) if (!nodes.includes(s.name)) nodes.push(s.name);
  return sim;
}

function node(capacity: Record<string, string> = { cpu: "2", memory: "1Gi", pods: "110" }): SimNode {
  return { name: uniqueName("adm"), capacity };
}

async function create(
  nodeName: string,
  cpu: string,
  over: { annotations?: Record<string, string>; nodeSelector?: Record<string, string> } = {},
): Promise<string> {
  const name = uniqueName("p");
  const body: V1Pod = {
    metadata: { name, ...(over.annotations ? { annotations: over.annotations } : {}) },
    spec: {
      nodeName,
      restartPolicy: "Never",
      ...(over.nodeSelector ? { nodeSelector: over.nodeSelector } : {}),
      containers: [{ name: "main", image: "busybox", resources: { requests: { cpu } } }],
    },
  };
  await core.createNamespacedPod({ namespace: ns, body });
  return name;
}

async function phaseOf(name: string, want: string | string[]): Promise<V1Pod> {
  const wanted = [want].flat();
  return waitFor(`${name} ${wanted.join("/")}`, async () => {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    return wanted.includes(p.status?.phase ?? "") ? p : undefined;
  });
}

const refused = (p: V1Pod) => ({
  phase: p.status?.phase,
  reason: p.status?.reason,
  message: p.status?.message,
});
const outOfCpu = (requested: number, used: number, capacity: number) => ({
  phase: "Failed",
  reason: "OutOfcpu",
  message: `Pod was rejected: Node didn't have enough resource: cpu, requested: ${requested}, used: ${used}, capacity: ${capacity}`,
});

describe("simulated admission over Pods' lives", () => {
  beforeAll(async () => {
    ns = await createNamespace(admin, "sim-admission");
  });
  afterAll(async () => {
    for (const s of sims) await s.stop();
    for (const n of nodes) await core.deleteNode({ name: n }).catch(() => {});
    if (ns) await deleteNamespace(admin, ns);
  });

  it("a running Pod keeps the next one out until it is deleted", async () => {
    const n = node();
    await simulate(n);
    const a = await create(n.name, "1500m");
    await phaseOf(a, "Running");
    const b = await create(n.name, "1");
    expect(refused(await phaseOf(b, "Failed"))).toEqual(outOfCpu(1000, 1500, 2000));
    // And the kubelet's Warning event says why.
    const event = await waitFor("the rejection event", async () =>
      (
        await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${b}` })
      ).items.find((e) => e.reason === "OutOfcpu"),
    );
    expect(event).toMatchObject({ type: "Warning", source: { component: "kubelet", host: n.name } });
    await core.deleteNamespacedPod({ name: a, namespace: ns });
    await waitFor(`${a} gone`, async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, fieldSelector: `metadata.name=${a}` });
      return pods.items.length === 0;
    });
    const c = await create(n.name, "1");
    expect((await phaseOf(c, ["Running", "Failed"])).status?.phase).toBe("Running");
  });

  it("a Pod that exited holds nothing; the refused one never did", async () => {
    const n = node();
    await simulate(n);
    const done = await create(n.name, "1500m", { annotations: { [RUN_SECONDS]: "1" } });
    const refusedPod = await create(n.name, "1");
    expect((await phaseOf(refusedPod, "Failed")).status?.reason).toBe("OutOfcpu");
    await phaseOf(done, "Succeeded");
    const next = await create(n.name, "2");
    expect((await phaseOf(next, ["Running", "Failed"])).status?.phase).toBe("Running");
  });

  it("Pods are judged in the order the node sees them, the node's pod count included", async () => {
    const n = node({ cpu: "2", memory: "1Gi", pods: "2" });
    await simulate(n);
    const first = await create(n.name, "100m");
    const second = await create(n.name, "100m");
    const third = await create(n.name, "100m");
    await phaseOf(first, "Running");
    await phaseOf(second, "Running");
    expect(refused(await phaseOf(third, "Failed"))).toEqual({
      phase: "Failed",
      reason: "OutOfpods",
      message: "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2",
    });
  });

  it("a restarted simulator counts the Pods already running on its node", async () => {
    const n = node();
    const before = await simulate(n);
    const running = await create(n.name, "1500m");
    await phaseOf(running, "Running");
    await before.stop();
    await simulate(n);
    const late = await create(n.name, "1");
    expect(refused(await phaseOf(late, "Failed"))).toEqual(outOfCpu(1000, 1500, 2000));
  });

  it("a label put on the Node is seen by the next admission", async () => {
    const n = node();
    await simulate(n);
    const before = await create(n.name, "100m", { nodeSelector: { disk: "ssd" } });
    expect((await phaseOf(before, "Failed")).status?.reason).toBe("NodeAffinity");
    await core.patchNode({ name: n.name, body: { metadata: { labels: { disk: "ssd" } } } }, mergePatch);
    const after = await create(n.name, "100m", { nodeSelector: { disk: "ssd" } });
    expect((await phaseOf(after, ["Running", "Failed"])).status?.phase).toBe("Running");
  });
});
