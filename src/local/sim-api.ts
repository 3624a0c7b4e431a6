// What the node simulator (node-simulator.ts) writes to the API server, as a kubelet writes it:
// the Node it registers (capacity = allocatable, addresses, nodeInfo) and its conditions (Ready,
// or Unknown once its kubelet "dies"); the node's Lease in kube-node-lease, owned by the Node;
// a Pod's status, the Warning Event of a Pod refused at admission, and the final deletion of a
// Pod whose containers stopped. The simulator decides when; this says how.
import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  V1MicroTime,
  type V1Node,
  type V1Pod,
  type V1Taint,
} from "@kubernetes/client-node";
import { SIMULATED_ANNOTATION } from "../crds/contract.ts";
import { withDeadline } from "../kube/deadline.ts";
import { isAlreadyExists, isNotFound, statusCode } from "../kube/errors.ts";
import { mergePatch, microTime } from "../kube/patch.ts";
import type { Admission } from "./kubelet-admission.ts";

/**
 * A write that hangs (a connection to an API server that died) must not hold a concurrency
 * slot for minutes: it gives up after this; the resync retries it.
 */
const WRITE_DEADLINE_MS = 10_000;

const NODE_LEASE_NAMESPACE = "kube-node-lease";

/** How a write went: done, its object gone or replaced (404/409), or failed otherwise. */
export type WriteResult = "ok" | "gone" | "error";

/** The kubernetes.io/hostname label of a node: its name when that is a valid label value, else its first label. */
export function hostnameOf(node: string): string {
  return node.length <= 63 ? node : (node.split(".")[0] ?? node).slice(0, 63);
}

/** The InternalIP of the idx-th simulated node. */
export function nodeIp(idx: number): string {
  return `172.${16 + Math.floor(idx / 65000)}.${Math.floor(idx / 250) % 250}.${(idx % 250) + 1}`;
}

/** A node's conditions as its kubelet posts them; not ready: as the node controller marks a silent one. */
export function nodeConditions(ready: boolean) {
  const now = new Date().toISOString();
  const c = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  return [
    ready
      ? c("Ready", "True", "KubeletReady", "kubelet is posting ready status")
      : c("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."),
    c("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    c("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
  ];
}

/** The Node's metadata as a simulated kubelet registers it. */
export function nodeMetadata(name: string, labels: Record<string, string> | undefined) {
  return {
    name,
    // The machine's hostname: a long (cloud, FQDN) node name's first label, as `hostname -s`.
    labels: {
      "kubernetes.io/hostname": hostnameOf(name),
      "kubernetes.io/os": "linux",
      ...labels,
    },
    annotations: { [SIMULATED_ANNOTATION]: "true" },
  };
}

const within = <T>(what: string, p: Promise<T>): Promise<T> => withDeadline(what, WRITE_DEADLINE_MS, () => p);

export class SimApi {
  readonly core: CoreV1Api;
  private readonly coord: CoordinationV1Api;

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.coord = kc.makeApiClient(CoordinationV1Api);
  }

  /** Creates the Node (or finds it there) and writes its status: Ready, with capacity = allocatable. */
  async registerNode(node: {
    name: string;
    idx: number;
    labels: Record<string, string> | undefined;
    taints: V1Taint[] | undefined;
    capacity: Record<string, string>;
  }): Promise<V1Node> {
    const { name, capacity } = node;
    const metadata = nodeMetadata(name, node.labels);
    try {
      await this.core.createNode({
        body: { metadata, ...(node.taints ? { spec: { taints: node.taints } } : {}) },
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return this.core.patchNodeStatus(
      {
        name,
        body: {
          status: {
            capacity,
            allocatable: capacity,
            conditions: nodeConditions(true),
            addresses: [
              { type: "InternalIP", address: nodeIp(node.idx) },
              { type: "Hostname", address: name },
            ],
            nodeInfo: {
              architecture: "amd64",
              operatingSystem: "linux",
              kubeletVersion: "v1.34.4-sim",
              kubeProxyVersion: "",
              containerRuntimeVersion: "sim://1",
              osImage: "kube-offers simulated node",
              kernelVersion: "",
              machineID: name,
              systemUUID: name,
              bootID: name,
            },
          },
        },
      },
      mergePatch,
    );
  }

  /** The node's Ready condition: True, or Unknown as for a kubelet that stopped posting. */
  async setNodeReady(name: string, ready: boolean): Promise<void> {
    await this.core.patchNodeStatus(
      { name, body: { status: { conditions: nodeConditions(ready) } } },
      mergePatch,
    );
  }

  /** Reads the Node afresh, within the write deadline. */
  readNode(name: string): Promise<V1Node> {
    return within(`read node ${name}`, this.core.readNode({ name }));
  }

  /** Renews the node's Lease, creating it if it is missing; false when a write failed. */
  async renewLease(node: string, nodeUid: string | undefined, leaseSeconds: number): Promise<boolean> {
    const spec = { holderIdentity: node, leaseDurationSeconds: leaseSeconds, renewTime: microTime() };
    // Owned by its Node, as the kubelet's (SetNodeOwnerFunc): deleted with it.
    const metadata = nodeUid
      ? { ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node, uid: nodeUid }] }
      : {};
    try {
      await within(
        `renew the Lease of ${node}`,
        this.coord.patchNamespacedLease(
          { name: node, namespace: NODE_LEASE_NAMESPACE, body: { metadata, spec } },
          mergePatch,
        ),
      );
      return true;
    } catch (err) {
      if (!isNotFound(err)) return false;
    }
    try {
      await this.coord.createNamespacedLease({
        namespace: NODE_LEASE_NAMESPACE,
        body: {
          metadata: { name: node, namespace: NODE_LEASE_NAMESPACE, ...metadata },
          spec: { ...spec, renewTime: new V1MicroTime() },
        },
      });
      return true;
    } catch (e) {
      return isAlreadyExists(e);
    }
  }

  /** Writes a Pod's status, for that Pod only (its uid). */
  async podStatus(p: V1Pod, status: Record<string, unknown>): Promise<WriteResult> {
    const name = p.metadata?.name ?? "";
    const namespace = p.metadata?.namespace ?? "";
    try {
      await within(
        `write the status of ${namespace}/${name}`,
        this.core.patchNamespacedPodStatus(
          { name, namespace, body: { metadata: { uid: p.metadata?.uid }, status } },
          mergePatch,
        ),
      );
      return "ok";
    } catch (err) {
      return goneOrError(err);
    }
  }

  /** The Warning Event the kubelet records for a Pod refused at admission (best effort, as for the kubelet). */
  async rejectionEvent(p: V1Pod, verdict: Admission & { admitted: false }, now: string): Promise<void> {
    const nodeName = p.spec?.nodeName ?? "";
    const namespace = p.metadata?.namespace ?? "";
    await within(
      `record the rejection of ${namespace}/${p.metadata?.name}`,
      this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: `${p.metadata?.name}.${Date.now().toString(16)}${uid4()}`, namespace },
          involvedObject: {
            kind: "Pod",
            apiVersion: "v1",
            namespace,
            name: p.metadata?.name ?? "",
            uid: p.metadata?.uid ?? "",
            resourceVersion: p.metadata?.resourceVersion ?? "",
          },
          type: "Warning",
          reason: verdict.reason,
          message: verdict.message,
          source: { component: "kubelet", host: nodeName },
          reportingComponent: "kubelet",
          reportingInstance: nodeName,
          firstTimestamp: new Date(now),
          lastTimestamp: new Date(now),
          count: 1,
        },
      }),
    ).catch(() => {});
  }

  /** A kubelet confirms deletion once containers stopped: delete with grace 0, that Pod only. */
  async finishDeletion(p: V1Pod): Promise<WriteResult> {
    try {
      await within(
        `delete ${p.metadata?.namespace}/${p.metadata?.name}`,
        this.core.deleteNamespacedPod({
          name: p.metadata?.name ?? "",
          namespace: p.metadata?.namespace ?? "",
          // With a body, the API server ignores query options: grace period goes in the body.
          body: { gracePeriodSeconds: 0, preconditions: { uid: p.metadata?.uid } },
        }),
      );
      return "ok";
    } catch (err) {
      return goneOrError(err);
    }
  }
}

/** 404/409: the Pod is gone or was replaced; anything else failed. */
function goneOrError(err: unknown): WriteResult {
  return isNotFound(err) || statusCode(err) === 409 ? "gone" : "error";
}

function uid4(): string {
  return Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, "0");
}
