// The promises kube-offers makes, checked over a recorded history (history.ts). Pure: the same
// history always gives the same verdict, so each check is unit-tested with hand-built histories
// (invariants.test.ts). Each violation carries the events that show it.
import { TERMINAL_TASK_STATES } from "../../src/crds/offer.ts";
import { portsIntersection, portsUnion } from "../../src/resources/ports.ts";
import { addScalars, contains, toResources } from "../../src/resources/resources.ts";
import type { PortRange, Resources, Scalars } from "../../src/resources/types.ts";
import {
  type EventOfKind,
  type HistoryEvent,
  namespaceOf,
  type ResourceMap,
  rvNumber,
  taskKey,
} from "./history.ts";

export interface Violation {
  invariant: InvariantName;
  message: string;
  events: HistoryEvent[];
}

export interface CheckResult {
  invariant: InvariantName;
  /** How many things the check looked at (tasks, agent states, offers, …): a check of nothing proves nothing. */
  checked: number;
  violations: Violation[];
}

export interface Bounds {
  /** Offer timeout + 2 × the operator's lease duration: by then every offer is final. */
  offerFinalMs: number;
  /** Longest time a replica may report leading without its allocation cycle counter moving. */
  cycleGapMs: number;
}

export const INVARIANTS = [
  "one-pod-per-task",
  "accepted-task-has-pod-or-final-state",
  "agent-capacity",
  "offer-reaches-final-phase",
  "reservation-owner-exists",
  "allocation-cycles-advance",
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

const FINAL_PHASES = new Set(["Accepted", "Declined", "Rescinded", "Expired", "Invalid"]);
const TERMINAL = new Set<string>(TERMINAL_TASK_STATES);

function ofKind<K extends HistoryEvent["kind"]>(h: readonly HistoryEvent[], kind: K): EventOfKind<K>[] {
  return h.filter((e): e is EventOfKind<K> => e.kind === kind);
}

/** Watch events in etcd order (resourceVersion), arrival order breaking ties. */
function byRv<T extends HistoryEvent>(events: T[]): T[] {
  return [...events].sort((a, b) => rvNumber(a.rv) - rvNumber(b.rv) || a.seq - b.seq);
}

function podTaskKeys(e: EventOfKind<"Pod">): string[] {
  const ns = namespaceOf(e.key);
  return e.fields.taskIds.map((id) => taskKey(ns, e.fields.framework, id));
}

/**
 * At most one Pod UID per task, ever; and no Pod of a task appears after the task was killed
 * (the suite deleted its Pod, an offer reported it TASK_KILLED, or its Framework's teardown ended).
 */
export function onePodPerTask(h: readonly HistoryEvent[]): CheckResult {
  const violations: Violation[] = [];
  const firstOfUid = new Map<string, EventOfKind<"Pod">>();
  const uidsOfTask = new Map<string, string[]>();
  for (const e of byRv(ofKind(h, "Pod"))) {
    if (firstOfUid.has(e.uid)) continue;
    firstOfUid.set(e.uid, e);
    for (const k of podTaskKeys(e)) uidsOfTask.set(k, [...(uidsOfTask.get(k) ?? []), e.uid]);
  }
  for (const [k, uids] of uidsOfTask) {
    if (uids.length > 1)
      violations.push({
        invariant: "one-pod-per-task",
        message: `task ${k} had ${uids.length} Pods (uids ${uids.join(", ")})`,
        events: uids.map((u) => firstOfUid.get(u)!),
      });
  }
  // When each task was killed, and which Pod (if known) the kill removed.
  const killed = new Map<string, { rv: number; uid: string; event: HistoryEvent }>();
  const note = (k: string, rv: number, uid: string, event: HistoryEvent) => {
    const cur = killed.get(k);
    if (!cur || rv < cur.rv) killed.set(k, { rv, uid, event });
  };
  for (const e of ofKind(h, "Kill")) {
    note(
      taskKey(namespaceOf(e.key), e.fields.framework, e.fields.taskId),
      rvNumber(e.rv),
      e.fields.podUid,
      e,
    );
  }
  for (const e of ofKind(h, "ResourceOffer")) {
    for (const t of e.fields.statusTasks)
      if (t.state === "TASK_KILLED")
        note(taskKey(namespaceOf(e.key), e.fields.framework, t.id), rvNumber(e.rv), "", e);
  }
  // A Framework that is gone was torn down: every task of it killed, so none may start after.
  const gone = new Map<string, EventOfKind<"Framework">>();
  for (const e of byRv(ofKind(h, "Framework")))
    if (e.type === "DELETED" && !gone.has(e.key)) gone.set(e.key, e);
  for (const [uid, first] of firstOfUid) {
    const rv = rvNumber(first.rv);
    for (const k of podTaskKeys(first)) {
      const kill = killed.get(k);
      if (kill && uid !== kill.uid && rv > kill.rv)
        violations.push({
          invariant: "one-pod-per-task",
          message: `task ${k}: Pod ${uid} appeared at rv ${first.rv}, after the task was killed at rv ${kill.rv}`,
          events: [kill.event, first],
        });
    }
    const fw = gone.get(`${namespaceOf(first.key)}/${first.fields.framework}`);
    if (fw && rv > rvNumber(fw.rv))
      violations.push({
        invariant: "one-pod-per-task",
        message: `Pod ${first.key} (${uid}) was created at rv ${first.rv}, after its framework was torn down (gone at rv ${fw.rv})`,
        events: [fw, first],
      });
  }
  return { invariant: "one-pod-per-task", checked: uidsOfTask.size, violations };
}

/** Every task of an accepted offer had a Pod or ended in a final state (call after the settle period). */
export function acceptedTasksResolved(h: readonly HistoryEvent[]): CheckResult {
  const violations: Violation[] = [];
  const withPod = new Set<string>();
  for (const e of ofKind(h, "Pod")) for (const k of podTaskKeys(e)) withPod.add(k);
  const last = new Map<string, EventOfKind<"ResourceOffer">>();
  for (const e of ofKind(h, "ResourceOffer")) if (e.fields.phase) last.set(e.uid, e);
  let checked = 0;
  for (const e of last.values()) {
    if (e.fields.phase !== "Accepted") continue;
    for (const t of e.fields.statusTasks) {
      checked++;
      const k = taskKey(namespaceOf(e.key), e.fields.framework, t.id);
      if (withPod.has(k) || TERMINAL.has(t.state)) continue;
      violations.push({
        invariant: "accepted-task-has-pod-or-final-state",
        message: `task ${k} of accepted offer ${e.key} never had a Pod and was last ${t.state}`,
        events: [e],
      });
    }
  }
  return { invariant: "accepted-task-has-pod-or-final-state", checked, violations };
}

function resourcesOf(map: ResourceMap | string | undefined): Resources | undefined {
  try {
    const m = typeof map === "string" ? (JSON.parse(map) as ResourceMap) : map;
    return m ? toResources(m as Parameters<typeof toResources>[0]) : undefined;
  } catch {
    return undefined;
  }
}

interface Hold {
  what: string;
  resources: Resources;
  event: HistoryEvent;
}

/** Why the operator rescinds an offer a deposed leader sent late (src/controller/deposed-offers.ts). */
const LEADER_CHANGED = "LeaderChanged";

/**
 * At every resourceVersion, what each agent holds — outstanding offers (their Pods are inside
 * them), the Pods of finished offers until they terminate, and the tasks of an offer recorded as
 * Launching whose Pod was not seen yet — fits the agent's reported resources, ports never overlapping.
 * An offer a deposed leader sent after another took over holds nothing: the new leader rescinds
 * it (LeaderChanged) and launches nothing from it, which is checked here too.
 */
export function agentCapacity(h: readonly HistoryEvent[]): CheckResult {
  const violations: Violation[] = [];
  const late = lateOffers(h, violations);
  const offers = new Map<string, EventOfKind<"ResourceOffer">>();
  const pods = new Map<string, EventOfKind<"Pod">>();
  const agents = new Map<string, EventOfKind<"Agent">>();
  const podsSeen = new Set<string>();
  const over = new Set<string>();
  let checked = 0;
  const watched = byRv(h.filter((e) => e.kind === "ResourceOffer" || e.kind === "Pod" || e.kind === "Agent"));
  for (const e of watched) {
    let agent = "";
    if (e.kind === "ResourceOffer") {
      agent = e.fields.agent;
      if (e.type === "DELETED") offers.delete(e.key);
      else offers.set(e.key, e);
    } else if (e.kind === "Pod") {
      agent = e.fields.node;
      podsSeen.add(e.key);
      if (e.type === "DELETED") pods.delete(e.key);
      else pods.set(e.key, e);
    } else if (e.kind === "Agent") {
      agent = e.key;
      if (e.type === "DELETED") agents.delete(e.key);
      else agents.set(e.key, e);
    }
    const a = agents.get(agent);
    const capacity = resourcesOf(a?.fields.resources);
    if (!a || !capacity) continue;
    checked++;
    const holds: Hold[] = [];
    const openOffers = new Set<string>();
    for (const o of offers.values()) {
      if (o.fields.agent !== agent || late.has(o.key)) continue;
      if (!o.fields.phase || o.fields.phase === "Offered") {
        openOffers.add(o.key);
        const r = resourcesOf(o.fields.resources);
        if (r) holds.push({ what: `offer ${o.key}`, resources: r, event: o });
      } else if (o.fields.phase === "Accepted" && o.fields.reason === "Launching") {
        // Recorded, Pods not all created: a launching task holds its resources until its Pod shows.
        const asked = new Map(o.fields.responseTasks.map((t) => [t.id, t.resources]));
        for (const t of o.fields.statusTasks) {
          const podKey = `${namespaceOf(o.key)}/${t.pod}`;
          if (podsSeen.has(podKey) || TERMINAL.has(t.state)) continue;
          const r = resourcesOf(asked.get(t.id));
          if (r) holds.push({ what: `launching task ${t.id} of ${o.key}`, resources: r, event: o });
        }
      }
    }
    for (const p of pods.values()) {
      if (p.fields.node !== agent || p.fields.phase === "Succeeded" || p.fields.phase === "Failed") continue;
      if (openOffers.has(`${namespaceOf(p.key)}/${p.fields.offer}`)) continue; // inside its offer
      const r = resourcesOf(p.fields.resources);
      if (r) holds.push({ what: `Pod ${p.key}`, resources: r, event: p });
    }
    const scalars: Scalars = {};
    let ports: PortRange[] = [];
    let overlap = "";
    for (const x of holds) {
      addScalars(scalars, x.resources.scalars);
      if (!overlap && portsIntersection(ports, x.resources.ports).length) overlap = x.what;
      ports = portsUnion(ports, x.resources.ports);
    }
    const fits = !overlap && contains(capacity, { scalars, ports });
    if (fits) {
      over.delete(agent);
      continue;
    }
    if (over.has(agent)) continue; // one violation per span of overcommitment
    over.add(agent);
    violations.push({
      invariant: "agent-capacity",
      message: overlap
        ? `agent ${agent} at rv ${e.rv}: ${overlap} holds ports another holder holds`
        : `agent ${agent} at rv ${e.rv}: holders need ${JSON.stringify(scalars)}, it has ${JSON.stringify(capacity.scalars)} (${holds.map((x) => x.what).join("; ")})`,
      events: [a, ...holds.map((x) => x.event), e],
    });
  }
  return { invariant: "agent-capacity", checked, violations };
}

/**
 * The offers rescinded as a deposed leader's late writes; any of them that reached Accepted or
 * has a Pod is a violation (the new leader must launch nothing from it).
 */
function lateOffers(h: readonly HistoryEvent[], violations: Violation[]): Set<string> {
  const offers = ofKind(h, "ResourceOffer");
  const late = new Set(offers.filter((e) => e.fields.reason === LEADER_CHANGED).map((e) => e.key));
  for (const e of offers)
    if (late.has(e.key) && e.fields.phase === "Accepted")
      violations.push({
        invariant: "agent-capacity",
        message: `offer ${e.key}, a deposed leader's late write, was accepted`,
        events: [e],
      });
  for (const p of ofKind(h, "Pod")) {
    const offer = `${namespaceOf(p.key)}/${p.fields.offer}`;
    if (late.has(offer) && p.type === "ADDED")
      violations.push({
        invariant: "agent-capacity",
        message: `Pod ${p.key} was launched from ${offer}, a deposed leader's late offer`,
        events: [p],
      });
  }
  return late;
}

/** Every offer is final within the bound of its first sighting; `end` is when the history ends. */
export function offersReachFinalPhase(h: readonly HistoryEvent[], bounds: Bounds, end: number): CheckResult {
  const violations: Violation[] = [];
  const first = new Map<string, EventOfKind<"ResourceOffer">>();
  const done = new Set<string>();
  for (const e of ofKind(h, "ResourceOffer")) {
    if (!first.has(e.uid)) first.set(e.uid, e);
    if (done.has(e.uid)) continue;
    const start = first.get(e.uid)!;
    if (FINAL_PHASES.has(e.fields.phase)) {
      done.add(e.uid);
      if (e.at - start.at > bounds.offerFinalMs)
        violations.push({
          invariant: "offer-reaches-final-phase",
          message: `offer ${e.key} became ${e.fields.phase} ${e.at - start.at} ms after it was seen (bound ${bounds.offerFinalMs} ms)`,
          events: [start, e],
        });
    } else if (e.type === "DELETED") {
      done.add(e.uid);
      violations.push({
        invariant: "offer-reaches-final-phase",
        message: `offer ${e.key} was deleted without a final phase`,
        events: [start, e],
      });
    }
  }
  for (const [uid, start] of first) {
    if (!done.has(uid) && end - start.at > bounds.offerFinalMs)
      violations.push({
        invariant: "offer-reaches-final-phase",
        message: `offer ${start.key} still not final ${end - start.at} ms after it was seen (bound ${bounds.offerFinalMs} ms)`,
        events: [start],
      });
  }
  return { invariant: "offer-reaches-final-phase", checked: first.size, violations };
}

/**
 * At the end (after settling) no Agent holds a dynamic reservation of a Framework that is gone;
 * every reservation seen during the run counts as checked (released ones pass).
 */
export function reservationsHaveOwners(h: readonly HistoryEvent[]): CheckResult {
  const violations: Violation[] = [];
  const fws = new Map<string, EventOfKind<"Framework">>();
  for (const e of byRv(ofKind(h, "Framework"))) fws.set(e.key, e);
  const agents = new Map<string, EventOfKind<"Agent">>();
  const seen = new Set<string>();
  for (const e of byRv(ofKind(h, "Agent"))) {
    agents.set(e.key, e);
    for (const r of e.fields.reservations) seen.add(`${e.key}/${r.id}`);
  }
  for (const a of agents.values()) {
    if (a.type === "DELETED") continue;
    for (const r of a.fields.reservations) {
      const fw = fws.get(r.framework);
      if (fw && fw.type !== "DELETED" && !fw.fields.deleting) continue;
      violations.push({
        invariant: "reservation-owner-exists",
        message: `agent ${a.key} keeps reservation ${r.id} of framework ${r.framework}, which is ${fw ? "torn down" : "unknown"}`,
        events: fw ? [fw, a] : [a],
      });
    }
  }
  return { invariant: "reservation-owner-exists", checked: seen.size, violations };
}

/** A replica that says it leads keeps counting allocation cycles: no gap longer than the bound. */
export function allocationCyclesAdvance(h: readonly HistoryEvent[], bounds: Bounds): CheckResult {
  const violations: Violation[] = [];
  const state = new Map<string, { since: number; cycles: number; from: HistoryEvent; reported: boolean }>();
  let checked = 0;
  for (const e of ofKind(h, "Metrics")) {
    const f = e.fields;
    if (!f.reachable || !f.leader) {
      state.delete(f.replica);
      continue;
    }
    checked++;
    const s = state.get(f.replica);
    if (!s || f.cycles > s.cycles) {
      state.set(f.replica, { since: e.at, cycles: f.cycles, from: e, reported: false });
      continue;
    }
    if (!s.reported && e.at - s.since > bounds.cycleGapMs) {
      s.reported = true;
      violations.push({
        invariant: "allocation-cycles-advance",
        message: `leader ${f.replica} ran no allocation cycle for ${e.at - s.since} ms (bound ${bounds.cycleGapMs} ms; stuck at ${f.cycles})`,
        events: [s.from, e],
      });
    }
  }
  return { invariant: "allocation-cycles-advance", checked, violations };
}

/** All the checks, in INVARIANTS order. */
export function checkAll(h: readonly HistoryEvent[], bounds: Bounds, end: number): CheckResult[] {
  return [
    onePodPerTask(h),
    acceptedTasksResolved(h),
    agentCapacity(h),
    offersReachFinalPhase(h, bounds, end),
    reservationsHaveOwners(h),
    allocationCyclesAdvance(h, bounds),
  ];
}
