// The status a kubelet writes for each step of a Pod's life, as the node simulator writes it.
import { createHash } from "node:crypto";
import type { V1Container, V1Pod, V1PodCondition } from "@kubernetes/client-node";
import { REJECTED_MESSAGE_PREFIX } from "./kubelet-admission.ts";

// Modelled on kubelet v1.34 (pkg/kubelet/kubelet_pods.go generateAPIPodStatus, status_manager.go,
// and what a real kubelet writes: test/e2e/real-admission.test.ts compares them). Merge patches
// replace lists whole, so every write carries all conditions and container statuses.

const SIDECAR = "Always";

/** The Pod was refused at admission (kubelet.rejectPod): Failed, with no containers or conditions. */
export function rejectedStatus(p: V1Pod, verdict: { reason: string; message: string }, now: string) {
  return {
    phase: "Failed",
    reason: verdict.reason,
    message: REJECTED_MESSAGE_PREFIX + verdict.message,
    startTime: iso(p.status?.startTime) ?? now,
    ...observed(p),
  };
}

/** Admitted, containers being created: Pending on the node, waiting in ContainerCreating/PodInitializing. */
export function pendingStatus(p: V1Pod, o: { hostIP: string; startTime: string; now: string }) {
  const init = p.spec?.initContainers ?? [];
  const waiting = { waiting: { reason: init.length ? "PodInitializing" : "ContainerCreating" } };
  const notReady = [...init.filter((c) => c.restartPolicy === SIDECAR), ...(p.spec?.containers ?? [])];
  return {
    phase: "Pending",
    hostIP: o.hostIP,
    hostIPs: [{ ip: o.hostIP }],
    startTime: o.startTime,
    ...observed(p),
    conditions: conditions(p, o.now, [
      ["PodReadyToStartContainers", "False"],
      init.length
        ? [
            "Initialized",
            "False",
            "ContainersNotInitialized",
            `containers with incomplete status: [${names(init)}]`,
          ]
        : ["Initialized", "True"],
      ["Ready", "False", "ContainersNotReady", `containers with unready status: [${names(notReady)}]`],
      [
        "ContainersReady",
        "False",
        "ContainersNotReady",
        `containers with unready status: [${names(notReady)}]`,
      ],
      ["PodScheduled", "True"],
    ]),
    ...(init.length ? { initContainerStatuses: init.map((c) => waitingStatus(c, waiting)) } : {}),
    containerStatuses: (p.spec?.containers ?? []).map((c) => waitingStatus(c, waiting)),
  };
}

/** Every container running (init containers done, sidecars running), all Ready. */
export function runningStatus(
  p: V1Pod,
  o: { hostIP: string; podIP: string; startTime: string; now: string },
) {
  const init = p.spec?.initContainers ?? [];
  return {
    phase: "Running",
    hostIP: o.hostIP,
    hostIPs: [{ ip: o.hostIP }],
    podIP: o.podIP,
    podIPs: [{ ip: o.podIP }],
    startTime: o.startTime,
    ...observed(p),
    conditions: conditions(p, o.now, [
      ["PodReadyToStartContainers", "True"],
      ["Initialized", "True"],
      ["Ready", "True"],
      ["ContainersReady", "True"],
      ["PodScheduled", "True"],
    ]),
    ...(init.length
      ? {
          initContainerStatuses: init.map((c) =>
            c.restartPolicy === SIDECAR
              ? startedStatus(p, c, { running: { startedAt: o.now } }, true)
              : startedStatus(p, c, terminated(p, c, 0, o.now, o.now), true),
          ),
        }
      : {}),
    containerStatuses: (p.spec?.containers ?? []).map((c) =>
      startedStatus(p, c, { running: { startedAt: o.now } }, true),
    ),
  };
}

/** Every container exited with `exitCode` (sidecars stopped cleanly): Succeeded on 0, else Failed. */
export function exitedStatus(p: V1Pod, exitCode: number, now: string) {
  const init = p.spec?.initContainers ?? [];
  const ok = exitCode === 0;
  const why = ok ? "PodCompleted" : "PodFailed";
  const startedAt = (c: V1Container) =>
    iso(
      [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].find(
        (s) => s.name === c.name,
      )?.state?.running?.startedAt,
    ) ??
    iso(p.status?.startTime) ??
    now;
  const previous = new Map((p.status?.initContainerStatuses ?? []).map((s) => [s.name, s]));
  return {
    phase: ok ? "Succeeded" : "Failed",
    ...observed(p),
    conditions: conditions(p, now, [
      ["PodReadyToStartContainers", "False"],
      ok ? ["Initialized", "True", "PodCompleted"] : ["Initialized", "True"],
      ["Ready", "False", why],
      ["ContainersReady", "False", why],
      ["PodScheduled", "True"],
    ]),
    ...(init.length
      ? {
          initContainerStatuses: init.map((c) =>
            c.restartPolicy === SIDECAR
              ? startedStatus(p, c, terminated(p, c, 0, startedAt(c), now), false)
              : (previous.get(c.name) ?? startedStatus(p, c, terminated(p, c, 0, now, now), true)),
          ),
        }
      : {}),
    containerStatuses: (p.spec?.containers ?? []).map((c) =>
      startedStatus(p, c, terminated(p, c, exitCode, startedAt(c), now), false),
    ),
  };
}

/** status.observedGeneration: the generation the kubelet acted on (PodObservedGenerationTracking). */
function observed(p: V1Pod): { observedGeneration?: number } {
  const g = p.metadata?.generation;
  return g === undefined ? {} : { observedGeneration: g };
}

type Cond = [type: string, status: string, reason?: string, message?: string];

/** The kubelet's five conditions; a condition whose status did not change keeps its transition time. */
function conditions(p: V1Pod, now: string, list: Cond[]) {
  const before = new Map((p.status?.conditions ?? []).map((c: V1PodCondition) => [c.type, c]));
  return list.map(([type, status, reason, message]) => {
    const prev = before.get(type);
    const since = prev?.status === status ? iso(prev.lastTransitionTime) : undefined;
    return {
      type,
      status,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      lastTransitionTime: since ?? now,
      ...(p.metadata?.generation !== undefined ? { observedGeneration: p.metadata.generation } : {}),
    };
  });
}

function names(cs: V1Container[]): string {
  return cs.map((c) => c.name).join(" ");
}

function volumeMounts(c: V1Container) {
  if (!c.volumeMounts?.length) return {};
  return {
    volumeMounts: c.volumeMounts.map((m) => ({
      name: m.name,
      mountPath: m.mountPath,
      ...(m.readOnly
        ? { readOnly: true, recursiveReadOnly: m.recursiveReadOnly === "Enabled" ? "Enabled" : "Disabled" }
        : {}),
    })),
  };
}

/** Not started yet: the image as the spec names it, no container ID. */
function waitingStatus(c: V1Container, state: Record<string, unknown>) {
  return {
    name: c.name,
    image: c.image ?? "",
    imageID: "",
    lastState: {},
    ready: false,
    restartCount: 0,
    started: false,
    state,
    ...volumeMounts(c),
  };
}

/** Started: the runtime's container ID, the image as the runtime resolved it, the resources applied. */
function startedStatus(p: V1Pod, c: V1Container, state: Record<string, unknown>, ready: boolean) {
  const requests = c.resources?.requests ?? {};
  const limits = c.resources?.limits ?? {};
  return {
    name: c.name,
    image: normalizeImage(c.image ?? ""),
    imageID: `sha256:${sha256(normalizeImage(c.image ?? ""))}`,
    containerID: containerId(p, c),
    lastState: {},
    ready,
    restartCount: 0,
    started: state.running !== undefined,
    state,
    resources: {
      ...(Object.keys(limits).length ? { limits } : {}),
      ...(Object.keys(requests).length ? { requests } : {}),
    },
    ...(Object.keys(requests).length ? { allocatedResources: requests } : {}),
    ...volumeMounts(c),
  };
}

function terminated(p: V1Pod, c: V1Container, exitCode: number, startedAt: string, finishedAt: string) {
  return {
    terminated: {
      containerID: containerId(p, c),
      exitCode,
      reason: exitCode === 0 ? "Completed" : "Error",
      startedAt,
      finishedAt,
    },
  };
}

function containerId(p: V1Pod, c: V1Container): string {
  return `sim://${sha256(`${p.metadata?.uid}/${c.name}`)}`;
}

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** As containerd reports a pulled image: `busybox:1.35` → `docker.io/library/busybox:1.35`. */
export function normalizeImage(image: string): string {
  if (!image) return image;
  const slash = image.indexOf("/");
  const first = slash === -1 ? "" : image.slice(0, slash);
  const hasDomain = first !== "" && (first.includes(".") || first.includes(":") || first === "localhost");
  let name = hasDomain ? image : `docker.io/${slash === -1 ? "library/" : ""}${image}`;
  const lastPart = name.slice(name.lastIndexOf("/") + 1);
  if (!lastPart.includes(":") && !lastPart.includes("@")) name += ":latest";
  return name;
}

/** A Date or an RFC 3339 string, as RFC 3339. */
export function iso(t: Date | string | undefined): string | undefined {
  if (t === undefined || t === null) return undefined;
  return typeof t === "string" ? t : t.toISOString();
}
