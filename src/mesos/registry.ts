// The frameworks this API instance serves and their live subscriptions: framework key
// (`<namespace>/<name>`) -> MesosFramework (also found by Mesos id), stream id -> its
// Connection, the ids torn down here, and one lock per framework key that SUBSCRIBE and
// disconnects take. A framework whose stream
// ends loses its client (its Lease lapses, the failover timeout starts) and is forgotten a while
// after that unless it subscribes again.
import type { Connection } from "./connection.ts";
import type { MasterInfo } from "./events.ts";
import type { Log } from "./http.ts";
import type { MesosFramework } from "./session.ts";

/** Framework ids torn down through this API are remembered like Mesos's completed frameworks: the most recent. */
const MAX_REMOVED = 1000;

export class Registry {
  /** Framework key -> the framework. */
  readonly frameworks = new Map<string, MesosFramework>();
  private readonly streams = new Map<string, { conn: Connection; fw: MesosFramework }>();
  /** Framework ids torn down through this API: a later SUBSCRIBE with one gets "removed". */
  private readonly removed = new Set<string>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  /** Open event streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  wasRemoved(frameworkId: string): boolean {
    return this.removed.has(frameworkId);
  }

  /** Runs `fn` once the previous holder of `key`'s lock is done. */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => {});
    this.locks.set(key, settled);
    try {
      return await next;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  /** The framework with this Mesos id, if this instance serves it. */
  byId(frameworkId: string): MesosFramework | undefined {
    for (const fw of this.frameworks.values()) if (fw.id === frameworkId) return fw;
    return undefined;
  }

  /** A subscription of `fw` starts on `conn` (under its lock); when the stream ends, it is disconnected. */
  subscribed(fw: MesosFramework, conn: Connection, master: MasterInfo): void {
    this.streams.set(conn.streamId, { conn, fw });
    conn.whenClosed(() => {
      this.streams.delete(conn.streamId);
      if (fw.detach(conn)) void this.disconnected(fw);
    });
    fw.attach(conn, master);
  }

  /** Forgets `fw` if it is still the one registered under its key. */
  forget(fw: MesosFramework): void {
    if (this.frameworks.get(fw.key) === fw) this.frameworks.delete(fw.key);
    fw.dispose();
  }

  /** Forgets `fw` unless it subscribes again within its failover timeout (plus a minute; at most a day). */
  scheduleEviction(fw: MesosFramework): void {
    clearTimeout(fw.evictTimer);
    const ms = Math.min(24 * 3600, Math.max(60, fw.spec.failoverTimeoutSeconds ?? 0) + 60) * 1000;
    fw.evictTimer = setTimeout(() => {
      if (this.frameworks.get(fw.key) === fw && !fw.conn && !fw.client) {
        this.frameworks.delete(fw.key);
        fw.dispose();
      }
    }, ms);
    fw.evictTimer.unref();
  }

  /** The stream ended: stop the client (its Lease lapses: failover timeout starts), keep unacked updates a while. */
  disconnected(fw: MesosFramework): Promise<void> {
    return this.withLock(fw.key, () => this.disconnectedLocked(fw));
  }

  /** disconnected(), for a caller that holds the framework's lock. */
  async disconnectedLocked(fw: MesosFramework): Promise<void> {
    if (fw.conn || this.frameworks.get(fw.key) !== fw) return;
    await fw
      .stopClient()
      .catch((err: unknown) => this.log("warn", "stopping framework client failed", { err: String(err) }));
    if (fw.removed) {
      this.forget(fw);
      return;
    }
    this.scheduleEviction(fw);
    this.log("info", "framework disconnected", { framework: fw.key, id: fw.id });
  }

  /** TEARDOWN: the Framework is deleted (offers rescinded, tasks killed) and its stream closed. */
  async teardown(fw: MesosFramework): Promise<void> {
    fw.removed = true;
    this.removed.add(fw.id);
    while (this.removed.size > MAX_REMOVED) this.removed.delete(this.removed.values().next().value as string);
    await fw.stopClient({ teardown: true });
    if (this.frameworks.get(fw.key) === fw) this.frameworks.delete(fw.key);
    fw.conn?.close();
    fw.dispose();
    this.log("info", "framework torn down", { framework: fw.key, id: fw.id });
  }

  /** Closes every stream (the API is closing). */
  closeStreams(): void {
    for (const { conn } of this.streams.values()) conn.close();
  }

  /** Stops every client: their Leases are released, the operator counts them disconnected. */
  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.frameworks.values()].map(async (fw) => {
        await fw.stopClient().catch(() => {});
        fw.dispose();
      }),
    );
    this.frameworks.clear();
  }
}
