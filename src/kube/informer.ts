// A supervised informer. client-node's ListWatch stops for good on most errors (anything but
// 410 and client timeouts); this wrapper restarts it with jittered backoff, tracks whether the
// cache is synced, and re-emits every object periodically (client-node has no resync). Nothing
// in it can hang: a list has a deadline (a failed list restarts with backoff), client-node's
// Watch reconnects a watch that sent no bytes for watchIdleMs, and a watchdog restarts an
// informer that saw nothing at all, not even a reconnect, for staleMs.
import { EventEmitter } from "node:events";
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from "@kubernetes/client-node";
import { withDeadline } from "./deadline.ts";

/** How long one list may take unless configured: lists of a whole cluster's Pods can be large. */
export const DEFAULT_LIST_TIMEOUT_MS = 60_000;

export interface InformerOptions<T extends KubernetesObject = KubernetesObject> {
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-emit every cached object as 'resync' this often (0 = never). */
  resyncMs?: number;
  /** Restart the watch if nothing (not even a reconnect) was seen for this long. */
  staleMs?: number;
  /** Deadline of the initial list and of each relist (default 60 s). */
  listTimeoutMs?: number;
  /** Reconnect a watch that sent no bytes for this long (default: client-node's 30 s). */
  watchIdleMs?: number;
  onError?: (name: string, err: unknown, restartInMs: number) => void;
  /**
   * Drops what no reader needs from an object as it arrives, before any listener sees it: the
   * object given is the one cached (ListWatch stores it, then calls back), so what is dropped is
   * not kept. client-go's informers do the same with a transform (SetTransform).
   */
  trim?: (obj: T) => void;
}

/** The server-side-apply bookkeeping every object carries: large, and read by no informer's reader. */
export function dropManagedFields(obj: KubernetesObject): void {
  if (!obj.metadata?.managedFields) return;
  // A copy without it, not a delete: an object that loses a property goes to V8's slow
  // dictionary mode, several times its size.
  const { managedFields: _, ...rest } = obj.metadata;
  obj.metadata = rest;
}

export type InformerEvent = "add" | "update" | "delete" | "resync";

export class SupervisedInformer<T extends KubernetesObject> extends EventEmitter {
  private lw: ListWatch<T> | undefined;
  private stopped = false;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** True once the initial list completed and the watch is running. */
  synced = false;
  lastActivity = 0;
  restarts = 0;
  private errors = 0;

  readonly name: string;
  private readonly kc: KubeConfig;
  private readonly path: string;
  private readonly listFn: () => Promise<KubernetesListObject<T>>;
  private readonly opts: InformerOptions<T>;

  constructor(
    name: string,
    kc: KubeConfig,
    path: string,
    listFn: () => Promise<KubernetesListObject<T>>,
    opts: InformerOptions<T> = {},
  ) {
    super();
    this.name = name;
    this.kc = kc;
    this.path = path;
    this.listFn = listFn;
    this.opts = opts;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.lastActivity = Date.now();
    const watch = new Watch(this.kc);
    // Watch's inactivity timeout is a plain field, not a constructor option.
    if (this.opts.watchIdleMs)
      (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = this.opts.watchIdleMs;
    const listTimeoutMs = this.opts.listTimeoutMs ?? DEFAULT_LIST_TIMEOUT_MS;
    const lw = new ListWatch<T>(
      this.path,
      watch,
      // A list that hangs fails after its deadline: ListWatch reports it, and we restart with backoff.
      () => withDeadline(`list ${this.name}`, listTimeoutMs, () => this.listFn()),
      false,
      this.opts.labelSelector,
      this.opts.fieldSelector,
    );
    this.lw = lw;
    // Handlers must never throw: a throw inside ListWatch becomes an unhandled rejection.
    const relay = (event: InformerEvent) => (obj: T) => {
      this.lastActivity = Date.now();
      try {
        if (event !== "delete") this.opts.trim?.(obj);
        this.emit(event, obj);
      } catch (err) {
        this.opts.onError?.(this.name, err, 0);
      }
    };
    lw.on("add", relay("add"));
    lw.on("update", relay("update"));
    lw.on("delete", relay("delete"));
    lw.on("connect", () => {
      this.lastActivity = Date.now();
    });
    lw.on("error", (err) => {
      this.errors++;
      this.scheduleRestart(lw, err);
    });
    await this.runStart(lw);
    if (this.opts.resyncMs && !this.resyncTimer) {
      this.resyncTimer = setInterval(() => {
        for (const o of this.list()) this.emit("resync", o);
      }, this.opts.resyncMs);
      this.resyncTimer.unref();
    }
    const staleMs = this.opts.staleMs ?? 120_000;
    if (!this.watchdog) {
      this.watchdog = setInterval(() => {
        // Synced but silent (a half-open connection), or a (re)start whose list or watch hangs:
        // either way, nothing moves, so start over.
        if (!this.restartTimer && Date.now() - this.lastActivity > staleMs) {
          this.scheduleRestart(this.lw, new Error(this.synced ? "stale watch" : "start hung"));
        }
      }, staleMs / 4);
      this.watchdog.unref();
    }
  }

  private scheduleRestart(lw: ListWatch<T> | undefined, err: unknown): void {
    if (this.stopped || lw !== this.lw || this.restartTimer) return;
    this.synced = false;
    this.emit("unsynced", err);
    const delay = Math.min(30_000, 500 * 2 ** this.failures) * (0.75 + Math.random() * 0.5);
    this.failures++;
    this.opts.onError?.(this.name, err, Math.round(delay));
    void lw?.stop();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      this.lastActivity = Date.now(); // the watchdog measures from this attempt
      // Restarting the same ListWatch keeps its cache and resourceVersion: a 410 relists.
      if (!this.stopped && lw) void this.runStart(lw);
    }, delay);
  }

  /** ListWatch.start() resolves even when its list failed (it reports via 'error'), so count errors. */
  private async runStart(lw: ListWatch<T>): Promise<void> {
    const before = this.errors;
    try {
      await lw.start();
    } catch (err) {
      this.scheduleRestart(lw, err);
      return;
    }
    if (this.lw !== lw || this.stopped || this.errors !== before) return;
    this.synced = true;
    this.failures = 0;
    this.lastActivity = Date.now();
    this.emit("synced");
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw?.get(name, namespace);
  }

  list(namespace?: string): T[] {
    return [...(this.lw?.list(namespace) ?? [])];
  }

  stop(): void {
    this.stopped = true;
    this.synced = false;
    clearTimeout(this.restartTimer);
    clearInterval(this.resyncTimer);
    clearInterval(this.watchdog);
    this.resyncTimer = undefined;
    this.watchdog = undefined;
    void this.lw?.stop();
  }
}

/** Resolves when every informer is synced; rejects after timeoutMs naming the ones that are not. */
export function waitForSync(
  informers: readonly { readonly name: string; readonly synced: boolean }[],
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => informers.every((i) => i.synced);
    if (check()) return resolve();
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(
        new Error(
          `informers not synced after ${timeoutMs} ms: ${informers
            .filter((i) => !i.synced)
            .map((i) => i.name)
            .join(", ")}`,
        ),
      );
    }, timeoutMs);
    const poll = setInterval(() => {
      if (check()) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 50);
  });
}
