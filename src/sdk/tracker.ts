// Turns what the informers see (ResourceOffers and task Pods, in any order, replayed after
// watch restarts and relists) into scheduler events that happen once: an offer is offered once
// and rescinded or expired at most once; a task update is emitted once per task, Pod, state and
// reason. Pure: no I/O, so replays are unit-tested.
import type { V1Pod } from "@kubernetes/client-node";
import { ANNOTATION_ROLE, ANNOTATION_TASK_GROUP, LABEL_OFFER, LABEL_TASK_ID } from "../crds/contract.ts";
import {
  type OfferPhase,
  type OfferResponse,
  offerPhase,
  type ResourceOffer,
  responseTaskIds,
} from "../crds/offer.ts";
import type { ResourceMap } from "../resources/types.ts";
import { isTerminal, nodeHealthFromPod, taskStatusOf, vanishedTaskStatus } from "../tasks/state.ts";
import type { Offer, OfferOutcome, SchedulerEvent, Task, TaskState, TaskUpdate } from "./types.ts";

export function isTerminalState(s: TaskState): boolean {
  return isTerminal(s);
}

export function toOffer(o: ResourceOffer): Offer {
  const exp = o.spec.expiresAt ? new Date(o.spec.expiresAt) : undefined;
  return {
    name: o.metadata.name ?? "",
    namespace: o.metadata.namespace ?? "",
    agent: o.spec.agent,
    role: o.spec.role,
    resources: o.spec.resources as ResourceMap,
    attributes: o.spec.attributes ?? {},
    ...(exp && !Number.isNaN(exp.getTime()) ? { expiresAt: exp } : {}),
    object: o,
  };
}

interface OfferState {
  announced: boolean;
  final?: OfferPhase;
  /** Answered by this process (the informer may not have seen the response yet). */
  answered: boolean;
  offer: Offer;
}

/** Offers: new, rescinded, expired, answered — each at most once per offer. */
export class OfferTracker {
  private readonly offers = new Map<string, OfferState>();

  observe(o: ResourceOffer, now = Date.now()): SchedulerEvent[] {
    const name = o.metadata.name ?? "";
    const offer = toOffer(o);
    let st = this.offers.get(name);
    if (!st) {
      st = { announced: false, answered: false, offer };
      this.offers.set(name, st);
    }
    st.offer = offer;
    const phase = offerPhase(o);
    const out: SchedulerEvent[] = [];
    if (phase === "Offered") {
      const expired = offer.expiresAt !== undefined && offer.expiresAt.getTime() <= now;
      if (!st.announced && !o.spec.response && !st.answered && !expired) {
        st.announced = true;
        out.push({ type: "offer", offer });
      }
      return out;
    }
    if (st.final) return out;
    st.final = phase;
    const reason = o.status?.reason;
    const message = o.status?.message;
    const extra = { ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
    if (o.spec.response || st.answered) {
      out.push({ type: "answered", outcome: outcomeOf(o) });
    } else if (st.announced && (phase === "Rescinded" || phase === "Expired")) {
      out.push({ type: phase === "Rescinded" ? "rescinded" : "expired", offer, ...extra });
    }
    return out;
  }

  /** The offer was deleted. Unanswered and never finished: it was withdrawn. */
  gone(o: ResourceOffer): SchedulerEvent[] {
    const name = o.metadata.name ?? "";
    const st = this.offers.get(name);
    this.offers.delete(name);
    if (!st || st.final || st.answered || o.spec.response || !st.announced) return [];
    return [{ type: "rescinded", offer: st.offer, reason: "Deleted", message: "the offer was deleted" }];
  }

  /** Offers known here but missing from a fresh list: they were deleted while the watch was down. */
  diff(present: ReadonlySet<string>): SchedulerEvent[] {
    const out: SchedulerEvent[] = [];
    for (const [name, st] of this.offers) if (!present.has(name)) out.push(...this.gone(st.offer.object));
    return out;
  }

  /** The offer as the watch last saw it, if it is still known. */
  seen(name: string): ResourceOffer | undefined {
    return this.offers.get(name)?.offer.object;
  }

  markAnswered(name: string): void {
    const st = this.offers.get(name);
    if (st) st.answered = true;
  }

  /** Offers that may still be answered: announced, unanswered, not finished, not expired. */
  outstanding(now = Date.now()): Offer[] {
    const out: Offer[] = [];
    for (const st of this.offers.values()) {
      if (!st.announced || st.final || st.answered || st.offer.object.spec.response) continue;
      if (st.offer.expiresAt && st.offer.expiresAt.getTime() <= now) continue;
      out.push(st.offer);
    }
    return out;
  }
}

export function outcomeOf(o: ResourceOffer): OfferOutcome {
  return {
    offer: o.metadata.name ?? "",
    phase: offerPhase(o),
    ...(o.status?.reason ? { reason: o.status.reason } : {}),
    ...(o.status?.message ? { message: o.status.message } : {}),
    tasks: o.status?.tasks ?? [],
  };
}

interface TaskEntry extends Task {
  /** uid of the Pod the state was read from. */
  uid?: string;
  key: string;
}

/** The task ids a Pod carries: its task-id label, or every task of its launch group. */
export function podTaskIds(pod: V1Pod): string[] {
  const group = pod.metadata?.annotations?.[ANNOTATION_TASK_GROUP];
  if (group) return group.split(",").filter(Boolean);
  const id = pod.metadata?.labels?.[LABEL_TASK_ID];
  return id ? [id] : [];
}

/** Task states from Pods and offer answers, one update per change. */
export class TaskTracker {
  private readonly tasks = new Map<string, TaskEntry>();

  all(): Task[] {
    return [...this.tasks.values()].map(publicTask);
  }

  get(id: string): Task | undefined {
    const t = this.tasks.get(id);
    return t ? publicTask(t) : undefined;
  }

  observePod(pod: V1Pod, now = new Date()): TaskUpdate[] {
    const ids = podTaskIds(pod);
    const s = taskStatusOf(pod);
    const uid = pod.metadata?.uid ?? "";
    const out: TaskUpdate[] = [];
    for (const id of ids) {
      const prev = this.tasks.get(id);
      const key = `${uid}|${s.state}|${s.reason ?? ""}`;
      if (prev?.key === key) {
        // Same state: keep labels current without an update.
        prev.labels = { ...(pod.metadata?.labels ?? {}) };
        prev.annotations = { ...(pod.metadata?.annotations ?? {}) };
        continue;
      }
      const entry: TaskEntry = {
        id,
        state: s.state,
        ...(s.reason ? { reason: s.reason } : {}),
        ...(s.message ? { message: s.message } : {}),
        ...(pod.spec?.nodeName ? { agent: pod.spec.nodeName } : {}),
        pod: pod.metadata?.name ?? "",
        ...(pod.metadata?.labels?.[LABEL_OFFER] ? { offer: pod.metadata.labels[LABEL_OFFER] } : {}),
        ...(pod.metadata?.annotations?.[ANNOTATION_ROLE]
          ? { role: pod.metadata.annotations[ANNOTATION_ROLE] }
          : {}),
        ...(ids.length > 1 ? { group: ids } : {}),
        labels: { ...(pod.metadata?.labels ?? {}) },
        annotations: { ...(pod.metadata?.annotations ?? {}) },
        terminal: isTerminalState(s.state),
        source: "pod",
        uid,
        key,
      };
      this.tasks.set(id, entry);
      out.push(update(entry, prev, now));
    }
    return out;
  }

  /** The Pod was deleted: a task that had not finished was killed (or lost with its node). */
  podGone(pod: V1Pod, now = new Date()): TaskUpdate[] {
    const uid = pod.metadata?.uid ?? "";
    const out: TaskUpdate[] = [];
    for (const id of podTaskIds(pod)) {
      const prev = this.tasks.get(id);
      if (prev?.source !== "pod" || prev.uid !== uid) continue;
      if (prev.terminal) continue;
      const s = vanishedTaskStatus(nodeHealthFromPod(pod));
      out.push(this.set(prev, s.state, s.reason, s.message, "vanished", now));
    }
    return out;
  }

  /** Pods known here but missing from a fresh list: deleted while the watch was down. */
  diffPods(present: ReadonlySet<string>, now = new Date()): TaskUpdate[] {
    const out: TaskUpdate[] = [];
    for (const t of this.tasks.values()) {
      if (t.source !== "pod" || t.terminal || !t.pod || present.has(t.pod)) continue;
      const s = vanishedTaskStatus();
      out.push(this.set(t, s.state, s.reason, s.message, "vanished", now));
    }
    return out;
  }

  /** This process answered `offer` with these tasks: until their Pods appear they are launching. */
  launching(
    offer: string,
    agent: string,
    role: string,
    response: OfferResponse,
    only?: ReadonlySet<string>,
  ): void {
    const groups = (response.operations ?? []).flatMap((op) =>
      op.launchGroup ? [op.launchGroup.tasks.map((t) => t.id)] : [],
    );
    const infos = (response.operations ?? []).flatMap((op) => [
      ...(op.launch?.tasks ?? []),
      ...(op.launchGroup?.tasks ?? []),
    ]);
    for (const info of infos) {
      const id = info.id;
      if (only && !only.has(id)) continue;
      const prev = this.tasks.get(id);
      if (prev && prev.source === "pod" && !prev.terminal) continue;
      const group = groups.find((g) => g.includes(id));
      this.tasks.set(id, {
        id,
        state: "TASK_STAGING",
        agent,
        role,
        offer,
        ...(group && group.length > 1 ? { group } : {}),
        // What the Pod will carry: the template's labels and annotations.
        labels: { ...(info.template.metadata?.labels ?? {}) },
        annotations: { ...(info.template.metadata?.annotations ?? {}) },
        terminal: false,
        source: "launching",
        key: `launching|${offer}`,
      });
    }
  }

  /** What an offer's answer and status say about its tasks (launching, refused, dropped). */
  observeOffer(o: ResourceOffer, now = new Date()): TaskUpdate[] {
    const r = o.spec.response;
    if (r?.action !== "Accept") return [];
    const name = o.metadata.name ?? "";
    const ids = responseTaskIds(r);
    const phase = offerPhase(o);
    const out: TaskUpdate[] = [];
    // Only tasks whose Pod has not been seen are decided here: a Pod is the better witness.
    const undecided = (id: string) => {
      const t = this.tasks.get(id);
      return !t || (t.source === "launching" && t.offer === name);
    };
    if (phase === "Offered") {
      this.launching(name, o.spec.agent, o.spec.role, r, new Set(ids.filter(undecided)));
      return out;
    }
    if (phase === "Accepted" || phase === "Invalid") {
      const listed = new Map((o.status?.tasks ?? []).map((t) => [t.id, t]));
      for (const id of ids) {
        if (!undecided(id)) continue;
        const st = listed.get(id);
        if (st?.state === "TASK_ERROR" || (phase === "Invalid" && !st)) {
          const entry = this.ensure(id, name, o);
          out.push(
            this.set(
              entry,
              "TASK_ERROR",
              st?.reason ?? o.status?.reason,
              st?.message ?? o.status?.message,
              "offer",
              now,
            ),
          );
        } else if (!this.tasks.has(id)) {
          this.launching(name, o.spec.agent, o.spec.role, r, new Set([id]));
        }
      }
      return out;
    }
    if (phase === "Rescinded" || phase === "Expired" || phase === "Declined") {
      for (const id of ids) {
        if (!undecided(id)) continue;
        const entry = this.ensure(id, name, o);
        out.push(
          this.set(
            entry,
            "TASK_DROPPED",
            "REASON_INVALID_OFFERS",
            `offer ${name} was ${phase} before the answer was processed: nothing was launched`,
            "offer",
            now,
          ),
        );
      }
    }
    return out;
  }

  /** The offer was deleted; tasks still waiting on it never got a Pod. */
  offerGone(o: ResourceOffer, now = new Date()): TaskUpdate[] {
    const name = o.metadata.name ?? "";
    const out: TaskUpdate[] = [];
    for (const t of this.tasks.values()) {
      if (t.source === "launching" && t.offer === name)
        out.push(
          this.set(
            t,
            "TASK_LOST",
            "REASON_RECONCILIATION",
            "no Pod was ever seen for this task",
            "vanished",
            now,
          ),
        );
    }
    return out;
  }

  private ensure(id: string, offer: string, o: ResourceOffer): TaskEntry {
    let t = this.tasks.get(id);
    if (!t) {
      t = {
        id,
        state: "TASK_STAGING",
        agent: o.spec.agent,
        role: o.spec.role,
        offer,
        labels: {},
        annotations: {},
        terminal: false,
        source: "launching",
        key: "",
      };
      this.tasks.set(id, t);
    }
    return t;
  }

  private set(
    t: TaskEntry,
    state: TaskState,
    reason: string | undefined,
    message: string | undefined,
    source: Task["source"],
    now: Date,
  ): TaskUpdate {
    const prev = { ...t };
    t.state = state;
    if (reason) t.reason = reason;
    else delete t.reason;
    if (message) t.message = message;
    else delete t.message;
    t.source = source;
    t.terminal = isTerminalState(state);
    t.key = `${source}|${state}|${reason ?? ""}`;
    return update(t, prev, now);
  }
}

function publicTask(t: TaskEntry): Task {
  const { uid: _uid, key: _key, ...rest } = t;
  return { ...rest, labels: { ...t.labels }, annotations: { ...t.annotations } };
}

function update(t: TaskEntry, prev: TaskEntry | undefined, at: Date): TaskUpdate {
  const base = publicTask(t);
  // A launching placeholder was never reported, so it is not a previous state.
  return prev && prev.source !== "launching" ? { ...base, previous: prev.state, at } : { ...base, at };
}
