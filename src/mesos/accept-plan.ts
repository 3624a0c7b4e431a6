// What an ACCEPT call asks of kube-offers, worked out without touching anything: the answer to
// give each offer (accept with these operations, or decline) and what cannot be done — a
// TaskStatus for each task that cannot run, an operation error for each operation refused.
// offer-answers.ts sends the errors and gives the answers. Operations are applied in order; tasks are
// packed first-fit into the offers (all of one agent) in the order the call names them.

import { DEFAULT_REFUSE_SECONDS } from "../crds/contract.ts";
import type { TaskInfoInput } from "../crds/offer.ts";
import { add, contains, emptyResources, subtract } from "../resources/resources.ts";
import type { Resources } from "../resources/types.ts";
import { type Offer, type Operation, parseResources, type ResourceMap } from "../sdk/index.ts";
import { taskKeyFor } from "./ids.ts";
import type { MesosOperation, MesosTaskInfo } from "./messages.ts";
import type { Call } from "./protocol.ts";
import { fromMesosResources } from "./resources.ts";
import { convertTask, mergeGroupAnnotations, type StatusInput } from "./tasks.ts";

export type AcceptCall = NonNullable<Call["accept"]>;

/** What the plan needs of an outstanding offer. */
export type PlanOffer = Pick<Offer, "name" | "agent" | "role" | "resources">;

/** What the plan needs of the framework. */
export interface PlanFramework {
  /** The Mesos framework id (the tasks' MESOS_FRAMEWORK_ID). */
  id: string;
  partitionAware: boolean;
  /** A task the framework already has, by kube-offers task id; `pod`: its Pod still exists. */
  task(key: string): { terminal: boolean; pod?: string | undefined } | undefined;
}

export interface PlanDefaults {
  /** Image of CommandInfo tasks without a ContainerInfo. */
  defaultImage: string;
}

export type PlanError =
  /** A status to send for a task that is not launched (it needs no acknowledgement). */
  | { kind: "task"; status: StatusInput }
  /** An operation that is dropped (with an id: OPERATION_ERROR is sent). */
  | {
      kind: "operation";
      type: MesosOperation["type"];
      id: string | undefined;
      agent: string;
      message: string;
    };

export interface OfferAnswer {
  offer: string;
  /** What the offer is accepted with; none: it is declined. */
  operations: Operation[];
  /** Ids of its RESERVE / UNRESERVE operations: UPDATE_OPERATION_STATUS once the offer is answered. */
  operationIds: string[];
}

export type AcceptPlan =
  | {
      ok: true;
      agent: string;
      refuseSeconds: number;
      /** One per offer of the call, in its order. */
      answers: OfferAnswer[];
      /** kube-offers task id -> Mesos task id of every task launched. */
      taskIds: Map<string, string>;
      errors: PlanError[];
    }
  | {
      /** The offers cannot be used together (unknown, used, of several agents, none): nothing launches. */
      ok: false;
      refuseSeconds: number;
      /** The call's offers that are still outstanding: declined. */
      decline: string[];
      errors: PlanError[];
    };

const MAX_REFUSE_SECONDS = 365 * 24 * 3600;

/** Mesos Filters.refuse_seconds: default 5, negative -> default, capped at a year. */
export function refuseSeconds(f: { refuse_seconds?: number | undefined } | undefined): number {
  const v = f?.refuse_seconds;
  if (v === undefined || !Number.isFinite(v) || v < 0) return DEFAULT_REFUSE_SECONDS;
  return Math.min(v, MAX_REFUSE_SECONDS);
}

function tasksOf(ops: MesosOperation[]): MesosTaskInfo[] {
  return ops.flatMap((o) => [...(o.launch?.task_infos ?? []), ...(o.launch_group?.task_group.tasks ?? [])]);
}

/** The roles a RESERVE / UNRESERVE names: each resource's last reservation, or its (deprecated) role. */
function reservationRoles(list: NonNullable<MesosOperation["reserve"]>["resources"]): string[] {
  return (list ?? []).flatMap((x) =>
    x.reservations?.length ? [x.reservations.at(-1)?.role ?? ""] : x.role && x.role !== "*" ? [x.role] : [],
  );
}

/**
 * The plan for an ACCEPT of `framework`, whose outstanding offers are `outstanding`. Pure: the
 * same inputs give the same plan (task Pod templates included), and nothing is sent or written.
 */
export function planAccept(
  call: AcceptCall,
  outstanding: readonly PlanOffer[],
  framework: PlanFramework,
  defaults: PlanDefaults,
): AcceptPlan {
  const refuse = refuseSeconds(call.filters);
  const byName = new Map(outstanding.map((o) => [o.name, o]));
  const offers = call.offer_ids.map((id) => byName.get(id.value));
  const ops = call.operations ?? [];
  const valid = offers.filter((o): o is PlanOffer => o !== undefined);
  const agents = new Set(valid.map((o) => o.agent));
  if (valid.length === 0 || valid.length !== offers.length || agents.size > 1) {
    const why =
      valid.length !== offers.length
        ? `Offer ${call.offer_ids.find((_, i) => !offers[i])?.value} is no longer valid`
        : agents.size > 1
          ? "Offers of an ACCEPT must all be for the same agent"
          : "No offer ids were given";
    return {
      ok: false,
      refuseSeconds: refuse,
      decline: valid.map((o) => o.name),
      errors: tasksOf(ops).map((t) => ({
        kind: "task",
        status: {
          mesosTaskId: t.task_id.value,
          state: framework.partitionAware ? "TASK_DROPPED" : "TASK_LOST",
          reason: "REASON_INVALID_OFFERS",
          message: why,
        },
      })),
    };
  }
  const agent = valid[0]!.agent;
  const bins = valid.map((o) => ({
    offer: o,
    left: parseResources(o.resources),
    answer: { offer: o.name, operations: [], operationIds: [] } as OfferAnswer,
  }));
  const taskIds = new Map<string, string>();
  const errors: PlanError[] = [];
  const seen = new Set<string>();
  const taskError = (t: MesosTaskInfo, message: string, reason = "REASON_TASK_INVALID") =>
    errors.push({
      kind: "task",
      status: { mesosTaskId: t.task_id.value, state: "TASK_ERROR", reason, message, agentId: agent },
    });
  const operationError = (op: MesosOperation, message: string) =>
    errors.push({ kind: "operation", type: op.type, id: op.id?.value, agent, message });
  /** Why a task id cannot be launched (again), or undefined. */
  const unusable = (t: MesosTaskInfo): string | undefined => {
    const key = taskKeyFor(t.task_id.value);
    if (seen.has(key)) return `Task ${t.task_id.value}: duplicate task id in this ACCEPT`;
    const known = framework.task(key);
    if (known && !known.terminal) return `Task ${t.task_id.value}: task id is already in use`;
    if (known?.pod) return `Task ${t.task_id.value}: task id was used before and its Pod still exists`;
    return undefined;
  };
  /** The first offer with `need` left, which is then taken from it. */
  const place = (need: Resources): (typeof bins)[number] | undefined => {
    const bin = bins.find((b) => contains(b.left, need));
    if (bin) bin.left = subtract(bin.left, need);
    return bin;
  };
  const ctx = { frameworkId: framework.id, agentId: agent, defaultImage: defaults.defaultImage };
  for (const op of ops) {
    switch (op.type) {
      case "LAUNCH":
        for (const t of op.launch?.task_infos ?? []) {
          const dup = unusable(t);
          if (dup) {
            taskError(t, dup);
            continue;
          }
          const c = convertTask(t, ctx);
          if (!c.ok) {
            taskError(t, c.error);
            continue;
          }
          const bin = place(parseResources(c.task.resources as ResourceMap));
          if (!bin) {
            taskError(t, `Task ${t.task_id.value} uses more resources than the offers have left`);
            continue;
          }
          seen.add(c.key);
          taskIds.set(c.key, t.task_id.value);
          bin.answer.operations.push({ launch: { tasks: [c.task] } });
        }
        break;
      case "LAUNCH_GROUP": {
        const group = op.launch_group?.task_group.tasks ?? [];
        const exec = op.launch_group?.executor as { type?: string } | undefined;
        const fail = (msg: string) => {
          for (const t of group) taskError(t, msg, "REASON_TASK_GROUP_INVALID");
        };
        if (!group.length) break;
        if (exec?.type === "CUSTOM") {
          fail("Task group: custom executors are not supported (use the DEFAULT executor)");
          break;
        }
        const converted: TaskInfoInput[] = [];
        let total = emptyResources();
        let bad: string | undefined;
        for (const t of group) {
          const c = convertTask(t, ctx);
          bad ??= unusable(t) ?? (c.ok ? undefined : c.error);
          if (!c.ok) continue;
          // Taken even when the group fails: a later task with its id is a duplicate.
          seen.add(c.key);
          converted.push(c.task);
          total = add(total, parseResources(c.task.resources as ResourceMap));
        }
        if (bad) {
          fail(`Task group invalid: ${bad}`);
          break;
        }
        const bin = place(total);
        if (!bin) {
          fail("Task group uses more resources than the offers have left");
          break;
        }
        for (const [i, t] of group.entries()) taskIds.set(converted[i]!.id, t.task_id.value);
        mergeGroupAnnotations(converted);
        bin.answer.operations.push({ launchGroup: { tasks: converted } });
        break;
      }
      case "RESERVE":
      case "UNRESERVE": {
        const list = (op.type === "RESERVE" ? op.reserve?.resources : op.unreserve?.resources) ?? [];
        const r = fromMesosResources(list);
        const bin = bins[0]!;
        if (!r.ok) {
          operationError(op, r.error);
          break;
        }
        // Reservations are for the role the offer was made to (Mesos: its allocation role).
        const wrong = reservationRoles(list).find((role) => role !== bin.offer.role);
        if (wrong !== undefined) {
          operationError(op, `reservation role "${wrong}" is not the offer's role "${bin.offer.role}"`);
          break;
        }
        if (op.type === "RESERVE")
          bin.answer.operations.push({ reserve: { resources: r.resources as never } } as Operation);
        else
          bin.answer.operations.push({
            unreserve: { resources: r.resources as never, ...(r.reservation ? { id: r.reservation } : {}) },
          } as Operation);
        if (op.id) bin.answer.operationIds.push(op.id.value);
        break;
      }
      default:
        operationError(op, `${op.type} operations are not supported`);
    }
  }
  return { ok: true, agent, refuseSeconds: refuse, answers: bins.map((b) => b.answer), taskIds, errors };
}
