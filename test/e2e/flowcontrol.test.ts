// API Priority and Fairness on the real API server: the chart's FlowSchemas (one definition,
// src/crds/flowcontrol.ts, applied here as the harness applies them) are accepted by
// flowcontrol.apiserver.k8s.io/v1, and the API server classifies an agent's Lease renewal into
// node-high and the controller's leader-election writes into leader-election — it says so in
// the X-Kubernetes-PF-FlowSchema-UID / -PriorityLevel-UID response headers.
import {
  CoordinationV1Api,
  FlowcontrolApiserverV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
  V1MicroTime,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flowSchemas } from "../../src/crds/flowcontrol.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { installFlowControl } from "../../src/local/flowcontrol.ts";
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
const prefix = uniqueName("e2e-apf");
const names = () => ({
  prefix,
  namespace: ns,
  agentServiceAccount: "agent",
  controllerServiceAccount: "controller",
  leaseNamespace: ns,
});

/** A client authenticated as ServiceAccount `sa` of `ns` (a client certificate with its user name and groups). */
function serviceAccount(sa: string): CoordinationV1Api {
  return mintUser(`system:serviceaccount:${ns}:${sa}`, [
    "system:serviceaccounts",
    `system:serviceaccounts:${ns}`,
  ]).kubeConfig.makeApiClient(CoordinationV1Api);
}

function header(h: unknown, name: string): string | undefined {
  if (h && typeof (h as Headers).get === "function") return (h as Headers).get(name) ?? undefined;
  const rec = h as Record<string, string>;
  return rec[name.toLowerCase()] ?? rec[name];
}

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, "apf");
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace: ns,
    body: {
      metadata: { name: "leases" },
      rules: [
        {
          apiGroups: ["coordination.k8s.io"],
          resources: ["leases"],
          verbs: ["get", "create", "update", "patch"],
        },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: "leases" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "leases" },
      subjects: ["agent", "controller", "other"].map((name) => ({
        kind: "ServiceAccount",
        name,
        namespace: ns,
      })),
    },
  });
});

afterAll(async () => {
  const api = kc.makeApiClient(FlowcontrolApiserverV1Api);
  for (const fs of flowSchemas(names()))
    await api.deleteFlowSchema({ name: fs.metadata.name }).catch(() => {});
  await deleteNamespace(kc, ns);
});

describe("API Priority and Fairness for heartbeats", () => {
  it("agent Lease renewals run at node-high, leader election at leader-election, others not", async () => {
    const stored = await installFlowControl(kc, names());
    expect(stored.map((s) => s.metadata?.name)).toEqual([
      `${prefix}-agent-leases`,
      `${prefix}-leader-election`,
    ]);
    const flow = kc.makeApiClient(FlowcontrolApiserverV1Api);
    const level = async (name: string) =>
      (await flow.readPriorityLevelConfiguration({ name })).metadata?.uid ?? "missing";
    const [agentFs, leaderFs] = stored.map((s) => s.metadata?.uid ?? "missing");
    const nodeHigh = await level("node-high");
    const leaderElection = await level("leader-election");

    const agent = serviceAccount("agent");
    await agent.createNamespacedLease({
      namespace: ns,
      body: { metadata: { name: "agent-n1" }, spec: { holderIdentity: "n1", leaseDurationSeconds: 20 } },
    });
    // The API server's flow-control configuration picks new FlowSchemas up asynchronously.
    const renewal = await waitFor("the agent's renewal classified by its FlowSchema", async () => {
      const r = await agent.patchNamespacedLeaseWithHttpInfo(
        { name: "agent-n1", namespace: ns, body: { spec: { renewTime: new V1MicroTime() } } },
        mergePatch,
      );
      return header(r.headers, "X-Kubernetes-PF-FlowSchema-UID") === agentFs ? r : undefined;
    });
    expect(header(renewal.headers, "X-Kubernetes-PF-PriorityLevel-UID")).toBe(nodeHigh);

    const controller = serviceAccount("controller");
    const created = await controller.createNamespacedLease({
      namespace: ns,
      body: { metadata: { name: "leader" }, spec: { holderIdentity: "c1", leaseDurationSeconds: 15 } },
    });
    const renew = await waitFor("the leader's renewal classified by its FlowSchema", async () => {
      const cur = await controller.readNamespacedLease({ name: "leader", namespace: ns });
      const r = await controller.replaceNamespacedLeaseWithHttpInfo({
        name: "leader",
        namespace: ns,
        body: { ...cur, spec: { ...cur.spec, renewTime: new V1MicroTime() } },
      });
      return header(r.headers, "X-Kubernetes-PF-FlowSchema-UID") === leaderFs ? r : undefined;
    });
    expect(created.metadata?.name).toBe("leader");
    expect(header(renew.headers, "X-Kubernetes-PF-PriorityLevel-UID")).toBe(leaderElection);

    // Another ServiceAccount's Lease write is not lifted: it stays with the bootstrap schemas.
    const other = await serviceAccount("other").createNamespacedLeaseWithHttpInfo({
      namespace: ns,
      body: { metadata: { name: "other" }, spec: { holderIdentity: "x" } },
    });
    expect(header(other.headers, "X-Kubernetes-PF-FlowSchema-UID")).toBeTruthy();
    expect([agentFs, leaderFs]).not.toContain(header(other.headers, "X-Kubernetes-PF-FlowSchema-UID"));
    expect([nodeHigh, leaderElection]).not.toContain(
      header(other.headers, "X-Kubernetes-PF-PriorityLevel-UID"),
    );
  });
});
