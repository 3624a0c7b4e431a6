// Kubernetes objects as the API server returns them, for the operator API's unit tests: two
// agents (one cordoned), two frameworks of two principals, their task Pods and an offer.
import type { V1Pod } from "@kubernetes/client-node";
import type { Agent } from "../../crds/agent.ts";
import {
  ANNOTATION_FRAMEWORK_ID,
  ANNOTATION_FRAMEWORK_INFO,
  ANNOTATION_MESOS_TASKS,
  ANNOTATION_PRINCIPAL,
  ANNOTATION_RESOURCES,
  ANNOTATION_ROLE,
  API_VERSION,
  LABEL_FRAMEWORK,
  LABEL_TASK_ID,
} from "../../crds/contract.ts";
import type { Framework } from "../../crds/framework.ts";
import type { ResourceOffer } from "../../crds/offer.ts";
import type { ResourceRole } from "../../crds/role.ts";
import type { ClusterObjects, MasterIdentity, Obj } from "../state.ts";

export const MASTER: MasterIdentity = {
  id: "m-1",
  hostname: "kube-offers.test",
  port: 5050,
  startTime: 1_700_000_000_000,
  flags: { hostname: "kube-offers.test", port: "5050" },
};

export function agent(name: string, unavailable?: { reason: string; since?: string }): Obj<Agent> {
  return {
    apiVersion: API_VERSION,
    kind: "Agent",
    metadata: { name, creationTimestamp: "2026-01-01T00:00:00Z" as never },
    spec: {},
    status: {
      node: name,
      resources: { cpu: "4", memory: "8Gi", ports: [{ begin: 31000, end: 31009 }] },
      attributes: { zone: "a" },
      available: !unavailable,
      ...(unavailable ? { unavailable } : {}),
    },
  } as unknown as Obj<Agent>;
}

export function framework(
  name: string,
  principal: string,
  o: { phase?: string; roles?: string[]; info?: Record<string, unknown> } = {},
): Obj<Framework> {
  return {
    apiVersion: API_VERSION,
    kind: "Framework",
    metadata: {
      name,
      namespace: `ns-${principal}`,
      creationTimestamp: "2026-01-01T00:01:00Z" as never,
      annotations: {
        [ANNOTATION_FRAMEWORK_ID]: `${name}-id`,
        [ANNOTATION_PRINCIPAL]: principal,
        [ANNOTATION_FRAMEWORK_INFO]: JSON.stringify(
          o.info ?? { name: `${name} display`, user: "root", hostname: "sched.host" },
        ),
      },
    },
    spec: { roles: o.roles ?? ["*"], user: "root", failoverTimeoutSeconds: 60 },
    status: { phase: o.phase ?? "Active" },
  } as unknown as Obj<Framework>;
}

export function pod(
  fw: string,
  principal: string,
  taskId: string,
  o: { phase?: string; node?: string; created?: string; deleting?: boolean } = {},
): V1Pod {
  return {
    metadata: {
      name: `${fw}-${taskId}`,
      namespace: `ns-${principal}`,
      creationTimestamp: new Date(o.created ?? "2026-01-01T00:02:00Z"),
      ...(o.deleting ? { deletionTimestamp: new Date("2026-01-01T00:09:00Z") } : {}),
      labels: { [LABEL_FRAMEWORK]: fw, [LABEL_TASK_ID]: taskId },
      annotations: {
        [ANNOTATION_RESOURCES]: JSON.stringify({ cpu: "500m", memory: "256Mi" }),
        [ANNOTATION_ROLE]: "*",
        [ANNOTATION_MESOS_TASKS]: JSON.stringify({ [taskId]: { id: `mesos-${taskId}` } }),
      },
    },
    spec: { nodeName: o.node ?? "n1", containers: [] },
    status: { phase: o.phase ?? "Running", conditions: [{ type: "Ready", status: "True" }] },
  } as V1Pod;
}

export function offer(fw: string, principal: string, agentName: string): Obj<ResourceOffer> {
  return {
    apiVersion: API_VERSION,
    kind: "ResourceOffer",
    metadata: { name: `${fw}-${agentName}-x`, namespace: `ns-${principal}` },
    spec: { framework: fw, role: "*", agent: agentName, resources: { cpu: "1", memory: "1Gi" } },
  } as unknown as Obj<ResourceOffer>;
}

export function role(name: string, weight: number): Obj<ResourceRole> {
  return {
    apiVersion: API_VERSION,
    kind: "ResourceRole",
    metadata: { name },
    spec: { weight, limits: { cpu: "8" } },
  } as unknown as Obj<ResourceRole>;
}

/** alice runs `web` (two tasks: one running, one finished) and bob runs `batch` (one running). */
export function objects(): ClusterObjects {
  return {
    agents: [agent("n1"), agent("n2", { reason: "Cordoned", since: "2026-01-02T00:00:00Z" })],
    roles: [role("eng", 2)],
    namespaces: [
      {
        namespace: "ns-alice",
        frameworks: [framework("web", "alice")],
        offers: [offer("web", "alice", "n1")],
        pods: [
          pod("web", "alice", "t1", { created: "2026-01-01T00:02:00Z" }),
          pod("web", "alice", "t2", { phase: "Succeeded", created: "2026-01-01T00:03:00Z" }),
        ],
      },
      {
        namespace: "ns-bob",
        frameworks: [framework("batch", "bob", { roles: ["eng"], phase: "Disconnected" })],
        offers: [],
        pods: [pod("batch", "bob", "b1", { node: "n2", created: "2026-01-01T00:04:00Z" })],
      },
    ],
  };
}
