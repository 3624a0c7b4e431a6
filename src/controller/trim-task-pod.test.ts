import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  ACKED_PREFIX,
  ANNOTATION_MESOS_TASKS,
  NODE_STATE_ANNOTATION,
  SIM_RUN_SECONDS,
  taskPodName,
} from "../crds/contract.ts";
import type { ResourceOffer, TaskInfo } from "../crds/offer.ts";
import { taskModels } from "../mesos/state.ts";
import { podUsage } from "../resources/pod-usage.ts";
import { toResources } from "../resources/resources.ts";
import { commandTask } from "../sdk/task.ts";
import { podTaskIds } from "../sdk/tracker.ts";
import { taskStatusOf } from "../tasks/state.ts";
import { buildTaskPod } from "./task-pod.ts";
import { trimTaskPod } from "./trim-task-pod.ts";
import { podAllocation } from "./views.ts";

const NODE = "ip-10-0-0-1.ec2.internal";
const offer = {
  metadata: { name: "fw-o1", namespace: "team" },
  spec: { framework: "fw", role: "eng/batch", agent: NODE },
} as unknown as ResourceOffer;

/** A task Pod as the operator builds it, then as the API server hands it back: defaulted, with the token volume, managed fields and `status`. */
function served(status: V1Pod["status"], extra: Partial<V1Pod["metadata"]> = {}): V1Pod {
  const task = commandTask({
    id: "t1",
    resources: { cpu: "500m", memory: "256Mi", ports: [{ begin: 31000, end: 31001 }] },
    shell: "sleep 60",
    env: { BIG: "x".repeat(4000) },
    annotations: { "team.example.com/owner": "alice", [SIM_RUN_SECONDS]: "3" },
  }) as unknown as TaskInfo;
  const pod = buildTaskPod(
    offer,
    taskPodName("fw", "t1"),
    task,
    toResources({ cpu: "500m", memory: "256Mi", ports: [{ begin: 31000, end: 31001 }] }),
    { frameworkUid: "fw-uid" },
  );
  const c = pod.spec?.containers[0];
  if (!c || !pod.spec || !pod.metadata) throw new Error("no container");
  Object.assign(c, {
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    imagePullPolicy: "IfNotPresent",
    volumeMounts: [
      {
        name: "kube-api-access-x7k2p",
        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
        readOnly: true,
      },
    ],
  });
  Object.assign(pod.spec, {
    dnsPolicy: "ClusterFirst",
    schedulerName: "default-scheduler",
    serviceAccountName: "default",
    securityContext: {},
    enableServiceLinks: true,
    priority: 0,
    preemptionPolicy: "PreemptLowerPriority",
    tolerations: [
      {
        key: "node.kubernetes.io/not-ready",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300,
      },
      {
        key: "node.kubernetes.io/unreachable",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300,
      },
    ],
    volumes: [
      {
        name: "kube-api-access-x7k2p",
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
            { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
            {
              downwardAPI: {
                items: [
                  { path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } },
                ],
              },
            },
          ],
        },
      },
    ],
  });
  Object.assign(pod.metadata, {
    uid: "pod-uid",
    resourceVersion: "1234",
    creationTimestamp: new Date("2026-12-01T10:00:00Z"),
    managedFields: [
      { manager: "kube-offers", operation: "Update", fieldsV1: { "f:spec": { "f:containers": {} } } },
    ],
    ...extra,
  });
  pod.metadata.annotations = {
    ...pod.metadata.annotations,
    [ANNOTATION_MESOS_TASKS]: JSON.stringify({ t1: { id: "mesos-task-1" } }),
    [`${ACKED_PREFIX}t1`]: "TASK_RUNNING",
    ...(extra.annotations ?? {}),
  };
  pod.status = status;
  return pod;
}

const conditions = [
  { type: "PodScheduled", status: "True", lastTransitionTime: new Date() },
  { type: "Initialized", status: "True", lastTransitionTime: new Date() },
  { type: "Ready", status: "True", lastTransitionTime: new Date() },
];
const cs = (state: object) => [
  {
    name: "main",
    image: "busybox:1.36",
    imageID: "docker.io/library/busybox@sha256:abc",
    containerID: "containerd://def",
    ready: true,
    restartCount: 0,
    started: true,
    state,
  },
];

const cases: [string, V1Pod][] = [
  ["created, no status", served(undefined)],
  ["pending on the node", served({ phase: "Pending", startTime: new Date(), conditions })],
  [
    "image pull failing",
    served({
      phase: "Pending",
      startTime: new Date(),
      containerStatuses: cs({ waiting: { reason: "ErrImagePull", message: "not found" } }),
    }),
  ],
  [
    "running",
    served({
      phase: "Running",
      startTime: new Date(),
      podIP: "10.1.0.5",
      hostIP: "10.0.0.1",
      qosClass: "Guaranteed",
      conditions,
      containerStatuses: cs({ running: { startedAt: new Date() } }),
    }),
  ],
  [
    "finished",
    served({
      phase: "Succeeded",
      containerStatuses: cs({ terminated: { exitCode: 0, reason: "Completed" } }),
    }),
  ],
  [
    "OOM killed",
    served({
      phase: "Failed",
      containerStatuses: cs({ terminated: { exitCode: 137, reason: "OOMKilled" } }),
    }),
  ],
  [
    "killed while deleted",
    served(
      { phase: "Failed", containerStatuses: cs({ terminated: { exitCode: 143, reason: "Error" } }) },
      { deletionTimestamp: new Date() },
    ),
  ],
  [
    "evicted",
    served({ phase: "Failed", reason: "Evicted", message: "The node was low on resource: memory." }),
  ],
  [
    "on an unreachable node",
    served({ phase: "Running", conditions }, { annotations: { [NODE_STATE_ANNOTATION]: "unreachable" } }),
  ],
];

describe("trimTaskPod", () => {
  it.each(cases)("%s: every reader sees what it saw in the whole Pod", (_, full) => {
    const trimmed = structuredClone(full);
    trimTaskPod(trimmed);
    const lost = { exists: false, ready: false };
    const unready = { exists: true, ready: false };
    for (const node of [undefined, lost, unready])
      expect(taskStatusOf(trimmed, node)).toEqual(taskStatusOf(full, node));
    expect(podAllocation(trimmed)).toEqual(podAllocation(full));
    expect(podUsage(trimmed)).toEqual(podUsage(full));
    expect(taskModels(trimmed, "fw-id")).toEqual(taskModels(full, "fw-id"));
    expect(podTaskIds(trimmed)).toEqual(podTaskIds(full));
    for (const k of [
      "name",
      "namespace",
      "uid",
      "resourceVersion",
      "creationTimestamp",
      "deletionTimestamp",
      "labels",
      "ownerReferences",
    ] as const)
      expect(trimmed.metadata?.[k]).toEqual(full.metadata?.[k]);
    expect(trimmed.spec?.nodeName).toBe(NODE);
  });

  it("drops what no reader looks at: token volume, env, command, defaults, conditions, other annotations", () => {
    const full = cases.find(([n]) => n === "running")?.[1] as V1Pod;
    const trimmed = structuredClone(full);
    trimTaskPod(trimmed);
    expect(trimmed.metadata?.managedFields).toBeUndefined();
    expect(Object.keys(trimmed.metadata?.annotations ?? {}).sort()).toEqual(
      Object.keys(full.metadata?.annotations ?? {})
        .filter((k) => k !== "team.example.com/owner")
        .sort(),
    );
    expect(trimmed.spec?.volumes).toBeUndefined();
    expect(trimmed.spec?.tolerations).toBeUndefined();
    expect(trimmed.spec?.containers).toEqual([
      {
        name: "main",
        resources: full.spec?.containers[0]?.resources,
        ports: [
          { containerPort: 31000, hostPort: 31000, protocol: "TCP" },
          { containerPort: 31001, hostPort: 31001, protocol: "TCP" },
        ],
      },
    ]);
    expect(trimmed.status?.conditions).toBeUndefined();
    expect(trimmed.status?.containerStatuses?.[0]).toEqual({
      name: "main",
      state: { running: { startedAt: full.status?.containerStatuses?.[0]?.state?.running?.startedAt } },
    });
    expect(JSON.stringify(trimmed).length).toBeLessThan(JSON.stringify(full).length / 4);
  });
});
