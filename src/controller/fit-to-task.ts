// Fits a task Pod to its task's resources, as the kubelet counts them, or says which template
// field would take more (fitToTask). Pure; launch-plan.ts calls it on each Pod it builds.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import {
  containerRequestsNano,
  nanos,
  podRequests,
  type Requests,
  SIDECAR_RESTART_POLICY,
  unitOf,
} from "../resources/pod-requests.ts";
import { formatQuantity, nanoQuantity } from "../resources/quantity.ts";
import { scalarOf } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";
import type { Refusal } from "./launch-types.ts";
import type { PodPolicy } from "./pod-policy.ts";

const MAX_COUNTABLE = BigInt(Number.MAX_SAFE_INTEGER);

/** Nano-units of `name` as a quantity, for messages. */
function fmtNano(name: string, n: bigint): string {
  const units = (n + unitOf(name) - 1n) / unitOf(name);
  return units <= MAX_COUNTABLE ? formatQuantity(name, Number(units)) : `${units} (units of ${name})`;
}

function nanoOf(r: Resources, name: string): bigint {
  return BigInt(scalarOf(r.scalars, name)) * unitOf(name);
}

/** Where a container's quantity of `name` comes from: requests, else limits (the API server's defaulting). */
function partOf(c: V1Container, name: string): "requests" | "limits" {
  const requests = c.resources?.requests;
  return requests && Object.hasOwn(requests, name) ? "requests" : "limits";
}

/** Checks every quantity a template container holds: a Kubernetes quantity, small enough to count. */
function checkQuantities(c: V1Container, field: string): Refusal | undefined {
  for (const part of ["requests", "limits"] as const) {
    for (const [k, v] of Object.entries(c.resources?.[part] ?? {})) {
      const n = nanoQuantity(v);
      const at = `${field}.resources.${part}.${k}`;
      if (n === undefined)
        return {
          reason: "InvalidResources",
          message: `${at}: ${JSON.stringify(v)} is not a Kubernetes quantity`,
        };
      if ((n + unitOf(k) - 1n) / unitOf(k) > MAX_COUNTABLE)
        return { reason: "InvalidResources", message: `${at}: ${v} is too large to count` };
    }
  }
  return undefined;
}

/**
 * Makes a task Pod need exactly its task's resources, as the kubelet counts them
 * (src/resources/pod-requests.ts), or says which template field would take more — Mesos's
 * rule: a task's resources are all it may use, and they are what the offer's ledger is charged.
 * The other containers and sidecars keep what they ask (their limits become their requests, so
 * they cannot use more than is counted); the RuntimeClass's overhead (written into the Pod, so
 * RuntimeClass admission refuses it if the policy's figure is wrong) comes out of the task's
 * resources too; the task's own container (containers[0]) gets what is left, as requests = limits;
 * an init container may use up to the task's resources less the sidecars started before it and
 * the overhead. `taskContainers` containers (the group's, one per task) hold their own task's
 * resources already; the first of them is the one that gives way.
 */
export function fitToTask(
  pod: V1Pod,
  taskContainers: number,
  main: Resources,
  total: Resources,
  tmpl: string,
  taskId: string,
  policy: PodPolicy | undefined,
): Refusal | undefined {
  const spec = pod.spec;
  // No container: the API server refuses the Pod (TASK_ERROR, PodRejected) with its own message.
  if (!spec?.containers.length) return undefined;
  const exceeds = (message: string): Refusal => ({ reason: "PodTemplateExceedsTask", message });
  if (spec.overhead !== undefined)
    return exceeds(
      `${tmpl}.spec.overhead: set from spec.runtimeClassName (the launch policy's runtimeClasses); leave it out`,
    );
  if (spec.resources !== undefined)
    return exceeds(
      `${tmpl}.spec.resources: a task Pod's resources are its task's; pod-level resources are not allowed`,
    );
  let overhead: Requests = new Map();
  const rc = spec.runtimeClassName;
  if (rc) {
    const known = policy?.runtimeClasses;
    const podFixed = known && Object.hasOwn(known, rc) ? known[rc] : undefined;
    if (!podFixed) {
      const listed = Object.keys(known ?? {});
      return {
        reason: "UnknownRuntimeClass",
        message: `${tmpl}.spec.runtimeClassName: RuntimeClass ${rc} is not in the launch policy's runtimeClasses (${listed.length ? listed.join(", ") : "none"}), so its overhead cannot be counted in the task's resources`,
      };
    }
    overhead = nanos(podFixed);
    // Written into the Pod: RuntimeClass admission refuses a Pod whose overhead differs from its
    // RuntimeClass's, so a policy that has drifted from the cluster ends TASK_ERROR (PodRejected)
    // instead of a Pod that needs more than its offer was charged.
    spec.overhead = { ...podFixed };
  }
  const inits = spec.initContainers ?? [];
  const extras: { field: string; c: V1Container }[] = [
    ...spec.containers
      .slice(taskContainers)
      .map((c, i) => ({ field: `${tmpl}.spec.containers[${i + taskContainers}]`, c })),
    ...inits.flatMap((c, i) =>
      c.restartPolicy === SIDECAR_RESTART_POLICY ? [{ field: `${tmpl}.spec.initContainers[${i}]`, c }] : [],
    ),
  ];
  for (const [i, c] of inits.entries()) {
    const bad = checkQuantities(c, `${tmpl}.spec.initContainers[${i}]`);
    if (bad) return bad;
  }
  for (const { field, c } of extras) {
    const bad = checkQuantities(c, field);
    if (bad) return bad;
  }
  // The extra containers, sidecars and overhead come out of the task's own container's share.
  const used: Requests = new Map();
  const takenBy = new Map<string, string>();
  const contributions = [
    ...extras.map(({ field, c }) => ({
      own: containerRequestsNano(c),
      at: (k: string) => `${field}.resources.${partOf(c, k)}.${k}`,
    })),
    {
      own: overhead,
      at: (k: string) => `${tmpl}.spec.runtimeClassName (RuntimeClass ${rc}'s overhead ${k})`,
    },
  ];
  for (const { own, at } of contributions) {
    for (const [k, v] of own) {
      if (v === 0n) continue;
      const acc = (used.get(k) ?? 0n) + v;
      used.set(k, acc);
      takenBy.set(k, at(k));
      if (acc > nanoOf(main, k)) {
        return exceeds(
          `${at(k)}: ${k} ${fmtNano(k, v)} (${fmtNano(k, acc)} with the template's other containers, sidecars and overhead) is more than task ${taskId}'s ${k} ${fmtNano(k, nanoOf(main, k))}; a task's resources are all its Pod may use`,
        );
      }
    }
  }
  const own: Record<string, string> = {};
  for (const k of Object.keys(main.scalars)) {
    const left = (nanoOf(main, k) - (used.get(k) ?? 0n)) / unitOf(k);
    if (left === 0n) {
      return exceeds(
        `${takenBy.get(k) ?? `${tmpl}.spec.containers[0]`}: the template's other containers, sidecars and overhead take all of task ${taskId}'s ${k} ${fmtNano(k, nanoOf(main, k))}; nothing is left for its own container`,
      );
    }
    own[k] = formatQuantity(k, Number(left));
  }
  // Init containers run before the containers, beside the sidecars started before them.
  const sidecars: Requests = new Map();
  for (const [i, c] of inits.entries()) {
    const mine = containerRequestsNano(c);
    if (c.restartPolicy === SIDECAR_RESTART_POLICY) {
      for (const [k, v] of mine) sidecars.set(k, (sidecars.get(k) ?? 0n) + v);
      continue;
    }
    for (const [k, v] of mine) {
      const need = v + (sidecars.get(k) ?? 0n);
      const room = nanoOf(total, k) - (overhead.get(k) ?? 0n);
      if (v > 0n && need > room) {
        return exceeds(
          `${tmpl}.spec.initContainers[${i}].resources.${partOf(c, k)}.${k}: init container ${c.name} needs ${k} ${fmtNano(k, need)} (with the sidecars started before it), more than the ${fmtNano(k, room < 0n ? 0n : room)} the task's ${k} ${fmtNano(k, nanoOf(total, k))} leaves after the overhead`,
        );
      }
    }
  }
  const counted = (c: V1Container): V1Container => {
    const eff = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    return Object.keys(eff).length ? { ...c, resources: { ...c.resources, requests: eff, limits: eff } } : c;
  };
  const first = spec.containers[0];
  if (first) spec.containers[0] = { ...first, resources: { ...first.resources, requests: own, limits: own } };
  spec.containers = spec.containers.map((c, i) => (i < taskContainers ? c : counted(c)));
  spec.initContainers = inits.map(counted);
  if (!inits.length) delete spec.initContainers;
  // What the kubelet will count is what the ledger is charged.
  const effective = podRequests(pod);
  for (const k of new Set([...effective.keys(), ...Object.keys(total.scalars)])) {
    if ((effective.get(k) ?? 0n) !== BigInt(scalarOf(total.scalars, k)))
      return exceeds(
        `${tmpl}.spec: the Pod would need ${k} ${fmtNano(k, (effective.get(k) ?? 0n) * unitOf(k))}, not the task's ${fmtNano(k, nanoOf(total, k))}`,
      );
  }
  return undefined;
}
