// Deterministic names and label values. Pod names are deterministic so that an accept replayed
// after a crash finds the Pod it already created instead of launching the task twice.
import { createHash, randomBytes } from "node:crypto";

export const LABEL_AGENT = "kubeoffers.io/agent";
export const ANNOTATION_RESOURCES = "kubeoffers.io/resources";
export const ANNOTATION_ROLE = "kubeoffers.io/role";
export const ANNOTATION_TASK_GROUP = "kubeoffers.io/task-group";
export const FINALIZER = "kubeoffers.io/teardown";
/** Framework annotation a REVIVE bumps (a timestamp): its change clears the framework's refusal filters. */
export const ANNOTATION_REVIVE = "kubeoffers.io/revive";

export function taskPodName(framework: string, taskId: string): string {
  return `${framework}-${taskId}`;
}

/** Role names may hold "/" and "*", which label values may not: eng/frontend → eng.frontend, * → "". */
export function roleLabelValue(role: string): string {
  return role === "*" ? "" : role.replaceAll("/", ".");
}

function shortHash(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 8);
}

/** `<framework>-<agent>-<random>`, shortened with a hash when the agent name is long. */
export function offerName(framework: string, agent: string): string {
  const suffix = randomBytes(4).toString("hex").slice(0, 5);
  let agentPart = agent.replaceAll(".", "-");
  const max = 253 - framework.length - suffix.length - 2;
  if (agentPart.length > Math.min(max, 100)) agentPart = `${agentPart.slice(0, 60)}-${shortHash(agent)}`;
  return `${framework}-${agentPart}-${suffix}`.replace(/-+/g, "-");
}

export function frameworkId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { namespace: "", name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
