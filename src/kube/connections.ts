// The agent's connections to the API server. client-node builds a new dispatcher (a new
// connection pool) for every request it sends, so every Lease renewal, list and watch of an agent
// opened a TLS connection of its own, with a full handshake on both sides, and dropped it seconds
// later: twelve handshakes a minute per node for the renewals alone. Here a KubeConfig keeps one
// keep-alive pool per set of TLS credentials instead: requests and watches share its connections
// (HTTP/2 streams on one connection where the API server offers h2, as kube-apiserver does), a
// changed certificate or CA gets a new pool, and drop() swaps the pool for a fresh one when its
// connection stops answering (a kubelet closes its connections when heartbeats fail, for the
// same reason: a connection that died silently would otherwise fail every renewal).
import type { Cluster, ConnectOptions, KubeConfig } from "@kubernetes/client-node";
import { Agent, type Dispatcher } from "undici";
import { DEFAULT_API_TIMEOUT_MS } from "../crds/contract.ts";

/**
 * How long an idle connection is kept: longer than the renew interval (undici's default of 4 s
 * is shorter than it, so each renewal would connect again), shorter than the API server's idle
 * timeout (90 s), so it is not the server that closes it under a request.
 */
export const KEEP_ALIVE_MS = 30_000;

export interface ConnectionOptions {
  keepAliveMs?: number;
  /** A pool younger than this is not dropped again: its requests have not had their chance yet. */
  minPoolAgeMs?: number;
  /**
   * Any request with no answer within its deadline drops the pool (the operator's choice; the
   * agent judges by its renewals instead). HTTP/2 keeps one connection for every request, so a
   * connection that died silently would otherwise take every request down with it.
   */
  dropOnTimeout?: boolean;
}

/** client-node's private per-request dispatcher factory, replaced on the instance. */
type DispatcherFactory = (cluster: Cluster | null, agentOptions: object) => Dispatcher | undefined;

export class SharedConnections {
  private pool: { connect: ConnectOptions; agent: Agent; since: number } | undefined;
  private readonly keepAliveMs: number;
  private readonly minPoolAgeMs: number;
  private readonly dropOnTimeout: boolean;
  /** Pools made (the first, then one per credential change or drop). */
  pools = 0;

  constructor(opts: ConnectionOptions = {}) {
    this.keepAliveMs = opts.keepAliveMs ?? KEEP_ALIVE_MS;
    this.minPoolAgeMs = opts.minPoolAgeMs ?? DEFAULT_API_TIMEOUT_MS;
    this.dropOnTimeout = opts.dropOnTimeout ?? false;
  }

  /** The pool for these TLS options: the current one while they stay the same. */
  dispatcher(connect: ConnectOptions): Dispatcher {
    if (this.pool && sameOptions(this.pool.connect, connect)) return this.pool.agent;
    this.retire();
    const agent = new Agent({ connect, keepAliveTimeout: this.keepAliveMs });
    this.pool = { connect, agent, since: Date.now() };
    this.pools++;
    return agent;
  }

  /**
   * New requests go to new connections; the old pool closes once what runs on it ends (requests
   * have deadlines, watches reconnect when idle). False if the pool is too young to judge.
   */
  drop(): boolean {
    if (!this.pool || Date.now() - this.pool.since < this.minPoolAgeMs) return false;
    const { connect } = this.pool;
    this.retire();
    this.dispatcher(connect);
    return true;
  }

  /** A request of a client of this KubeConfig got no answer within its deadline (deadline.ts). */
  requestTimedOut(): void {
    if (this.dropOnTimeout) this.drop();
  }

  private retire(): void {
    const old = this.pool?.agent;
    this.pool = undefined;
    void old?.close().catch(() => {});
  }
}

const shared = new WeakMap<KubeConfig, SharedConnections>();

/** The shared connections of `kc`, if keepConnections gave it some. */
export function connectionsOf(kc: KubeConfig): SharedConnections | undefined {
  return shared.get(kc);
}

/**
 * Makes every client of `kc` (API clients and watches alike) use one keep-alive pool; the same
 * SharedConnections for every caller of the same KubeConfig. Proxied clusters, and plain HTTP,
 * keep client-node's own dispatchers.
 */
export function keepConnections(kc: KubeConfig, opts: ConnectionOptions = {}): SharedConnections {
  const known = shared.get(kc);
  if (known) return known;
  const target = kc as unknown as { createDispatcher?: DispatcherFactory };
  const perRequest = target.createDispatcher;
  if (typeof perRequest !== "function")
    throw new Error("client-node's KubeConfig has no createDispatcher: keepConnections needs updating");
  const connections = new SharedConnections(opts);
  target.createDispatcher = (cluster, agentOptions) => {
    const o = kc.createDispatcherOptions(cluster, agentOptions);
    return o.type === "agent"
      ? connections.dispatcher(o.connect)
      : perRequest.call(kc, cluster, agentOptions);
  };
  shared.set(kc, connections);
  return connections;
}

function sameOptions(a: ConnectOptions, b: ConnectOptions): boolean {
  const keys = Object.keys(a) as (keyof ConnectOptions)[];
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x: unknown = a[k];
    const y: unknown = b[k];
    return Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : x === y;
  });
}
