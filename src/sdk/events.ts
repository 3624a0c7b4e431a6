// The client's events: typed callbacks (on, onAny) and an async iterator over them. A handler
// that throws or rejects becomes a `warning` event instead of breaking the watch that delivered
// the event (or crashing the process with an unhandled rejection).
import type { LogFn } from "./log.ts";
import type { EventOf, SchedulerEvent, SchedulerEventType, TaskUpdate } from "./types.ts";

type Listener = (e: SchedulerEvent) => unknown;

export class EventHub {
  private readonly listeners = new Map<SchedulerEventType | "*", Set<Listener>>();
  private readonly log: LogFn;
  /** Iterators end once it aborts (the client stopped); callbacks keep being called. */
  private readonly closed: AbortSignal;

  constructor(log: LogFn, closed: AbortSignal) {
    this.log = log;
    this.closed = closed;
  }

  /** Subscribes to one event type; returns an unsubscribe function. */
  on<K extends SchedulerEventType>(type: K, fn: (e: EventOf<K>) => unknown): () => void {
    return this.add(type, fn as Listener);
  }

  /** Subscribes to every event. */
  onAny(fn: Listener): () => void {
    return this.add("*", fn);
  }

  private add(key: SchedulerEventType | "*", fn: Listener): () => void {
    const set = this.listeners.get(key) ?? new Set();
    set.add(fn);
    this.listeners.set(key, set);
    return () => set.delete(fn);
  }

  /** Every event from now on, until the client stops (what is still queued then is dropped). */
  async *stream(): AsyncGenerator<SchedulerEvent, void, undefined> {
    const queue: SchedulerEvent[] = [];
    let wake: (() => void) | undefined;
    const off = this.onAny((e) => {
      queue.push(e);
      wake?.();
    });
    const onClose = () => wake?.();
    this.closed.addEventListener("abort", onClose);
    try {
      while (!this.closed.aborted) {
        const e = queue.shift();
        if (e) {
          yield e;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      off();
      this.closed.removeEventListener("abort", onClose);
    }
  }

  emit(e: SchedulerEvent): void {
    if (e.type === "update") this.log("debug", "task update", { task: e.task.id, state: e.task.state });
    for (const key of [e.type, "*"] as const) {
      for (const fn of this.listeners.get(key) ?? []) {
        const failed = (err: unknown) => {
          this.log(
            "error",
            `a '${e.type}' handler failed: ${err instanceof Error ? err.message : String(err)}`,
          );
          if (e.type !== "warning")
            this.emit({ type: "warning", message: `a '${e.type}' handler failed`, error: err });
        };
        try {
          const r = fn(e);
          if (r && typeof (r as Promise<unknown>).catch === "function") (r as Promise<unknown>).catch(failed);
        } catch (err) {
          failed(err);
        }
      }
    }
  }

  emitAll(events: SchedulerEvent[]): void {
    for (const e of events) this.emit(e);
  }

  emitUpdates(updates: TaskUpdate[]): void {
    for (const task of updates) this.emit({ type: "update", task });
  }

  /** Something the SDK is handling went wrong: logged, and a `warning` event. */
  warn(message: string, error?: unknown): void {
    this.log("warn", message, error ? { err: error instanceof Error ? error.message : String(error) } : {});
    this.emit({ type: "warning", message, ...(error !== undefined ? { error } : {}) });
  }
}
