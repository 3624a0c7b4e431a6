// The history recorder: list + watch (from the list's resourceVersion, with bookmarks) of
// ResourceOffers, task Pods, Agents, Frameworks and Leases, every event kept in order in memory
// and appended to a JSONL file for post-mortems. A watch that ends (the API server restarted, a
// 410 Gone) is re-listed and the difference emitted — changed objects with their own
// resourceVersion, vanished ones as DELETED at the list's — so the history has no holes.
import { appendFileSync, writeFileSync } from "node:fs";
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  Watch,
} from "@kubernetes/client-node";
import { GROUP, LABEL_FRAMEWORK, PLURAL, VERSION } from "../../src/crds/contract.ts";
import {
  type EventKind,
  type EventType,
  fieldsOf,
  type HistoryEvent,
  namespaceOf,
  type WatchKind,
} from "./history.ts";

interface Source {
  kind: WatchKind;
  /** Collection path, cluster-wide; the recorder keeps only the test's namespaces. */
  path: string;
  labelSelector?: string;
}

const SOURCES: Source[] = [
  { kind: "ResourceOffer", path: `/apis/${GROUP}/${VERSION}/${PLURAL.resourceOffer}` },
  { kind: "Pod", path: "/api/v1/pods", labelSelector: LABEL_FRAMEWORK },
  { kind: "Agent", path: `/apis/${GROUP}/${VERSION}/${PLURAL.agent}` },
  { kind: "Framework", path: `/apis/${GROUP}/${VERSION}/${PLURAL.framework}` },
  { kind: "Lease", path: "/apis/coordination.k8s.io/v1/leases" },
];

// biome-ignore lint/suspicious/noExplicitAny: watch events are untyped JSON
type Json = any;

export class Recorder {
  readonly events: HistoryEvent[] = [];
  private stopped = false;
  private readonly aborts = new Set<AbortController>();
  private readonly known = new Map<WatchKind, Map<string, { uid: string; rv: string }>>();
  private readonly loops: Promise<void>[] = [];
  /** Watch restarts per kind (after API server restarts, 410s, timeouts). */
  readonly restarts: Record<string, number> = {};

  private readonly kc: KubeConfig;
  private readonly namespaces: ReadonlySet<string>;
  private readonly file: string;
  /** Agents are cluster-scoped: keep those whose name passes this. */
  private readonly agentFilter: (name: string) => boolean;

  constructor(
    kc: KubeConfig,
    namespaces: ReadonlySet<string>,
    file: string,
    agentFilter: (name: string) => boolean,
  ) {
    this.kc = kc;
    this.namespaces = namespaces;
    this.file = file;
    this.agentFilter = agentFilter;
    writeFileSync(file, "");
  }

  /** Resolves once every kind is listed and watched. */
  async start(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (const s of SOURCES) {
      this.known.set(s.kind, new Map());
      let signal!: () => void;
      ready.push(new Promise<void>((r) => (signal = r)));
      this.loops.push(this.loop(s, signal));
    }
    await Promise.all(ready);
  }

  /** Appends one of the suite's own records (a kill, a fault, a metrics sample). */
  note<K extends EventKind>(
    kind: K,
    key: string,
    fields: Extract<HistoryEvent, { kind: K }>["fields"],
    opts: { uid?: string; rv?: string } = {},
  ): void {
    this.push({ type: "NOTE", kind, key, uid: opts.uid ?? "", rv: opts.rv ?? "", fields } as HistoryEvent);
  }

  private push(e: Omit<HistoryEvent, "seq" | "at">): void {
    const full = { ...e, seq: this.events.length, at: Date.now() } as HistoryEvent;
    this.events.push(full);
    appendFileSync(this.file, `${JSON.stringify(full)}\n`);
  }

  private keep(kind: WatchKind, o: Json): boolean {
    const ns = o.metadata?.namespace ?? "";
    if (kind === "Agent") return this.agentFilter(o.metadata?.name ?? "");
    return this.namespaces.has(ns);
  }

  private emit(kind: WatchKind, type: EventType, o: Json, rv?: string): void {
    if (!this.keep(kind, o)) return;
    const ns = o.metadata?.namespace;
    const key = ns ? `${ns}/${o.metadata.name}` : String(o.metadata?.name);
    const uid = String(o.metadata?.uid ?? "");
    const objRv = String(rv ?? o.metadata?.resourceVersion ?? "");
    const known = this.known.get(kind)!;
    if (type === "DELETED") known.delete(key);
    else known.set(key, { uid, rv: objRv });
    this.push({ type, kind, key, uid, rv: objRv, fields: fieldsOf(kind, o) } as HistoryEvent);
  }

  private async list(s: Source): Promise<{ items: Json[]; rv: string }> {
    let body: Json;
    if (s.kind === "Pod")
      body = await this.kc
        .makeApiClient(CoreV1Api)
        .listPodForAllNamespaces({ labelSelector: s.labelSelector ?? "" });
    else if (s.kind === "Lease")
      body = await this.kc.makeApiClient(CoordinationV1Api).listLeaseForAllNamespaces();
    else
      body = await this.kc
        .makeApiClient(CustomObjectsApi)
        .listClusterCustomObject({ group: GROUP, version: VERSION, plural: s.path.split("/").at(-1) ?? "" });
    return { items: body.items ?? [], rv: String(body.metadata?.resourceVersion ?? "") };
  }

  /** List, emit the difference to what is known, watch from there; again whenever the watch ends. */
  private async loop(s: Source, ready: () => void): Promise<void> {
    let first = true;
    while (!this.stopped) {
      let listed: { items: Json[]; rv: string };
      try {
        listed = await this.list(s);
      } catch {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      const known = this.known.get(s.kind)!;
      const seen = new Set<string>();
      for (const o of listed.items) {
        const ns = o.metadata?.namespace;
        const key = ns ? `${ns}/${o.metadata.name}` : String(o.metadata?.name);
        seen.add(key);
        const k = known.get(key);
        if (k && k.uid === o.metadata?.uid && k.rv === o.metadata?.resourceVersion) continue;
        if (k && k.uid !== o.metadata?.uid)
          this.emit(
            s.kind,
            "DELETED",
            { metadata: { name: o.metadata.name, namespace: ns, uid: k.uid } },
            listed.rv,
          );
        this.emit(s.kind, k && k.uid === o.metadata?.uid ? "MODIFIED" : "ADDED", o);
      }
      for (const [key, k] of [...known]) {
        if (seen.has(key)) continue;
        const ns = namespaceOf(key);
        const name = ns ? key.slice(ns.length + 1) : key;
        this.emit(
          s.kind,
          "DELETED",
          { metadata: { name, namespace: ns || undefined, uid: k.uid } },
          listed.rv,
        );
      }
      if (first) {
        first = false;
        ready();
      } else this.restarts[s.kind] = (this.restarts[s.kind] ?? 0) + 1;
      await this.watch(s, listed.rv);
    }
  }

  private watch(s: Source, rv: string): Promise<void> {
    return new Promise<void>((resolve) => {
      let abort: AbortController | undefined;
      const done = () => {
        if (abort) this.aborts.delete(abort);
        resolve();
      };
      new Watch(this.kc)
        .watch(
          s.path,
          {
            resourceVersion: rv,
            allowWatchBookmarks: true,
            ...(s.labelSelector ? { labelSelector: s.labelSelector } : {}),
          },
          (type: string, o: Json) => {
            if (type === "BOOKMARK" || type === "ERROR") return;
            this.emit(s.kind, type as EventType, o);
          },
          () => done(),
        )
        .then((a) => {
          abort = a;
          this.aborts.add(a);
          if (this.stopped) a.abort();
        })
        .catch(() => setTimeout(done, 500));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
    await Promise.race([Promise.all(this.loops), new Promise((r) => setTimeout(r, 5000))]);
  }
}
