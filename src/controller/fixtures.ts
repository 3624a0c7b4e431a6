// Objects as the API server holds them, built small, for the controller's table tests and the
// in-memory benchmark: an agent with its Node and Lease, a registered framework, an offer, a task
// Pod. Each takes the time it is built at, so a test sets the clock instead of waiting.
import type { V1Lease, V1Node, V1Pod } from "@kubernetes/client-node";
import type { Agent } from "../crds/agent.ts";
import {
  ANNOTATION_RESOURCES,
  API_VERSION,
  agentLeaseName,
  DEFAULT_LEASE_NAMESPACE,
  FINALIZER,
  LABEL_FRAMEWORK,
  LABEL_OFFER,
} from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import type { Obj } from "./cache.ts";

export const FIXTURE_API_VERSION = API_VERSION;

/** An Agent reporting `resources`, its Ready Node with that much allocatable, and its live Lease. */
export function agentOnNode(
  name: string,
  resources: Record<string, string>,
  now: number,
  opts: { leaseNamespace?: string; leaseSeconds?: number } = {},
): { agent: Obj<Agent>; node: V1Node; lease: V1Lease } {
  const agent = {
    apiVersion: FIXTURE_API_VERSION,
    kind: "Agent",
    metadata: { name },
    spec: {},
    status: { resources, attributes: {}, available: true },
  } as Obj<Agent>;
  const node: V1Node = {
    metadata: { name, labels: { "kubernetes.io/hostname": name } },
    status: {
      allocatable: resources,
      capacity: resources,
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
  const lease: V1Lease = {
    metadata: { name: agentLeaseName(name), namespace: opts.leaseNamespace ?? DEFAULT_LEASE_NAMESPACE },
    spec: {
      holderIdentity: name,
      renewTime: new Date(now) as never,
      leaseDurationSeconds: opts.leaseSeconds ?? 15,
    },
  };
  return { agent, node, lease };
}

/** A Framework that carries the operator's finalizer (registered), using every role. */
export function registeredFramework(
  namespace: string,
  name: string,
  spec: Partial<Framework["spec"]> = {},
): Obj<Framework> {
  return {
    apiVersion: FIXTURE_API_VERSION,
    kind: "Framework",
    metadata: { name, namespace, finalizers: [FINALIZER] },
    spec: { roles: ["*"], ...spec },
  } as Obj<Framework>;
}

/** An outstanding offer of `resources` on `agent`, made at `createdAt` and expiring `timeoutMs` later. */
export function outstandingOffer(o: {
  namespace: string;
  name: string;
  framework: string;
  agent: string;
  resources: Record<string, string>;
  createdAt: number;
  timeoutMs?: number;
  response?: unknown;
  leaderTerm?: number;
}): Obj<ResourceOffer> {
  return {
    apiVersion: FIXTURE_API_VERSION,
    kind: "ResourceOffer",
    metadata: {
      name: o.name,
      namespace: o.namespace,
      creationTimestamp: new Date(o.createdAt) as never,
      labels: { [LABEL_FRAMEWORK]: o.framework },
    },
    spec: {
      framework: o.framework,
      role: "*",
      agent: o.agent,
      resources: o.resources,
      expiresAt: new Date(o.createdAt + (o.timeoutMs ?? 30_000)).toISOString(),
      ...(o.response ? { response: o.response } : {}),
      ...(o.leaderTerm !== undefined ? { leaderTerm: o.leaderTerm } : {}),
    },
  } as unknown as Obj<ResourceOffer>;
}

/** A task Pod of `framework` bound to `node`, holding `resources` (the resources annotation). */
export function taskPod(o: {
  namespace: string;
  name: string;
  framework: string;
  offer: string;
  node: string;
  resources: Record<string, string>;
  phase?: string;
}): V1Pod {
  return {
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: { [LABEL_FRAMEWORK]: o.framework, [LABEL_OFFER]: o.offer },
      annotations: { [ANNOTATION_RESOURCES]: JSON.stringify(o.resources) },
    },
    spec: {
      nodeName: o.node,
      containers: [{ name: "main", image: "busybox", resources: { requests: o.resources } }],
    },
    status: { phase: o.phase ?? "Running" },
  };
}
