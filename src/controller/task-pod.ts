// Builds the Pod of a task, or of a task group, from its template: the operator's labels,
// annotations and owner, pinned to the offer's agent, each task's container holding its task's
// resources (requests = limits) and ports (host ports, and the PORT… variables). Pure.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import {
  ANNOTATION_RESOURCES,
  ANNOTATION_ROLE,
  ANNOTATION_TASK_GROUP,
  API_VERSION,
  agentLabelValue,
  KIND,
  LABEL_AGENT,
  LABEL_FRAMEWORK,
  LABEL_OFFER,
  LABEL_ROLE,
  LABEL_TASK_ID,
  roleLabelValue,
} from "../crds/contract.ts";
import type { ResourceOffer, TaskInfo } from "../crds/offer.ts";
import { formatQuantity } from "../resources/quantity.ts";
import { fromResources } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";
import type { PlanContext } from "./launch-types.ts";

/** What a task Pod takes from the plan's context. */
type PodContext = Pick<PlanContext, "frameworkUid" | "labels">;

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
  ctx: PodContext,
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

export function buildTaskPod(
  offer: ResourceOffer,
  name: string,
  task: TaskInfo,
  r: Resources,
  ctx: PodContext,
): V1Pod {
  const pod = podBase(offer, name, task.id, r, ctx, task.template);
  const containers = pod.spec?.containers ?? [];
  if (pod.spec && containers.length > 0) {
    // The task's resources go to its first container; others (sidecars) share that budget.
    pod.spec.containers = [withTaskResources(containers[0]!, task.id, r), ...containers.slice(1)];
  }
  return pod;
}

export function buildGroupPod(
  offer: ResourceOffer,
  name: string,
  planned: { task: TaskInfo; resources: Resources }[],
  total: Resources,
  ctx: PodContext,
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
