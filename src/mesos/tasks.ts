// Mesos TaskInfo -> kube-offers task (a Pod template), and kube-offers task state -> Mesos
// TaskStatus. CommandInfo tasks run in a configurable default image; ContainerInfo images
// (DOCKER, or MESOS with a Docker image) are used as given. What has no Kubernetes counterpart
// here (custom executors, the fetcher's URIs, volumes, secrets, APPC images, set resources)
// makes the task TASK_ERROR, as Mesos does for a task it cannot launch, naming the field.
import { ANNOTATION_MESOS_TASKS, GROUP, SIM_DOMAIN } from "../crds/contract.ts";
import type { TaskInfoInput } from "../crds/offer.ts";
import type { TaskState } from "../sdk/types.ts";
import { taskKeyFor } from "./ids.ts";
import { type CommandInfo, type ContainerInfo, type MesosTaskInfo, TASK_STATUS_REASONS } from "./messages.ts";
import { fromMesosResources } from "./resources.ts";

const QUALIFIED =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Mesos task labels copied onto the Pod as annotations: any valid key outside the kubeoffers.io domain, except sim.kubeoffers.io (the node simulator's). */
export function copiedLabel(key: string): boolean {
  if (key.length > 253 || !QUALIFIED.test(key)) return false;
  const slash = key.indexOf("/");
  const domain = slash < 0 ? "" : key.slice(0, slash);
  if (domain === SIM_DOMAIN) return true;
  return !(domain === GROUP || domain.endsWith(`.${GROUP}`));
}

export interface ConvertContext {
  frameworkId: string;
  agentId: string;
  defaultImage: string;
}

export type Converted =
  | { ok: true; key: string; task: TaskInfoInput }
  | { ok: false; key: string; error: string };

function commandOf(
  cmd: CommandInfo | undefined,
  hasImage: boolean,
): { command?: string[]; args?: string[] } | string {
  if (!cmd) return hasImage ? {} : "a task needs a CommandInfo or a ContainerInfo with an image";
  if ((cmd.uris ?? []).length)
    return "command.uris (the Mesos fetcher) is not supported: put the files into the image";
  const shell = cmd.shell ?? true;
  if (shell) {
    if (cmd.value === undefined)
      return hasImage ? {} : "command.value is required when command.shell is true";
    return { command: ["/bin/sh", "-c", cmd.value] };
  }
  // shell=false: value is the executable, arguments the whole argv (argv[0] included).
  if (cmd.value !== undefined) return { command: [cmd.value], args: (cmd.arguments ?? []).slice(1) };
  if ((cmd.arguments ?? []).length) return { args: cmd.arguments ?? [] };
  return hasImage ? {} : "command.value is required";
}

function imageOf(c: ContainerInfo | undefined, fallback: string): string | { error: string } | undefined {
  if (!c) return undefined;
  if (c.volumes?.length) return { error: "container.volumes are not supported" };
  if (c.type === "DOCKER" || (c.type === undefined && c.docker)) {
    if (!c.docker?.image) return { error: "container.docker.image is required for a DOCKER container" };
    return c.docker.image;
  }
  const img = c.mesos?.image;
  if (!img) return fallback;
  if (img.type === "APPC" || img.appc) return { error: "APPC images are not supported: use a Docker image" };
  if (!img.docker?.name) return { error: "container.mesos.image.docker.name is required" };
  return img.docker.name;
}

const seconds = (d: { nanoseconds: number } | undefined) =>
  d === undefined ? undefined : Math.max(0, Math.ceil(Number(d.nanoseconds) / 1e9));

/** One Mesos TaskInfo as a kube-offers task (its Pod template), or why it cannot run. */
export function convertTask(t: MesosTaskInfo, ctx: ConvertContext): Converted {
  const id = t.task_id.value;
  const key = taskKeyFor(id);
  const fail = (error: string): Converted => ({ ok: false, key, error: `task ${id}: ${error}` });
  const agent = t.agent_id?.value ?? t.slave_id?.value;
  if (agent !== undefined && agent !== ctx.agentId)
    return fail(`agent_id ${agent} is not the offer's agent ${ctx.agentId}`);
  if (t.executor !== undefined && t.executor !== null)
    return fail(
      "custom executors (TaskInfo.executor) are not supported: use a CommandInfo or a ContainerInfo",
    );
  const res = fromMesosResources(t.resources);
  if (!res.ok) return fail(res.error);
  const image = imageOf(t.container, ctx.defaultImage);
  if (typeof image === "object") return fail(image.error);
  const cmd = commandOf(t.command, image !== undefined);
  if (typeof cmd === "string") return fail(cmd);
  const env: { name: string; value: string }[] = [];
  for (const v of t.command?.environment?.variables ?? []) {
    if (v.type === "SECRET") return fail(`environment variable ${v.name}: secrets are not supported`);
    env.push({ name: v.name, value: v.value ?? "" });
  }
  env.push(
    { name: "MESOS_TASK_ID", value: id },
    { name: "MESOS_FRAMEWORK_ID", value: ctx.frameworkId },
    { name: "MESOS_AGENT_ID", value: ctx.agentId },
  );
  const container: Record<string, unknown> = {
    name: "main",
    image: image ?? ctx.defaultImage,
    ...cmd,
    env,
    ...(t.container?.docker?.privileged ? { securityContext: { privileged: true } } : {}),
    ...(t.container?.docker?.force_pull_image ? { imagePullPolicy: "Always" } : {}),
  };
  const annotations: Record<string, string> = {};
  const labels = (t.labels?.labels ?? []).filter((l) => l.key !== "");
  for (const l of labels) if (copiedLabel(l.key)) annotations[l.key] = l.value ?? "";
  const grace = seconds(t.kill_policy?.grace_period);
  const deadline = seconds(t.max_completion_time);
  const hostname = t.container?.hostname;
  const spec: Record<string, unknown> = {
    containers: [container],
    ...(grace !== undefined ? { terminationGracePeriodSeconds: grace } : {}),
    ...(deadline !== undefined && deadline > 0 ? { activeDeadlineSeconds: deadline } : {}),
    ...(hostname && /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(hostname) ? { hostname } : {}),
  };
  return {
    ok: true,
    key,
    task: {
      id: key,
      resources: res.resources as TaskInfoInput["resources"],
      template: {
        metadata: {
          annotations: {
            ...annotations,
            [ANNOTATION_MESOS_TASKS]: JSON.stringify({
              [key]: { id, name: t.name, ...(labels.length ? { labels } : {}) },
            }).slice(0, 60_000),
          },
        },
        spec,
      },
    },
  };
}

/** Task ids from the Pod annotation (kube-offers id -> Mesos id). */
export function mesosIdsOf(annotations: Record<string, string> | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const raw = annotations?.[ANNOTATION_MESOS_TASKS];
  if (!raw) return out;
  try {
    for (const [k, v] of Object.entries(JSON.parse(raw) as Record<string, { id?: unknown }>))
      if (typeof v?.id === "string") out.set(k, v.id);
  } catch {
    // an annotation someone edited by hand: fall back to the kube-offers ids
  }
  return out;
}

/** The Pod annotation for a task group: every task's Mesos id (the group's Pod takes the first task's metadata). */
export function mergeGroupAnnotations(tasks: TaskInfoInput[]): void {
  // No prototype: a key `__proto__` in the JSON is copied as a key, not made the prototype.
  const all: Record<string, unknown> = Object.create(null);
  for (const t of tasks) {
    const raw = t.template.metadata?.annotations?.[ANNOTATION_MESOS_TASKS];
    if (raw) Object.assign(all, JSON.parse(raw) as Record<string, unknown>);
  }
  const first = tasks[0];
  if (first?.template.metadata?.annotations)
    first.template.metadata.annotations[ANNOTATION_MESOS_TASKS] = JSON.stringify(all).slice(0, 60_000);
}

export interface Capabilities {
  partitionAware: boolean;
  taskKillingState: boolean;
}

/** A kube-offers task state as the framework may see it (PARTITION_AWARE, TASK_KILLING_STATE). */
export function mesosState(state: TaskState, caps: Capabilities): TaskState | undefined {
  switch (state) {
    case "TASK_UNREACHABLE":
    case "TASK_DROPPED":
    case "TASK_GONE":
    case "TASK_GONE_BY_OPERATOR":
    case "TASK_UNKNOWN":
      return caps.partitionAware ? state : "TASK_LOST";
    case "TASK_KILLING":
      return caps.taskKillingState ? state : undefined;
    default:
      return state;
  }
}

const MASTER_STATES: ReadonlySet<TaskState> = new Set([
  "TASK_LOST",
  "TASK_UNREACHABLE",
  "TASK_ERROR",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
  "TASK_UNKNOWN",
  "TASK_STAGING",
]);

export interface StatusInput {
  mesosTaskId: string;
  state: TaskState;
  reason?: string | undefined;
  message?: string | undefined;
  agentId?: string | undefined;
  uuid?: string;
  reconciliation?: boolean;
}

/** A Mesos TaskStatus. Reasons that are not Mesos reason names go into the message. */
export function taskStatus(s: StatusInput): Record<string, unknown> {
  let reason = s.reason && TASK_STATUS_REASONS.has(s.reason) ? s.reason : undefined;
  let message = s.message;
  if (s.reason && !reason) {
    message = message ? `${s.reason}: ${message}` : s.reason;
    if (s.state === "TASK_ERROR") reason = "REASON_TASK_INVALID";
  }
  if (s.reconciliation) reason = "REASON_RECONCILIATION";
  const source = s.reconciliation || MASTER_STATES.has(s.state) ? "SOURCE_MASTER" : "SOURCE_EXECUTOR";
  return {
    task_id: { value: s.mesosTaskId },
    state: s.state,
    source,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
    ...(s.agentId ? { agent_id: { value: s.agentId } } : {}),
    timestamp: Date.now() / 1000,
    ...(s.uuid ? { uuid: s.uuid } : {}),
  };
}
