// The node simulator against a real kubelet: the same Pod on the real node and on a simulated
// node with the same allocatable, labels and taints must end the same way — refused at admission
// with the same reason and message, or admitted and run with the same status fields. "A simulator
// that accepts what a kubelet would refuse is a bug in the simulator."
//
// The real node is shared with other test files: every Pod here is short-lived, the admitted
// ones request (almost) nothing, and each carries the kube-offers task labels of a pool no
// operator manages, so no agent counts it as foreign load while it exists (refused Pods never
// hold anything on the kubelet). Rules that would disturb the node — a NoExecute taint (the
// taint-eviction controller would evict everyone), 110 Pods, node pressure, critical-Pod
// preemption — are covered by the admission unit tests only.
import {
  CoordinationV1Api,
  CoreV1Api,
  NodeV1Api,
  type V1Node,
  type V1Pod,
  Watch,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEFAULT_TASK_IMAGE, LABEL_FRAMEWORK, LABEL_POOL, REAL_NODE_LABEL } from "../../src/crds/contract.ts";
import { REJECTED_MESSAGE_PREFIX } from "../../src/local/kubelet-admission.ts";
import { EXIT_CODE, NodeSimulator, RUN_SECONDS, START_SECONDS } from "../../src/local/node-simulator.ts";
import { adminKubeConfig, createNamespace, deleteNamespace, uniqueName, waitFor } from "./support.ts";

const realNode = inject("realNode");
const missing = inject("realNodeMissing");
// In CI this machine kind runs containers: a missing piece there is a failure, not a skip.
if (!realNode && process.env.CI) throw new Error(`CI machine cannot run a real node: ${missing}`);

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const nodeApi = admin.makeApiClient(NodeV1Api);
/** A host port outside the agents' offered range (31000-32000), so no task is offered it. */
const HOST_PORT = 29_999;
const IGNORED_BY_POOLS = { [LABEL_FRAMEWORK]: "admission-e2e", [LABEL_POOL]: uniqueName("none") };

/** How a case's Pod should end, on both nodes. */
type Outcome = { rejected: string } | { phase: "Succeeded" | "Failed" };

interface Case {
  name: string;
  /** The Pod for one node (the node's name, its allocatable cpu in millicores). */
  spec: (node: string, cpuMilli: number) => Partial<V1Pod["spec"]>;
  labels?: Record<string, string>;
  want: Outcome;
}

const C = (over: Record<string, unknown> = {}) => ({
  name: "main",
  image: DEFAULT_TASK_IMAGE,
  command: ["true"],
  ...over,
});
const cpu = (m: number) => `${m}m`;
const requests = (r: Record<string, string>) => ({ resources: { requests: r } });

const CASES: Case[] = [
  {
    name: "cpu over allocatable",
    spec: (_, a) => ({ containers: [C(requests({ cpu: cpu(a + 1000) }))] }),
    want: { rejected: "OutOfcpu" },
  },
  {
    name: "memory over allocatable",
    spec: () => ({ containers: [C(requests({ memory: "1Ti" }))] }),
    want: { rejected: "OutOfmemory" },
  },
  {
    name: "ephemeral-storage the node does not report",
    spec: () => ({ containers: [C(requests({ "ephemeral-storage": "1Gi" }))] }),
    want: { rejected: "OutOfephemeral-storage" },
  },
  {
    name: "hugepages the node has none of",
    spec: () => ({
      containers: [
        C({
          resources: {
            requests: { "hugepages-2Mi": "2Mi", memory: "8Mi" },
            limits: { "hugepages-2Mi": "2Mi", memory: "8Mi" },
          },
        }),
      ],
    }),
    want: { rejected: "OutOfhugepages-2Mi" },
  },
  {
    name: "requests default to limits",
    spec: (_, a) => ({ containers: [C({ resources: { limits: { cpu: cpu(a + 1000) } } })] }),
    want: { rejected: "OutOfcpu" },
  },
  {
    name: "an init container counts at its own size (the max, not the sum)",
    spec: (_, a) => ({
      initContainers: [C({ name: "init", ...requests({ cpu: cpu(a + 500) }) })],
      containers: [C(requests({ cpu: "100m" }))],
    }),
    want: { rejected: "OutOfcpu" },
  },
  {
    name: "a sidecar adds to the containers",
    spec: (_, a) => ({
      initContainers: [C({ name: "side", restartPolicy: "Always", ...requests({ cpu: cpu(0.6 * a) }) })],
      containers: [C(requests({ cpu: cpu(0.6 * a) }))],
    }),
    want: { rejected: "OutOfcpu" },
  },
  {
    name: "pod overhead is added",
    spec: (_, a) => ({ runtimeClassName: runtimeClass, containers: [C(requests({ cpu: cpu(0.5 * a) }))] }),
    want: { rejected: "OutOfcpu" },
  },
  {
    name: "pod-level requests",
    spec: (_, a) => ({ resources: { requests: { cpu: cpu(a + 1000) } }, containers: [C()] }),
    want: { rejected: "OutOfcpu" },
  },
  {
    name: "nodeSelector the node does not match",
    spec: () => ({ nodeSelector: { "kubeoffers.io/no-such-label": "x" } }),
    want: { rejected: "NodeAffinity" },
  },
  {
    name: "required node affinity excluding the node by name",
    spec: (node) => ({
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchFields: [{ key: "metadata.name", operator: "NotIn", values: [node] }] },
            ],
          },
        },
      },
    }),
    want: { rejected: "NodeAffinity" },
  },
  {
    name: "a host port in use",
    spec: () => ({ containers: [C({ ports: [{ containerPort: 80, hostPort: HOST_PORT }] })] }),
    want: { rejected: "NodePorts" },
  },
  {
    name: "a host port in use, asked on one address",
    spec: () => ({
      containers: [C({ ports: [{ containerPort: 80, hostPort: HOST_PORT, hostIP: "127.0.0.1" }] })],
    }),
    want: { rejected: "NodePorts" },
  },
  {
    name: "an unsafe sysctl",
    spec: () => ({ securityContext: { sysctls: [{ name: "kernel.msgmax", value: "65536" }] } }),
    want: { rejected: "SysctlForbidden" },
  },
  {
    name: "a kubernetes.io/os label for another OS",
    spec: () => ({}),
    labels: { "kubernetes.io/os": "windows" },
    want: { rejected: "PodOSSelectorNodeLabelDoesNotMatch" },
  },
  {
    name: "spec.os for another OS",
    spec: () => ({ os: { name: "windows" } }),
    want: { rejected: "PodOSNotSupported" },
  },
  {
    name: "Strict supplemental groups on a node that does not support them",
    spec: () => ({ securityContext: { supplementalGroupsPolicy: "Strict" } }),
    want: { rejected: "SupplementalGroupsPolicyNotSupported" },
  },
  {
    name: "resources are reported before node affinity",
    spec: (_, a) => ({
      nodeSelector: { "kubeoffers.io/no-such-label": "x" },
      containers: [C(requests({ cpu: cpu(a + 1000) }))],
    }),
    want: { rejected: "OutOfcpu" },
  },
  {
    name: "sysctls are checked before resources",
    spec: (_, a) => ({
      securityContext: { sysctls: [{ name: "kernel.msgmax", value: "65536" }] },
      containers: [C(requests({ cpu: cpu(a + 1000) }))],
    }),
    want: { rejected: "SysctlForbidden" },
  },
  // Admitted: what the kubelet does not check.
  {
    name: "an untolerated NoSchedule taint (the scheduler's business, not the kubelet's)",
    spec: () => ({}),
    want: { phase: "Succeeded" },
  },
  {
    name: "an extended resource the node does not have (left to cluster-level schedulers)",
    spec: () => ({
      containers: [
        C({ resources: { requests: { "example.com/widget": "1" }, limits: { "example.com/widget": "1" } } }),
      ],
    }),
    want: { phase: "Succeeded" },
  },
  {
    name: "the same host port over UDP",
    spec: () => ({
      containers: [C({ ports: [{ containerPort: 80, hostPort: HOST_PORT, protocol: "UDP" }] })],
    }),
    want: { phase: "Succeeded" },
  },
  {
    name: "a safe sysctl",
    spec: () => ({
      securityContext: { sysctls: [{ name: "net.ipv4.ip_local_port_range", value: "32768 60999" }] },
    }),
    want: { phase: "Succeeded" },
  },
];

let ns = "";
let simNode = "";
let sim: NodeSimulator | undefined;
let runtimeClass = "";
let allocatableCpu = 0;
const watched = new Map<string, V1Pod[]>();
let stopWatch: (() => void) | undefined;

function podName(c: Case, side: "real" | "sim"): string {
  return `${side}-${CASES.indexOf(c)}`;
}

function pod(
  name: string,
  node: string,
  spec: Partial<V1Pod["spec"]>,
  more: Partial<V1Pod["metadata"]> = {},
): V1Pod {
  return {
    metadata: { name, ...more, labels: { ...IGNORED_BY_POOLS, ...more.labels } },
    spec: {
      nodeName: node,
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      containers: [C()],
      ...spec,
    } as V1Pod["spec"],
  };
}

/**
 * Every status a Pod of the namespace went through, from a watch (transient states included).
 * A watch that ends is started again: its first events are every Pod as it is then.
 */
async function watchPods(): Promise<() => void> {
  let stopped = false;
  let current: AbortController | undefined;
  const restart = (): void => {
    if (!stopped) setTimeout(() => void start().catch(restart), 200);
  };
  const start = async (): Promise<void> => {
    current = await new Watch(admin).watch(
      `/api/v1/namespaces/${ns}/pods`,
      {},
      (_type: string, p: V1Pod) => {
        const name = p.metadata?.name ?? "";
        watched.set(name, [...(watched.get(name) ?? []), p]);
      },
      restart,
    );
  };
  await start();
  return () => {
    stopped = true;
    current?.abort();
  };
}

async function settled(name: string, want: Outcome): Promise<V1Pod> {
  return waitFor(
    `${name} to end ${JSON.stringify(want)}`,
    async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns });
      const phase = p.status?.phase;
      return phase === "Succeeded" || phase === "Failed" ? p : undefined;
    },
    30_000,
    100,
  );
}

/** The message with the one number that depends on the node's other Pods masked. */
function messageShape(m: string | undefined): string {
  return (m ?? "").replace(/used: \d+/, "used: <n>");
}

describe.skipIf(!realNode)(
  `admission: the simulator refuses what the real kubelet refuses (${missing || realNode})`,
  () => {
    let real: V1Node;

    beforeAll(async () => {
      ns = await createNamespace(admin, "admission");
      stopWatch = await watchPods();
      real = await core.readNode({ name: realNode });
      const allocatable = { ...real.status?.allocatable };
      allocatableCpu = Number.parseInt(String(allocatable.cpu), 10) * 1000;
      // A simulated node like the real one: its allocatable, its taints, its well-known labels (not
      // the real-node label: the chart's agent DaemonSet would follow it here).
      const labels = Object.fromEntries(
        Object.entries(real.metadata?.labels ?? {}).filter(
          ([k]) => k !== REAL_NODE_LABEL && k !== "kubernetes.io/hostname",
        ),
      );
      simNode = uniqueName("admission-sim");
      sim = new NodeSimulator(admin);
      await sim.start([
        {
          name: simNode,
          capacity: allocatable,
          exactCapacity: true,
          labels,
          taints: real.spec?.taints ?? [],
        },
      ]);
      runtimeClass = uniqueName("admission-overhead");
      await nodeApi.createRuntimeClass({
        body: {
          metadata: { name: runtimeClass },
          handler: "runc",
          overhead: { podFixed: { cpu: cpu(0.75 * allocatableCpu) } },
        },
      });
      // A Pod holding the host port on each node, admitted and running before the cases come.
      for (const [side, node] of [
        ["real", realNode],
        ["sim", simNode],
      ] as const) {
        await core.createNamespacedPod({
          namespace: ns,
          body: pod(`${side}-port-holder`, node, {
            containers: [
              C({ command: ["sleep", "60"], ports: [{ containerPort: 80, hostPort: HOST_PORT }] }),
            ],
          }),
        });
      }
      await waitFor("the port holders Running", async () => {
        const pods = (await core.listNamespacedPod({ namespace: ns })).items;
        return (
          pods.filter((p) => p.metadata?.name?.endsWith("port-holder") && p.status?.phase === "Running")
            .length === 2
        );
      });
      // Every case on both nodes at once: refusals take milliseconds, the admitted ones a second or two.
      await Promise.all(
        CASES.flatMap((c) =>
          (["real", "sim"] as const).map((side) => {
            const node = side === "real" ? realNode : simNode;
            return core.createNamespacedPod({
              namespace: ns,
              body: pod(podName(c, side), node, c.spec(node, allocatableCpu), {
                labels: c.labels ?? {},
                annotations: { [RUN_SECONDS]: "0" },
              }),
            });
          }),
        ),
      );
    }, 120_000);

    afterAll(async () => {
      stopWatch?.();
      if (ns) {
        await core.deleteCollectionNamespacedPod({ namespace: ns, gracePeriodSeconds: 0 }).catch(() => {});
        await deleteNamespace(admin, ns);
      }
      if (runtimeClass) await nodeApi.deleteRuntimeClass({ name: runtimeClass }).catch(() => {});
      if (simNode) {
        await sim?.removeNode(simNode).catch(() => {});
        await admin
          .makeApiClient(CoordinationV1Api)
          .deleteNamespacedLease({ name: simNode, namespace: "kube-node-lease" })
          .catch(() => {});
      }
      await sim?.stop();
    });

    it("the simulated node has the real node's allocatable and taints, conditions and Lease", async () => {
      const n = await core.readNode({ name: simNode });
      expect(n.status?.allocatable).toEqual(real.status?.allocatable);
      // Simulated nodes keep the not-ready taint the API server puts on new Nodes (nothing here
      // lifts it; the real-node harness does for its nodes). NoSchedule: no matter to a kubelet.
      const taints = (x: V1Node) => x.spec?.taints?.filter((t) => t.key !== "node.kubernetes.io/not-ready");
      expect(taints(n)).toEqual(taints(real));
      const conditions = (x: V1Node) =>
        (x.status?.conditions ?? [])
          .map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message }))
          .sort((a, b) => a.type.localeCompare(b.type));
      expect(conditions(n)).toEqual(conditions(real));
      const coord = admin.makeApiClient(CoordinationV1Api);
      const lease = async (name: string) => {
        const l = await coord.readNamespacedLease({ name, namespace: "kube-node-lease" });
        return {
          owners: l.metadata?.ownerReferences?.map((o) => ({
            apiVersion: o.apiVersion,
            kind: o.kind,
            name: o.name,
          })),
          holder: l.spec?.holderIdentity,
          duration: l.spec?.leaseDurationSeconds,
        };
      };
      const [rl, sl] = await Promise.all([lease(realNode), lease(simNode)]);
      expect(sl).toEqual({ ...rl, owners: [{ ...rl.owners?.[0], name: simNode }], holder: simNode });
      expect(rl).toMatchObject({ owners: [{ kind: "Node", name: realNode }], holder: realNode });
    });

    it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
      const [r, s] = await Promise.all([
        settled(podName(c, "real"), c.want),
        settled(podName(c, "sim"), c.want),
      ]);
      const outcome = (p: V1Pod) => ({
        phase: p.status?.phase,
        reason: p.status?.reason,
        message: messageShape(p.status?.message),
      });
      if ("rejected" in c.want) {
        expect(outcome(r)).toMatchObject({ phase: "Failed", reason: c.want.rejected });
        expect(r.status?.message?.startsWith(REJECTED_MESSAGE_PREFIX)).toBe(true);
      } else {
        expect(outcome(r)).toMatchObject({ phase: c.want.phase });
      }
      expect(outcome(s)).toEqual(outcome(r));
      // The same fields (a rejected Pod: no conditions, no container statuses, a startTime).
      expect(Object.keys(s.status ?? {}).sort()).toEqual(Object.keys(r.status ?? {}).sort());
    });

    it("the kubelet's Warning event, from the simulator too", async () => {
      const c = CASES[0]!;
      const events = async (name: string) =>
        (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` }))
          .items;
      const event = (side: "real" | "sim") =>
        waitFor(`the ${side} event`, async () =>
          (await events(podName(c, side))).find((x) => x.type === "Warning"),
        );
      const [r, s] = await Promise.all([event("real"), event("sim")]);
      const shape = (e: typeof r) => ({
        type: e.type,
        reason: e.reason,
        message: messageShape(e.message),
        component: e.source?.component,
        reportingComponent: e.reportingComponent,
      });
      expect(shape(s)).toEqual(shape(r));
      expect(s.source?.host).toBe(simNode);
      expect(r.source?.host).toBe(realNode);
    });

    describe("a Pod's status as the real kubelet writes it", () => {
      // One command the real container runs and the annotations that make the simulator do the
      // same. The real Pod also waits for a ConfigMap volume, so that its Pending state (on the
      // node, ContainerCreating) lasts until the test has seen it.
      const running = (name: string, exitCode: number) =>
        [realNode, simNode].map((node, i) =>
          pod(
            `${i ? "sim" : "real"}-${name}`,
            node,
            {
              automountServiceAccountToken: true,
              volumes: [{ name: "gate", configMap: { name: `gate-${name}` } }],
              containers: [
                C({
                  command: ["sh", "-c", `sleep 4; exit ${exitCode}`],
                  resources: { requests: { cpu: "10m", memory: "8Mi" }, limits: { memory: "32Mi" } },
                  volumeMounts: [{ name: "gate", mountPath: "/gate" }],
                }),
              ],
            },
            { annotations: { [START_SECONDS]: "1", [RUN_SECONDS]: "4", [EXIT_CODE]: String(exitCode) } },
          ),
        );
      const seen = (n: string) => watched.get(n) ?? [];
      const pending = (n: string) =>
        seen(n).find((p) => p.status?.phase === "Pending" && p.status.containerStatuses?.[0]?.state?.waiting);
      const ready = (n: string) =>
        seen(n).find(
          (p) => p.status?.phase === "Running" && p.status.containerStatuses?.every((c) => c.ready),
        );

      for (const [name, exitCode, phase] of [
        ["succeeds", 0, "Succeeded"],
        ["fails", 3, "Failed"],
      ] as const) {
        it(`Pending, Running and ${phase}: the same fields, conditions and container statuses`, async () => {
          const [r, s] = running(name, exitCode) as [V1Pod, V1Pod];
          await Promise.all([r, s].map((body) => core.createNamespacedPod({ namespace: ns, body })));
          const rn = r.metadata?.name ?? "";
          const sn = s.metadata?.name ?? "";
          // Pending on the node: host IP, start time, containers waiting in ContainerCreating.
          const [rp, sp] = await Promise.all(
            [rn, sn].map((n) => waitFor(`${n} seen Pending on its node`, async () => pending(n))),
          );
          expect(shape(sp?.status)).toEqual(shape(rp?.status));
          await core.createNamespacedConfigMap({
            namespace: ns,
            body: { metadata: { name: `gate-${name}` }, data: { go: "1" } },
          });
          const final = await Promise.all([settled(rn, { phase }), settled(sn, { phase })]);
          // Running, every container ready.
          expect(ready(rn), "the real Pod seen Running and ready").toBeDefined();
          expect(shape(ready(sn)?.status)).toEqual(shape(ready(rn)?.status));
          // And how it ended.
          expect(final[0].status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(exitCode);
          expect(shape(final[1].status)).toEqual(shape(final[0].status));
        });
      }
    });
  },
);

/**
 * A status with what differs between any two Pods masked: times, addresses, container and image
 * IDs (containerd's and the simulator's are the same shape), generated volume names.
 */
function shape(v: unknown, key = ""): unknown {
  if (Array.isArray(v)) return v.map((x) => shape(x, key));
  if (v instanceof Date) return "<time>";
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x, k)]));
  }
  if (typeof v !== "string") return v;
  if (/^(startTime|lastTransitionTime|startedAt|finishedAt|lastProbeTime)$/.test(key)) return "<time>";
  if (/^(hostIP|podIP|ip)$/.test(key)) return "<ip>";
  if (key === "containerID") return v.replace(/^[a-z]+:\/\/[0-9a-f]{64}$/, "<runtime>://<id>");
  if (key === "imageID") return v.replace(/^sha256:[0-9a-f]{64}$/, "sha256:<digest>");
  return v.replace(/kube-api-access-[a-z0-9]{5}/, "kube-api-access-<x>");
}
