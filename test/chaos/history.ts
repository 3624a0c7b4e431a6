// The chaos suite's history: every watch event of the objects the invariants are about, reduced
// to the fields they read, plus what the suite itself did (kills, faults, metric samples). Pure
// types and the object → event reduction; the recorder that fills it lives in recorder.ts.
import {
  ANNOTATION_RESOURCES,
  ANNOTATION_TASK_GROUP,
  LABEL_FRAMEWORK,
  LABEL_OFFER,
  LABEL_TASK_ID,
} from "../../src/crds/contract.ts";

export type WatchKind = "ResourceOffer" | "Pod" | "Agent" | "Framework" | "Lease";
/** Records the suite writes itself: a task it killed, a fault it injected, a metrics sample. */
export type SuiteKind = "Kill" | "Fault" | "Metrics";
export type EventKind = WatchKind | SuiteKind;
export type EventType = "ADDED" | "MODIFIED" | "DELETED" | "NOTE";

export type ResourceMap = Record<string, string | number | { begin: number; end: number }[]>;

export interface OfferFields {
  framework: string;
  agent: string;
  /** "" while the operator has written no status yet (an outstanding offer). */
  phase: string;
  reason: string;
  resources: ResourceMap;
  answered: boolean;
  /** The tasks of the answer's launch / launchGroup operations, with what each asked for. */
  responseTasks: { id: string; resources: ResourceMap }[];
  statusTasks: { id: string; pod: string; state: string }[];
}

export interface PodFields {
  framework: string;
  taskIds: string[];
  offer: string;
  node: string;
  phase: string;
  deleting: boolean;
  /** The granted resources (the launch plan's annotation), as written. */
  resources: string;
}

export interface AgentFields {
  resources: ResourceMap | undefined;
  reservations: { id: string; framework: string }[];
}

export interface FrameworkFields {
  deleting: boolean;
}

export interface LeaseFields {
  holder: string;
  renewTime: string;
}

export interface KillFields {
  framework: string;
  taskId: string;
  /** The Pod the kill deleted, and the resourceVersion the delete returned. */
  podUid: string;
}

export interface MetricsFields {
  /** The replica's process incarnation: a restarted process starts its counters at 0. */
  replica: string;
  reachable: boolean;
  leader: boolean;
  cycles: number;
}

export interface FaultFields {
  fault: string;
  detail: string;
}

interface Base<K extends EventKind, F> {
  /** Order of arrival in this run. */
  seq: number;
  /** Wall-clock ms when the suite saw it. */
  at: number;
  type: EventType;
  kind: K;
  /** namespace/name (cluster-scoped: name). */
  key: string;
  uid: string;
  /** resourceVersion ("" for the suite's own records without one). */
  rv: string;
  fields: F;
}

export type HistoryEvent =
  | Base<"ResourceOffer", OfferFields>
  | Base<"Pod", PodFields>
  | Base<"Agent", AgentFields>
  | Base<"Framework", FrameworkFields>
  | Base<"Lease", LeaseFields>
  | Base<"Kill", KillFields>
  | Base<"Metrics", MetricsFields>
  | Base<"Fault", FaultFields>;

export type EventOfKind<K extends EventKind> = Extract<HistoryEvent, { kind: K }>;

// biome-ignore lint/suspicious/noExplicitAny: watch events are untyped JSON
type Json = any;

function stamp(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  return typeof v === "string" ? v : "";
}

/** A task's namespace/framework/task-id: the identity "at most one Pod" is about. */
export function taskKey(namespace: string, framework: string, taskId: string): string {
  return `${namespace}/${framework}/${taskId}`;
}

export function namespaceOf(key: string): string {
  const i = key.indexOf("/");
  return i < 0 ? "" : key.slice(0, i);
}

/** The fields the invariants read, from an object of a watched kind. */
export function fieldsOf(kind: WatchKind, o: Json): HistoryEvent["fields"] {
  switch (kind) {
    case "ResourceOffer": {
      const response = o.spec?.response;
      const responseTasks: OfferFields["responseTasks"] = [];
      for (const op of response?.action === "Accept" ? (response.operations ?? []) : []) {
        for (const t of [...(op.launch?.tasks ?? []), ...(op.launchGroup?.tasks ?? [])])
          responseTasks.push({ id: String(t.id), resources: t.resources ?? {} });
      }
      return {
        framework: String(o.spec?.framework ?? ""),
        agent: String(o.spec?.agent ?? ""),
        phase: String(o.status?.phase ?? ""),
        reason: String(o.status?.reason ?? ""),
        resources: o.spec?.resources ?? {},
        answered: Boolean(response),
        responseTasks,
        statusTasks: (o.status?.tasks ?? []).map((t: Json) => ({
          id: String(t.id),
          pod: String(t.pod ?? ""),
          state: String(t.state ?? ""),
        })),
      } satisfies OfferFields;
    }
    case "Pod": {
      const labels = o.metadata?.labels ?? {};
      const group = o.metadata?.annotations?.[ANNOTATION_TASK_GROUP];
      const taskIds = group
        ? String(group).split(",").filter(Boolean)
        : [String(labels[LABEL_TASK_ID] ?? "")];
      return {
        framework: String(labels[LABEL_FRAMEWORK] ?? ""),
        taskIds,
        offer: String(labels[LABEL_OFFER] ?? ""),
        node: String(o.spec?.nodeName ?? ""),
        phase: String(o.status?.phase ?? ""),
        deleting: Boolean(o.metadata?.deletionTimestamp),
        resources: String(o.metadata?.annotations?.[ANNOTATION_RESOURCES] ?? ""),
      } satisfies PodFields;
    }
    case "Agent":
      return {
        resources: o.status?.resources,
        reservations: (o.spec?.dynamicReservations ?? []).map((r: Json) => ({
          id: String(r.id),
          framework: String(r.framework),
        })),
      } satisfies AgentFields;
    case "Framework":
      return { deleting: Boolean(o.metadata?.deletionTimestamp) } satisfies FrameworkFields;
    case "Lease":
      return {
        holder: String(o.spec?.holderIdentity ?? ""),
        renewTime: stamp(o.spec?.renewTime),
      } satisfies LeaseFields;
  }
}

/** Numeric resourceVersion (etcd's revision) for ordering across kinds; NaN when absent. */
export function rvNumber(rv: string): number {
  return rv ? Number(rv) : Number.NaN;
}
