import type { V1Container, V1Node, V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { podRequests } from "../resources/pod-requests.ts";
import { type Admission, admitPod } from "./kubelet-admission.ts";

const NODE = "n1";

function node(
  over: { allocatable?: Record<string, string>; labels?: Record<string, string> } & Partial<V1Node> = {},
): V1Node {
  const { allocatable, labels, ...rest } = over;
  return {
    metadata: {
      name: NODE,
      labels: { "kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux", ...labels },
    },
    ...rest,
    status: { allocatable: allocatable ?? { cpu: "2", memory: "4Gi", pods: "110" }, ...rest.status },
  };
}

let seq = 0;
function pod(spec: Partial<V1PodSpec> = {}, meta: V1Pod["metadata"] = {}, status?: V1Pod["status"]): V1Pod {
  seq++;
  return {
    metadata: { name: `p${seq}`, namespace: "ns", uid: `uid-${seq}`, ...meta },
    spec: { nodeName: NODE, containers: [c()], ...spec },
    ...(status ? { status } : {}),
  };
}

function c(requests?: Record<string, string>, over: Partial<V1Container> = {}): V1Container {
  return { name: `c${++seq}`, image: "busybox", ...(requests ? { resources: { requests } } : {}), ...over };
}

const ok: Admission = { admitted: true };
const rejected = (reason: string, message: string): Admission => ({ admitted: false, reason, message });
const outOf = (r: string, requested: number | bigint, used: number | bigint, capacity: number | bigint) =>
  rejected(
    `OutOf${r}`,
    `Node didn't have enough resource: ${r}, requested: ${requested}, used: ${used}, capacity: ${capacity}`,
  );
const predicate = (name: string, desc: string) => rejected(name, `Predicate ${name} failed: ${desc}`);
const AFFINITY = predicate("NodeAffinity", "node(s) didn't match Pod's node affinity/selector");
const PORTS = predicate("NodePorts", "node(s) didn't have free ports for the requested pod ports");
const TAINT = predicate("TaintToleration", "node(s) had taints that the pod didn't tolerate");
const GiB = 2 ** 30;

describe("resource fit", () => {
  const cases: [string, V1Pod[], V1Pod, Admission][] = [
    ["fits exactly", [], pod({ containers: [c({ cpu: "2", memory: "4Gi" })] }), ok],
    ["cpu over allocatable", [], pod({ containers: [c({ cpu: "2001m" })] }), outOf("cpu", 2001, 0, 2000)],
    [
      "cpu over what the others left",
      [pod({ containers: [c({ cpu: "1500m" })] }), pod({ containers: [c({ cpu: "250m" })] })],
      pod({ containers: [c({ cpu: "300m" })] }),
      outOf("cpu", 300, 1750, 2000),
    ],
    ["memory", [], pod({ containers: [c({ memory: "5Gi" })] }), outOf("memory", 5 * GiB, 0, 4 * GiB)],
    [
      "cpu is reported before memory",
      [],
      pod({ containers: [c({ cpu: "3", memory: "5Gi" })] }),
      outOf("cpu", 3000, 0, 2000),
    ],
    [
      "ephemeral-storage the node does not report",
      [],
      pod({ containers: [c({ "ephemeral-storage": "1Gi" })] }),
      outOf("ephemeral-storage", GiB, 0, 0),
    ],
    [
      "hugepages the node has none of",
      [],
      pod({ containers: [c({ "hugepages-2Mi": "2Mi", memory: "10Mi" })] }),
      outOf("hugepages-2Mi", 2 ** 21, 0, 0),
    ],
    [
      "an extended resource the node lacks is ignored (cluster-level)",
      [],
      pod({ containers: [c({ "example.com/foo": "1" })] }),
      ok,
    ],
    [
      "an extended resource the node has is counted",
      [pod({ containers: [c({ "example.com/gpu": "1" })] })],
      pod({ containers: [c({ "example.com/gpu": "1" })] }),
      // (allocatable below has example.com/gpu: 1)
      outOf("example.com/gpu", 1, 1, 1),
    ],
    [
      "requests default to limits",
      [],
      pod({ containers: [c(undefined, { resources: { limits: { cpu: "3" } } })] }),
      outOf("cpu", 3000, 0, 2000),
    ],
    [
      "an explicit request is not replaced by the limit",
      [],
      pod({ containers: [c(undefined, { resources: { requests: { cpu: "1" }, limits: { cpu: "3" } } })] }),
      ok,
    ],
    [
      "requests round up to the millicore and sum exactly",
      [],
      pod({ containers: [c({ cpu: "0.0001" }), c({ cpu: "1999.9m" })] }),
      ok, // 0.1m + 1999.9m = 2000m exactly
    ],
    [
      "a fraction of a millicore rounds up",
      [],
      pod({ containers: [c({ cpu: "2000.1m" })] }),
      outOf("cpu", 2001, 0, 2000),
    ],
    ["no requests, no check but pods", [pod({ containers: [c({ cpu: "2" })] })], pod(), ok],
  ];
  const gpuNode = node({ allocatable: { cpu: "2", memory: "4Gi", pods: "110", "example.com/gpu": "1" } });
  it.each(cases)("%s", (_, others, p, want) => {
    expect(admitPod(gpuNode, others, p)).toEqual(want);
  });

  it("pods: one more than allocatable pods is refused, counting every admitted Pod", () => {
    const n = node({ allocatable: { cpu: "2", memory: "4Gi", pods: "2" } });
    expect(admitPod(n, [pod()], pod())).toEqual(ok);
    expect(admitPod(n, [pod(), pod()], pod())).toEqual(outOf("pods", 1, 2, 2));
    // Reported first, before cpu.
    expect(admitPod(n, [pod(), pod()], pod({ containers: [c({ cpu: "9" })] }))).toEqual(
      outOf("pods", 1, 2, 2),
    );
  });

  it("a node without allocatable pods admits nothing", () => {
    expect(admitPod(node({ allocatable: { cpu: "2" } }), [], pod())).toEqual(outOf("pods", 1, 0, 0));
  });

  it("terminated Pods hold nothing; Pods being deleted still do", () => {
    const big = (phase?: string, deleting = false) =>
      pod(
        { containers: [c({ cpu: "1500m" })] },
        deleting ? { deletionTimestamp: new Date() } : {},
        phase ? { phase } : undefined,
      );
    const p = () => pod({ containers: [c({ cpu: "1" })] });
    expect(admitPod(node(), [big("Succeeded"), big("Failed")], p())).toEqual(ok);
    expect(admitPod(node(), [big("Running")], p())).toEqual(outOf("cpu", 1000, 1500, 2000));
    expect(admitPod(node(), [big("Pending")], p())).toEqual(outOf("cpu", 1000, 1500, 2000));
    expect(admitPod(node(), [big("Running", true)], p())).toEqual(outOf("cpu", 1000, 1500, 2000));
  });

  it("the Pod itself is not counted twice (by uid, or by name without one)", () => {
    const self = pod({ containers: [c({ cpu: "1500m" })] });
    expect(admitPod(node(), [self], self)).toEqual(ok);
    const a = { ...self, metadata: { name: "x", namespace: "ns" } };
    expect(admitPod(node(), [{ ...a }], a)).toEqual(ok);
    // Same name in another namespace is another Pod.
    expect(admitPod(node(), [{ ...a, metadata: { name: "x", namespace: "other" } }], a)).toEqual(
      outOf("cpu", 1500, 1500, 2000),
    );
  });
});

describe("effective requests", () => {
  const cpu = (p: V1Pod) => podRequests(p).get("cpu") ?? 0n;
  const sidecar = (req: Record<string, string>) => c(req, { restartPolicy: "Always" });

  it.each<[string, Partial<V1PodSpec>, number]>([
    ["sum of containers", { containers: [c({ cpu: "1" }), c({ cpu: "500m" })] }, 1500],
    [
      "an init container larger than the containers: the max",
      { initContainers: [c({ cpu: "3" })], containers: [c({ cpu: "1" })] },
      3000,
    ],
    [
      "init containers smaller: the sum of containers",
      { initContainers: [c({ cpu: "1" })], containers: [c({ cpu: "1" }), c({ cpu: "1" })] },
      2000,
    ],
    [
      "init containers run one at a time: the largest, not their sum",
      { initContainers: [c({ cpu: "1" }), c({ cpu: "2" })], containers: [c({ cpu: "500m" })] },
      2000,
    ],
    [
      "a sidecar adds to the containers",
      { initContainers: [sidecar({ cpu: "1200m" })], containers: [c({ cpu: "1200m" })] },
      2400,
    ],
    [
      "an init container after a sidecar runs beside it",
      { initContainers: [sidecar({ cpu: "1" }), c({ cpu: "2" })], containers: [c({ cpu: "100m" })] },
      3000,
    ],
    [
      "an init container before a sidecar does not",
      { initContainers: [c({ cpu: "2" }), sidecar({ cpu: "1" })], containers: [c({ cpu: "100m" })] },
      2000,
    ],
    ["overhead is added", { overhead: { cpu: "1500m" }, containers: [c({ cpu: "1" })] }, 2500],
    [
      "pod-level requests replace the containers'",
      { resources: { requests: { cpu: "3" } }, containers: [c({ cpu: "1" })] },
      3000,
    ],
    [
      "pod-level limits alone: requests default to the containers', else to the limits",
      { resources: { limits: { cpu: "4", memory: "1Gi" } }, containers: [c({ cpu: "1" })] },
      1000,
    ],
    [
      "pod-level limits without container requests",
      { resources: { limits: { cpu: "4" } }, containers: [c()] },
      4000,
    ],
    [
      "pod-level plus overhead",
      { resources: { requests: { cpu: "1" } }, overhead: { cpu: "250m" }, containers: [c()] },
      1250,
    ],
  ])("%s", (_, spec, want) => {
    expect(cpu(pod(spec))).toBe(BigInt(want));
  });

  it("pod-level limits default memory to the limit when no container asks", () => {
    expect(
      podRequests(
        pod({ resources: { limits: { cpu: "4", memory: "1Gi" } }, containers: [c({ cpu: "1" })] }),
      ).get("memory"),
    ).toBe(BigInt(GiB));
  });

  it("existing Pods count with the same arithmetic", () => {
    const existing = pod({
      initContainers: [sidecar({ cpu: "500m" })],
      overhead: { cpu: "250m" },
      containers: [c({ cpu: "500m" })],
    });
    expect(admitPod(node(), [existing], pod({ containers: [c({ cpu: "1" })] }))).toEqual(
      outOf("cpu", 1000, 1250, 2000),
    );
  });
});

describe("host ports", () => {
  const port = (hostPort: number, over: { protocol?: string; hostIP?: string } = {}) =>
    c(undefined, { ports: [{ containerPort: 80, hostPort, ...over }] });
  const holder = pod({ containers: [port(31999)] });
  it.each<[string, V1Pod[], V1Pod, Admission]>([
    ["the same port", [holder], pod({ containers: [port(31999)] }), PORTS],
    ["another port", [holder], pod({ containers: [port(31998)] }), ok],
    ["the same port over UDP", [holder], pod({ containers: [port(31999, { protocol: "UDP" })] }), ok],
    [
      "a specific IP against 0.0.0.0",
      [holder],
      pod({ containers: [port(31999, { hostIP: "127.0.0.1" })] }),
      PORTS,
    ],
    [
      "two specific IPs",
      [pod({ containers: [port(31999, { hostIP: "10.0.0.1" })] })],
      pod({ containers: [port(31999, { hostIP: "10.0.0.2" })] }),
      ok,
    ],
    [
      "0.0.0.0 against a specific IP",
      [pod({ containers: [port(31999, { hostIP: "10.0.0.1" })] })],
      pod({ containers: [port(31999)] }),
      PORTS,
    ],
    [
      "a sidecar's port is held",
      [pod({ initContainers: [{ ...port(31999), restartPolicy: "Always" }] })],
      pod({ containers: [port(31999)] }),
      PORTS,
    ],
    [
      "a plain init container's port is not",
      [pod({ initContainers: [port(31999)] })],
      pod({ containers: [port(31999)] }),
      ok,
    ],
    [
      "a terminated Pod's port is free",
      [pod({ containers: [port(31999)] }, {}, { phase: "Succeeded" })],
      pod({ containers: [port(31999)] }),
      ok,
    ],
    [
      "host network: the container port is the host port",
      [pod({ hostNetwork: true, containers: [c(undefined, { ports: [{ containerPort: 31999 }] })] })],
      pod({ containers: [port(31999)] }),
      PORTS,
    ],
    [
      "a Pod's own ports don't conflict with each other",
      [],
      pod({ containers: [port(31999), port(31999)] }),
      ok,
    ],
  ])("%s", (_, others, p, want) => {
    expect(admitPod(node(), others, p)).toEqual(want);
  });
});

describe("node name, selector and affinity", () => {
  const n = node({ labels: { zone: "a", size: "10" } });
  const req = (...terms: { key: string; operator: string; values?: string[] }[][]) => ({
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
        },
      },
    },
  });
  it.each<[string, Partial<V1PodSpec>, Admission]>([
    ["nodeSelector matches", { nodeSelector: { zone: "a" } }, ok],
    ["nodeSelector value differs", { nodeSelector: { zone: "b" } }, AFFINITY],
    ["nodeSelector label missing", { nodeSelector: { rack: "r1" } }, AFFINITY],
    ["In", req([{ key: "zone", operator: "In", values: ["b", "a"] }]), ok],
    ["In, other values", req([{ key: "zone", operator: "In", values: ["b"] }]), AFFINITY],
    ["NotIn", req([{ key: "zone", operator: "NotIn", values: ["b"] }]), ok],
    ["NotIn on a missing label", req([{ key: "rack", operator: "NotIn", values: ["r1"] }]), ok],
    ["NotIn, excluded", req([{ key: "zone", operator: "NotIn", values: ["a"] }]), AFFINITY],
    ["Exists", req([{ key: "zone", operator: "Exists" }]), ok],
    ["DoesNotExist", req([{ key: "zone", operator: "DoesNotExist" }]), AFFINITY],
    ["Gt", req([{ key: "size", operator: "Gt", values: ["9"] }]), ok],
    ["Gt, not greater", req([{ key: "size", operator: "Gt", values: ["10"] }]), AFFINITY],
    ["Lt", req([{ key: "size", operator: "Lt", values: ["11"] }]), ok],
    ["Lt on a non-integer label", req([{ key: "zone", operator: "Lt", values: ["11"] }]), AFFINITY],
    [
      "all expressions of a term must match",
      req([
        { key: "zone", operator: "In", values: ["a"] },
        { key: "rack", operator: "Exists" },
      ]),
      AFFINITY,
    ],
    [
      "any term may match",
      req([{ key: "rack", operator: "Exists" }], [{ key: "zone", operator: "In", values: ["a"] }]),
      ok,
    ],
    [
      "an empty term matches nothing",
      {
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } },
        },
      },
      AFFINITY,
    ],
    [
      "matchFields metadata.name In",
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchFields: [{ key: "metadata.name", operator: "In", values: [NODE] }] },
              ],
            },
          },
        },
      },
      ok,
    ],
    [
      "matchFields metadata.name NotIn",
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchFields: [{ key: "metadata.name", operator: "NotIn", values: [NODE] }] },
              ],
            },
          },
        },
      },
      AFFINITY,
    ],
    [
      "nodeSelector and affinity must both match",
      { nodeSelector: { zone: "b" }, ...req([{ key: "zone", operator: "Exists" }]) },
      AFFINITY,
    ],
    [
      "preferred affinity is not required",
      {
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 1, preference: { matchExpressions: [{ key: "rack", operator: "Exists" }] } },
            ],
          },
        },
      },
      ok,
    ],
    [
      "bound to another node",
      { nodeName: "n2" },
      predicate("NodeName", "node(s) didn't match the requested node name"),
    ],
  ])("%s", (_, spec, want) => {
    expect(admitPod(n, [], pod(spec))).toEqual(want);
  });
});

describe("taints", () => {
  const tainted = (effect: string) => node({ spec: { taints: [{ key: "k", value: "v", effect }] } });
  it.each<[string, string, V1PodSpec["tolerations"], Admission]>([
    ["NoSchedule is the scheduler's business, not the kubelet's", "NoSchedule", undefined, ok],
    ["PreferNoSchedule too", "PreferNoSchedule", undefined, ok],
    ["untolerated NoExecute", "NoExecute", undefined, TAINT],
    [
      "tolerated by key and value",
      "NoExecute",
      [{ key: "k", operator: "Equal", value: "v", effect: "NoExecute" }],
      ok,
    ],
    ["operator defaults to Equal", "NoExecute", [{ key: "k", value: "v" }], ok],
    ["another value does not tolerate", "NoExecute", [{ key: "k", operator: "Equal", value: "w" }], TAINT],
    ["Exists ignores the value", "NoExecute", [{ key: "k", operator: "Exists" }], ok],
    ["an empty key with Exists tolerates everything", "NoExecute", [{ operator: "Exists" }], ok],
    [
      "a toleration for another effect does not",
      "NoExecute",
      [{ key: "k", operator: "Exists", effect: "NoSchedule" }],
      TAINT,
    ],
  ])("%s", (_, effect, tolerations, want) => {
    expect(admitPod(tainted(effect), [], pod(tolerations ? { tolerations } : {}))).toEqual(want);
  });
});

describe("sysctls, OS and supplemental groups", () => {
  const sysctl = (name: string, more: Partial<V1PodSpec> = {}) =>
    pod({ securityContext: { sysctls: [{ name, value: "1" }] }, ...more });
  it.each<[string, V1Pod, Admission]>([
    ["a safe sysctl", sysctl("net.ipv4.ip_local_port_range"), ok],
    ["in slash form", sysctl("net/ipv4/ip_local_port_range"), ok],
    [
      "an unsafe sysctl",
      sysctl("kernel.msgmax"),
      rejected("SysctlForbidden", 'forbidden sysctl: "kernel.msgmax" not allowlisted'),
    ],
    [
      "a net sysctl with the host network",
      sysctl("net.ipv4.tcp_syncookies", { hostNetwork: true }),
      rejected(
        "SysctlForbidden",
        'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host Net enabled',
      ),
    ],
    [
      "an IPC sysctl with host IPC",
      sysctl("kernel.shm_rmid_forced", { hostIPC: true }),
      rejected(
        "SysctlForbidden",
        'forbidden sysctl: "kernel.shm_rmid_forced" not allowed with host IPC enabled',
      ),
    ],
    [
      "the OS label",
      pod({}, { labels: { "kubernetes.io/os": "windows" } }),
      rejected(
        "PodOSSelectorNodeLabelDoesNotMatch",
        "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label",
      ),
    ],
    ["the OS label saying linux", pod({}, { labels: { "kubernetes.io/os": "linux" } }), ok],
    [
      "the OS field",
      pod({ os: { name: "windows" } }),
      rejected("PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS"),
    ],
    [
      "Strict supplemental groups on a node without the feature",
      pod({ securityContext: { supplementalGroupsPolicy: "Strict" } }),
      rejected(
        "SupplementalGroupsPolicyNotSupported",
        "SupplementalGroupsPolicy=Strict is not supported in this node",
      ),
    ],
    ["Merge supplemental groups", pod({ securityContext: { supplementalGroupsPolicy: "Merge" } }), ok],
  ])("%s", (_, p, want) => {
    expect(admitPod(node(), [], p)).toEqual(want);
  });

  it("Strict supplemental groups on a node that supports it", () => {
    const n = node({ status: { features: { supplementalGroupsPolicy: true } } });
    expect(admitPod(n, [], pod({ securityContext: { supplementalGroupsPolicy: "Strict" } }))).toEqual(ok);
  });
});

describe("node pressure", () => {
  const pressured = (...types: string[]) =>
    node({ status: { conditions: types.map((type) => ({ type, status: "True" })) } });
  const burstable = () => pod({ containers: [c({ cpu: "100m" })] });
  it.each<[string, V1Node, V1Pod, Admission]>([
    ["no pressure", pressured(), pod(), ok],
    [
      "memory pressure refuses BestEffort",
      pressured("MemoryPressure"),
      pod(),
      rejected("Evicted", "The node had condition: [MemoryPressure]. "),
    ],
    ["memory pressure admits Burstable", pressured("MemoryPressure"), burstable(), ok],
    [
      "memory pressure admits BestEffort that tolerates it",
      pressured("MemoryPressure"),
      pod({
        tolerations: [
          { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
        ],
      }),
      ok,
    ],
    [
      "disk pressure refuses everyone",
      pressured("DiskPressure"),
      burstable(),
      rejected("Evicted", "The node had condition: [DiskPressure]. "),
    ],
    [
      "two conditions",
      pressured("MemoryPressure", "PIDPressure"),
      burstable(),
      rejected("Evicted", "The node had condition: [MemoryPressure PIDPressure]. "),
    ],
    ["critical Pods pass", pressured("DiskPressure"), pod({ priority: 2_000_000_000 }), ok],
  ])("%s", (_, n, p, want) => {
    expect(admitPod(n, [], p)).toEqual(want);
  });
});

describe("order: the first refusal is the reason", () => {
  const big = [c({ cpu: "3" })];
  it.each<[string, V1Node, V1Pod, Admission]>([
    [
      "resources before node affinity",
      node(),
      pod({ containers: big, nodeSelector: { no: "such" } }),
      outOf("cpu", 3000, 0, 2000),
    ],
    [
      "sysctls before resources",
      node(),
      pod({ containers: big, securityContext: { sysctls: [{ name: "kernel.msgmax", value: "1" }] } }),
      rejected("SysctlForbidden", 'forbidden sysctl: "kernel.msgmax" not allowlisted'),
    ],
    [
      "the OS label before resources",
      node(),
      pod({ containers: big }, { labels: { "kubernetes.io/os": "windows" } }),
      rejected(
        "PodOSSelectorNodeLabelDoesNotMatch",
        "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label",
      ),
    ],
    [
      "node affinity before ports before taints",
      node({ spec: { taints: [{ key: "k", effect: "NoExecute" }] } }),
      pod({ nodeSelector: { no: "such" } }),
      AFFINITY,
    ],
    [
      "eviction first of all",
      node({ status: { conditions: [{ type: "DiskPressure", status: "True" }] } }),
      pod({ containers: big, securityContext: { sysctls: [{ name: "kernel.msgmax", value: "1" }] } }),
      rejected("Evicted", "The node had condition: [DiskPressure]. "),
    ],
  ])("%s", (_, n, p, want) => {
    expect(admitPod(n, [], p)).toEqual(want);
  });
});

describe("critical Pods", () => {
  const critical = (spec: Partial<V1PodSpec>) => pod({ priority: 2_000_000_000, ...spec });
  it("are not refused for resources (the kubelet would preempt to make room)", () => {
    expect(admitPod(node(), [], critical({ containers: [c({ cpu: "3" })] }))).toEqual(ok);
    const mirror = pod(
      { containers: [c({ cpu: "3" })] },
      { annotations: { "kubernetes.io/config.mirror": "x" } },
    );
    expect(admitPod(node(), [], mirror)).toEqual(ok);
  });
  it("are refused for anything else, that reason first", () => {
    expect(
      admitPod(node(), [], critical({ containers: [c({ cpu: "3" })], nodeSelector: { no: "such" } })),
    ).toEqual(AFFINITY);
  });
  it("priority just below is not critical", () => {
    expect(admitPod(node(), [], pod({ priority: 1_999_999_999, containers: [c({ cpu: "3" })] }))).toEqual(
      outOf("cpu", 3000, 0, 2000),
    );
  });
});
