// An offer status as the controller writes it: bounded to its schema and to etcd (KubeWriter's
// every status write), so that a long message cannot stall an offer; and, for a final phase, the
// Finished condition that starts its retention clock (every ClusterWriter's finishOffer).
import { CONDITION_FINISHED } from "../crds/contract.ts";
import type { ResourceOfferStatus } from "../crds/offer.ts";

/**
 * The part of an offer its task messages may take, in UTF-8 bytes. etcd refuses objects over
 * 1.5 MiB, and the framework's answer (spec) needs room as well: at the most tasks an answer may
 * hold (MAX_OFFER_TASKS, 256) with 4096-character messages the status alone could be 3 MiB, so
 * each task's message gets an equal share of this budget, 4096 characters at most.
 */
export const TASK_MESSAGES_BUDGET = 256 * 1024;
/** The schema's limits (src/crds/offer.ts, meta.ts): a longer value is refused by the API server. */
const MAX_TASK_MESSAGE = 4096;
const MAX_REASON = 128;
const MAX_MESSAGE = 32768;

/** At most `max` characters and `maxBytes` UTF-8 bytes; a cut value ends in "…". */
function clip(s: string | undefined, max: number, maxBytes = 3 * max): string | undefined {
  if (s === undefined || (s.length <= max && Buffer.byteLength(s) <= maxBytes)) return s;
  let out = "";
  let bytes = 3; // the ellipsis
  let chars = 1;
  for (const ch of s) {
    const b = Buffer.byteLength(ch);
    if (chars + ch.length > max || bytes + b > maxBytes) break;
    out += ch;
    bytes += b;
    chars += ch.length;
  }
  return `${out}…`;
}

/** Reasons are CamelCase words: cut, without an ellipsis the reason pattern would refuse. */
function clipReason(s: string | undefined): string | undefined {
  return s === undefined || s.length <= MAX_REASON ? s : s.slice(0, MAX_REASON);
}

/**
 * An offer status that fits the schema and the object size: reasons and messages cut to their
 * limits, task messages to their share of TASK_MESSAGES_BUDGET. Short values are kept as they are.
 * A status the API server refused for its size would never be written: the offer would stall.
 */
export function boundOfferStatus<S extends Partial<ResourceOfferStatus>>(status: S): S {
  const out: S = { ...status };
  if (status.reason !== undefined) out.reason = clipReason(status.reason);
  if (status.message !== undefined) out.message = clip(status.message, MAX_MESSAGE);
  if (status.tasks) {
    const share = Math.floor(TASK_MESSAGES_BUDGET / Math.max(1, status.tasks.length));
    out.tasks = status.tasks.map((t) => ({
      ...t,
      ...(t.reason !== undefined ? { reason: clipReason(t.reason) } : {}),
      ...(t.message !== undefined ? { message: clip(t.message, MAX_TASK_MESSAGE, share) } : {}),
    }));
  }
  if (status.conditions)
    out.conditions = status.conditions.map((c) => ({
      ...c,
      reason: clipReason(c.reason) ?? c.reason,
      message: clip(c.message, MAX_MESSAGE) ?? "",
    }));
  return out;
}

/** The Finished condition that moves an offer to a final phase and starts its retention clock. */
export function finishedCondition(status: { phase: string; reason: string; message?: string }, now: number) {
  return {
    type: CONDITION_FINISHED,
    status: "True" as const,
    reason: status.reason,
    message: status.message || status.phase,
    lastTransitionTime: new Date(now).toISOString(),
  };
}
