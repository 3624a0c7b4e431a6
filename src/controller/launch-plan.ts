// Turns an accepted offer's answer into Pods to create, or into a reason it is invalid.
// Pure: the launcher does the I/O. Everything the API server cannot judge is checked here —
// resources beyond the offer, ports outside it, duplicate task ids, a Pod template that would
// need more than its task's resources (fitToTask), operator keys in a template, the launch
// policy — so a bad answer ends Invalid with a message naming the task and the field, and
// nothing is launched. (Over 400 lines: the answer's checks in Mesos's order, one file.)
import { createHash } from "node:crypto";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import {
  ANNOTATION_RESOURCES,
  ANNOTATION_ROLE,
  ANNOTATION_TASK_GROUP,
  API_VERSION,
  agentLabelValue,
  GROUP,
  KIND,
  LABEL_AGENT,
  LABEL_FRAMEWORK,
  LABEL_OFFER,
  LABEL_ROLE,
  LABEL_TASK_ID,
  roleLabelValue,
  taskPodName,
} from "../crds/contract.ts";
import {
  OfferResponseSchema,
  type OfferTaskStatus,
  type ResourceOffer,
  type TaskInfo,
} from "../crds/offer.ts";
import {
  containerRequestsNano,
  nanos,
  podRequests,
  type Requests,
  SIDECAR_RESTART_POLICY,
  unitOf,
} from "../resources/pod-requests.ts";
import { portCount, portsIntersection } from "../resources/ports.ts";
import { formatQuantity, nanoQuantity } from "../resources/quantity.ts";
import {
  add,
  contains,
  emptyResources,
  equals,
  fromResources,
  scalarOf,
  subtractClamped,
  toResources,
} from "../resources/resources.ts";
import type { PortRange, Resources } from "../resources/types.ts";
import { checkPodPolicy, type PodPolicy } from "./pod-policy.ts";
import { ROLE_NOT_AUTHORIZED } from "./role-authz.ts";

export interface PlannedPod {
  name: string;
  taskIds: string[];
  resources: Resources;
  pod: V1Pod;
}

/** Reservation changes an answer makes (Mesos RESERVE / UNRESERVE), applied before launches. */
export interface ReservationChanges {
  reserve: { id: string; role: string; resources: Resources }[];
  unreserve: string[];
}

export type LaunchPlan =
  | { ok: true; pods: PlannedPod[]; tasks: OfferTaskStatus[]; reservations: ReservationChanges }
  | { ok: false; reason: string; message: string; tasks: OfferTaskStatus[] };

export interface PlanContext {
  frameworkUid: string;
  /** Pods of this framework that exist now: Pod name → the offer that launched it. */
  existingPods: ReadonlyMap<string, string>;
  /** Extra labels every task Pod carries (e.g. the operator's pool). */
  labels?: Record<string, string>;
  /** The cluster-level launch policy every task Pod must satisfy (pod-policy.ts). */
  policy?: PodPolicy | undefined;
  /** Why the offer's role may not be used from the framework's namespace now, if so (role-authz.ts). */
  roleRefused?: string | undefined;
}

function fmt(r: Resources): string {
  const parts = Object.entries(r.scalars).map(([k, v]) => `${k} ${formatQuantity(k, v)}`);
  if (r.ports.length)
    parts.push(
      `ports ${r.ports.map((p) => (p.begin === p.end ? p.begin : `${p.begin}-${p.end}`)).join(",")}`,
    );
  return parts.join(", ") || "nothing";
}

function taskErrors(offer: ResourceOffer, reason: string, message: string): OfferTaskStatus[] {
  const ops = offer.spec.response?.operations ?? [];
  // One status per id: status.tasks is keyed by id, and an answer naming an id twice (across
  // operations, which admission lets through) would make every status write fail, for ever.
  const seen = new Set<string>();
  return ops.flatMap((op) =>
    [...(op.launch?.tasks ?? []), ...(op.launchGroup?.tasks ?? [])].flatMap((t) => {
      if (seen.has(t.id)) return [];
      seen.add(t.id);
      return [
        {
          id: t.id,
          pod: taskPodName(offer.spec.framework, t.id),
          state: "TASK_ERROR" as const,
          reason,
          message,
        },
      ];
    }),
  );
}

export function planLaunch(offer: ResourceOffer, ctx: PlanContext): LaunchPlan {
  const response = offer.spec.response;
  const invalid = (reason: string, message: string): LaunchPlan => ({
    ok: false,
    reason,
    message,
    tasks: taskErrors(offer, reason, message),
  });
  if (response?.action !== "Accept") return invalid("NotAccepted", "the offer was not accepted");
  const parsed = OfferResponseSchema.safeParse(response);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ["spec", "response", ...(issue?.path ?? [])].join(".");
    const dup = /^duplicate (task )?id/.test(issue?.message ?? "");
    return invalid(dup ? "DuplicateTaskId" : "InvalidResponse", `${path}: ${issue?.message}`);
  }
  let offered: Resources;
  try {
    offered = toResources(offer.spec.resources as Record<string, string | PortRange[]>);
  } catch (err) {
    return invalid("InvalidOffer", `spec.resources: ${(err as Error).message}`);
  }
  const fw = offer.spec.framework;
  let used = emptyResources();
  let reserving = emptyResources();
  const changes: ReservationChanges = { reserve: [], unreserve: [] };
  const pods: PlannedPod[] = [];
  /** The answer's path of each planned Pod's template, for messages. */
  const templates: string[] = [];
  const tasks: OfferTaskStatus[] = [];
  const ops = response.operations ?? [];
  for (const [i, op] of ops.entries()) {
    const where = `spec.response.operations[${i}]`;
    // A role taken away since the offer was made reserves and releases nothing for this team.
    if ((op.reserve || op.unreserve) && ctx.roleRefused)
      return invalid(
        ROLE_NOT_AUTHORIZED,
        `${where}.${op.reserve ? "reserve" : "unreserve"}: ${ctx.roleRefused}`,
      );
    if (op.reserve) {
      // RESERVE turns unreserved resources of the offer into resources reserved for its role.
      if (offer.spec.role === "*") {
        return invalid(
          "InvalidReservation",
          `${where}.reserve: the offer's role is "*"; reservations need a named role`,
        );
      }
      let r: Resources;
      try {
        r = toResources(op.reserve.resources as Record<string, string | PortRange[]>);
      } catch (err) {
        return invalid("InvalidReservation", `${where}.reserve.resources: ${(err as Error).message}`);
      }
      const carried = carriedReservations(offer);
      if (typeof carried === "string") return invalid("InvalidOffer", carried);
      const unreserved = subtractClamped(
        offered,
        carried.reduce((acc, x) => add(acc, x.resources), emptyResources()),
      );
      const after = add(reserving, r);
      if (!contains(unreserved, after)) {
        return invalid(
          "InvalidReservation",
          `${where}.reserve asks to reserve ${fmt(r)}, more than the offer's unreserved ${fmt(subtractClamped(unreserved, reserving))}`,
        );
      }
      reserving = after;
      changes.reserve.push({
        id: reservationId(offer.metadata.name ?? "", i),
        role: offer.spec.role,
        resources: r,
      });
      continue;
    }
    if (op.unreserve) {
      // UNRESERVE releases a dynamic reservation that this offer carries.
      const carried = carriedReservations(offer);
      if (typeof carried === "string") return invalid("InvalidOffer", carried);
      let wanted = op.unreserve.id ? carried.find((x) => x.id === op.unreserve?.id) : undefined;
      if (!op.unreserve.id) {
        let r: Resources;
        try {
          r = toResources(op.unreserve.resources as Record<string, string | PortRange[]>);
        } catch (err) {
          return invalid("InvalidReservation", `${where}.unreserve.resources: ${(err as Error).message}`);
        }
        wanted = carried.find((x) => x.id && equals(x.resources, r));
      }
      if (!wanted?.id) {
        return invalid(
          "InvalidReservation",
          `${where}.unreserve: the offer carries no dynamic reservation ${op.unreserve.id ? `with id ${op.unreserve.id}` : "with exactly these resources"}`,
        );
      }
      changes.unreserve.push(wanted.id);
      continue;
    }
    const group = op.launchGroup !== undefined;
    const list = op.launch?.tasks ?? op.launchGroup?.tasks ?? [];
    const kind = group ? "launchGroup" : "launch";
    const planned: { task: TaskInfo; resources: Resources }[] = [];
    for (const [j, task] of list.entries()) {
      const field = `${where}.${kind}.tasks[${j}]`;
      let r: Resources;
      try {
        r = toResources(task.resources as Record<string, string | PortRange[]>);
      } catch (err) {
        return invalid("InvalidResources", `${field}.resources: ${(err as Error).message}`);
      }
      const shape = templateShapeError(task.template.spec);
      if (shape) return invalid("InvalidResponse", `${field}.template.spec.${shape}`);
      const reserved = reservedKey(task.template, `${field}.template`);
      if (reserved) return invalid("ReservedKey", reserved);
      for (const name of Object.keys(r.scalars)) {
        if (scalarOf(r.scalars, name) > 0 && !Object.hasOwn(offered.scalars, name)) {
          return invalid(
            "InsufficientResources",
            `task ${task.id} asks for ${name}, which the offer does not hold`,
          );
        }
      }
      if (r.ports.length && portCount(portsIntersection(r.ports, offered.ports)) !== portCount(r.ports)) {
        return invalid(
          "UnknownPorts",
          `task ${task.id} asks for ports ${fmt({ scalars: {}, ports: r.ports })} outside the offered ${fmt({ scalars: {}, ports: offered.ports })}`,
        );
      }
      if (r.ports.length && portCount(portsIntersection(r.ports, used.ports)) > 0) {
        return invalid(
          "PortConflict",
          `task ${task.id} asks for ports another task of this answer already uses`,
        );
      }
      const next = add(used, r);
      if (!contains(offered, next)) {
        const over =
          Object.keys(next.scalars).find((k) => scalarOf(next.scalars, k) > scalarOf(offered.scalars, k)) ??
          "";
        return invalid(
          "InsufficientResources",
          `task ${task.id} asks ${over} ${formatQuantity(over, scalarOf(r.scalars, over))}, more than the ${formatQuantity(over, scalarOf(offered.scalars, over) - scalarOf(used.scalars, over))} left of the offer (offered: ${fmt(offered)})`,
        );
      }
      used = next;
      const podName = taskPodName(fw, task.id);
      const owner = ctx.existingPods.get(podName);
      if (owner !== undefined && owner !== offer.metadata.name) {
        return invalid(
          "DuplicateTaskId",
          `task id ${task.id} is already used by Pod ${podName} (offer ${owner})`,
        );
      }
      planned.push({ task, resources: r });
    }
    if (group && planned.length) {
      const first = planned[0]!;
      const ids = planned.map((p) => p.task.id);
      const total = planned.reduce((acc, p) => add(acc, p.resources), emptyResources());
      // Every task of the group shares one Pod: its name must not clash with a task of another offer.
      for (const id of ids.slice(1)) {
        const owner = ctx.existingPods.get(taskPodName(fw, id));
        if (owner !== undefined && owner !== offer.metadata.name) {
          return invalid("DuplicateTaskId", `task id ${id} is already used by Pod ${taskPodName(fw, id)}`);
        }
      }
      const name = taskPodName(fw, first.task.id);
      const pod = buildGroupPod(offer, name, planned, total, ctx);
      const tmpl = `${where}.${kind}.tasks[0].template`;
      const unfit = fitToTask(pod, planned.length, first.resources, total, tmpl, first.task.id, ctx.policy);
      if (unfit) return invalid(unfit.reason, unfit.message);
      pods.push({ name, taskIds: ids, resources: total, pod });
      templates.push(tmpl);
      for (const id of ids) tasks.push({ id, pod: name, state: "TASK_STAGING" });
    } else {
      for (const [j, p] of planned.entries()) {
        const name = taskPodName(fw, p.task.id);
        const pod = buildTaskPod(offer, name, p.task, p.resources, ctx);
        const tmpl = `${where}.${kind}.tasks[${j}].template`;
        const unfit = fitToTask(pod, 1, p.resources, p.resources, tmpl, p.task.id, ctx.policy);
        if (unfit) return invalid(unfit.reason, unfit.message);
        pods.push({ name, taskIds: [p.task.id], resources: p.resources, pod });
        templates.push(tmpl);
        tasks.push({ id: p.task.id, pod: name, state: "TASK_STAGING" });
      }
    }
  }
  for (const [i, p] of pods.entries()) {
    const violation = checkPodPolicy(p.pod, ctx.policy);
    if (violation)
      return invalid("PolicyViolation", `task ${p.taskIds.join(",")} (${templates[i]}): ${violation}`);
  }
  return { ok: true, pods, tasks, reservations: changes };
}

/**
 * Template labels and annotations may not use the operator's keys (kubeoffers.io/…): they would
 * hide the Pod from the operator (framework, task id, offer) or move it to another pool. Refused,
 * not stripped, so the framework learns which key. Sub-domains (sim., mesos.) are not the operator's.
 */
function reservedKey(template: TaskInfo["template"], field: string): string | undefined {
  for (const part of ["labels", "annotations"] as const) {
    for (const key of Object.keys(template.metadata?.[part] ?? {})) {
      if (key.startsWith(`${GROUP}/`))
        return `${field}.metadata.${part}["${key}"]: ${GROUP}/ keys are set by the operator only`;
    }
  }
  return undefined;
}

type Unfit = { reason: string; message: string };

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
function checkQuantities(c: V1Container, field: string): Unfit | undefined {
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
function fitToTask(
  pod: V1Pod,
  taskContainers: number,
  main: Resources,
  total: Resources,
  tmpl: string,
  taskId: string,
  policy: PodPolicy | undefined,
): Unfit | undefined {
  const spec = pod.spec;
  // No container: the API server refuses the Pod (TASK_ERROR, PodRejected) with its own message.
  if (!spec?.containers.length) return undefined;
  const exceeds = (message: string): Unfit => ({ reason: "PodTemplateExceedsTask", message });
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

/** Deterministic, so an answer replayed after a crash re-creates the same reservation. */
export function reservationId(offerName: string, opIndex: number): string {
  return `r-${createHash("sha256").update(offerName).digest("hex").slice(0, 12)}-${opIndex}`;
}

/** The reservations the offer carries, parsed; or why one of them cannot be read. */
function carriedReservations(offer: ResourceOffer): { id?: string; resources: Resources }[] | string {
  const out: { id?: string; resources: Resources }[] = [];
  for (const [i, x] of (offer.spec.reservations ?? []).entries()) {
    try {
      out.push({ ...x, resources: toResources(x.resources as Record<string, string | PortRange[]>) });
    } catch (err) {
      return `spec.reservations[${i}].resources: ${(err as Error).message}`;
    }
  }
  return out;
}

function limitsOf(r: Resources): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.scalars)) if (v > 0) out[k] = formatQuantity(k, v);
  return out;
}

function portList(r: Resources): number[] {
  const out: number[] = [];
  for (const p of r.ports) for (let x = p.begin; x <= p.end && out.length < 1000; x++) out.push(x);
  return out;
}

/** Requests = limits = the task's resources; ports as host ports (Mesos tasks use host ports). */
function withTaskResources(c: V1Container, taskId: string, r: Resources): V1Container {
  const ports = portList(r);
  const limits = limitsOf(r);
  return {
    ...c,
    resources: { ...c.resources, requests: limits, limits },
    ports: [
      ...(c.ports ?? []).filter((p) => !p.hostPort),
      ...ports.map((p) => ({ containerPort: p, hostPort: p, protocol: "TCP" })),
    ],
    env: [
      ...(c.env ?? []),
      { name: "KUBEOFFERS_TASK_ID", value: taskId },
      ...(ports.length ? [{ name: "PORTS", value: ports.join(",") }] : []),
      ...ports.slice(0, 16).map((p, i) => ({ name: `PORT${i}`, value: String(p) })),
    ],
  };
}

function podBase(
  offer: ResourceOffer,
  name: string,
  taskId: string,
  r: Resources,
  ctx: PlanContext,
  template: TaskInfo["template"],
): V1Pod {
  const fw = offer.spec.framework;
  const tmplMeta = template.metadata ?? {};
  const spec = (template.spec ?? {}) as V1Pod["spec"] & Record<string, unknown>;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: offer.metadata.namespace,
      labels: {
        ...(tmplMeta.labels ?? {}),
        [LABEL_FRAMEWORK]: fw,
        [LABEL_TASK_ID]: taskId,
        [LABEL_ROLE]: roleLabelValue(offer.spec.role),
        [LABEL_OFFER]: offer.metadata.name ?? "",
        [LABEL_AGENT]: agentLabelValue(offer.spec.agent),
        ...(ctx.labels ?? {}),
      },
      annotations: {
        ...(tmplMeta.annotations ?? {}),
        [ANNOTATION_RESOURCES]: JSON.stringify(fromResources(r)),
        [ANNOTATION_ROLE]: offer.spec.role,
      },
      ownerReferences: [
        { apiVersion: API_VERSION, kind: KIND.framework, name: fw, uid: ctx.frameworkUid, controller: true },
      ],
    },
    spec: {
      ...spec,
      containers: spec.containers ?? [],
      nodeName: offer.spec.agent,
      // A task runs once: Mesos does not restart finished or failed tasks, frameworks do.
      restartPolicy: "Never",
    },
  };
}

function buildTaskPod(
  offer: ResourceOffer,
  name: string,
  task: TaskInfo,
  r: Resources,
  ctx: PlanContext,
): V1Pod {
  const pod = podBase(offer, name, task.id, r, ctx, task.template);
  const containers = pod.spec?.containers ?? [];
  if (pod.spec && containers.length > 0) {
    // The task's resources go to its first container; others (sidecars) share that budget.
    pod.spec.containers = [withTaskResources(containers[0]!, task.id, r), ...containers.slice(1)];
  }
  return pod;
}

function buildGroupPod(
  offer: ResourceOffer,
  name: string,
  planned: { task: TaskInfo; resources: Resources }[],
  total: Resources,
  ctx: PlanContext,
): V1Pod {
  const first = planned[0]!;
  const pod = podBase(offer, name, first.task.id, total, ctx, first.task.template);
  if (pod.metadata?.annotations)
    pod.metadata.annotations[ANNOTATION_TASK_GROUP] = planned.map((p) => p.task.id).join(",");
  if (pod.spec) {
    pod.spec.containers = planned.map((p) => {
      const c = ((p.task.template.spec as { containers?: V1Container[] } | undefined)?.containers ??
        [])[0] ?? {
        name: p.task.id,
      };
      return withTaskResources({ ...c, name: p.task.id }, p.task.id, p.resources);
    });
  }
  return pod;
}

/**
 * Where a Pod template spec (schemaless in the CRD: the API server checks it only when the Pod is
 * created) is not the shape the planner and the pod policy read — lists of objects — so that
 * such an answer ends Invalid naming the field instead of throwing on every retry.
 */
function templateShapeError(spec: Record<string, unknown>): string | undefined {
  const isObject = (x: unknown) => typeof x === "object" && x !== null && !Array.isArray(x);
  const objects = (v: unknown, path: string): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return `${path}: must be a list`;
    const i = v.findIndex((x) => !isObject(x));
    return i < 0 ? undefined : `${path}[${i}]: must be an object`;
  };
  for (const kind of ["containers", "initContainers", "ephemeralContainers"]) {
    const bad = objects(spec[kind], kind);
    if (bad) return bad;
    for (const [i, c] of ((spec[kind] ?? []) as Record<string, unknown>[]).entries()) {
      const inner = objects(c.ports, `${kind}[${i}].ports`) ?? objects(c.env, `${kind}[${i}].env`);
      if (inner) return inner;
    }
  }
  return objects(spec.volumes, "volumes");
}
