import { taskPodName } from "../crds/contract.ts";
import {
  OfferResponseSchema,
  type OfferTaskStatus,
  type ResourceOffer,
  type TaskInfo,
} from "../crds/offer.ts";
import { add, emptyResources } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";
import { fitToTask } from "./fit-to-task.ts";
import { planReserve, planUnreserve, readResources, taskResourcesRefusal } from "./launch-resources.ts";
import type { LaunchPlan, PlanContext, PlannedPod, ReservationChanges } from "./launch-types.ts";
import { checkPodPolicy } from "./pod-policy.ts";
import { ROLE_NOT_AUTHORIZED } from "./role-authz.ts";
import { buildGroupPod, buildTaskPod } from "./task-pod.ts";
import { reservedKey, templateShapeError } from "./task-template.ts";

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
  const offered = readResources(offer.spec.resources, "spec.resources", "InvalidOffer");
  if ("reason" in offered) return invalid(offered.reason, offered.message);
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
      const reservation = planReserve(offer, offered, reserving, op.reserve, i);
      if ("reason" in reservation) return invalid(reservation.reason, reservation.message);
      reserving = add(reserving, reservation.resources);
      changes.reserve.push(reservation);
      continue;
    }
    if (op.unreserve) {
      const id = planUnreserve(offer, op.unreserve, i);
      if (typeof id !== "string") return invalid(id.reason, id.message);
      changes.unreserve.push(id);
      continue;
    }
    const group = op.launchGroup !== undefined;
    const list = op.launch?.tasks ?? op.launchGroup?.tasks ?? [];
    const kind = group ? "launchGroup" : "launch";
    const planned: { task: TaskInfo; resources: Resources }[] = [];
    for (const [j, task] of list.entries()) {
      const field = `${where}.${kind}.tasks[${j}]`;
      const r = readResources(task.resources, `${field}.resources`, "InvalidResources");
      if ("reason" in r) return invalid(r.reason, r.message);
      const shape = templateShapeError(task.template.spec);
      if (shape) return invalid("InvalidResponse", `${field}.template.spec.${shape}`);
      const reserved = reservedKey(task.template, `${field}.template`);
      if (reserved) return invalid("ReservedKey", reserved);
      const refused = taskResourcesRefusal(task.id, r, offered, used);
      if (refused) return invalid(refused.reason, refused.message);
      used = add(used, r);
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
