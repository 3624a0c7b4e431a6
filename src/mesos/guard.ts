// Admission of each request to the Mesos API, before its body is read: who calls (auth.ts),
// then that client's request rate and open connections (limits.ts); a SUBSCRIBE also takes one
// of the client's stream slots for as long as its response is open. Refusals are 429 with
// Retry-After and a message naming the limit; the connection is closed so an unread body is
// not read. A client is its authenticated principal, or its address without authentication.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Tenancy } from "./auth.ts";
import { type Caller, HttpError } from "./http.ts";
import { ByteBudget, ConcurrencyLimiter, type MesosLimits, RateLimiter } from "./limits.ts";

/** What is counted now: clients holding connections and streams, body bytes held (and the most ever). */
export interface Counted {
  connections: number;
  subscriptions: number;
  bodyBytes: number;
  bodyBytesPeak: number;
}

export class Guard {
  readonly limits: MesosLimits;
  readonly bodies: ByteBudget;
  private readonly tenancy: Tenancy;
  private readonly rate: RateLimiter;
  private readonly connections: ConcurrencyLimiter;
  private readonly subscriptions: ConcurrencyLimiter;
  /** Per socket: the client it is counted for, and how to stop counting it. */
  private readonly sockets = new WeakMap<Socket, { client: string; release: () => void }>();

  constructor(limits: MesosLimits, tenancy: Tenancy, now: () => number = Date.now) {
    this.limits = limits;
    this.tenancy = tenancy;
    this.bodies = new ByteBudget(limits.maxInflightBodyBytes);
    this.rate = new RateLimiter(limits.requestsPerSecondPerPrincipal, limits.requestBurstPerPrincipal, now);
    this.connections = new ConcurrencyLimiter(limits.maxConnectionsPerPrincipal);
    this.subscriptions = new ConcurrencyLimiter(limits.maxSubscriptionsPerPrincipal);
  }

  /** Authenticates and counts a request: 401, or 429 over the rate or connection limit. */
  admit(req: IncomingMessage): Caller {
    const address = `address ${req.socket.remoteAddress ?? "unknown"}`;
    let principal: string | undefined;
    try {
      principal = this.tenancy.authenticate(req);
    } catch (err) {
      // Failed attempts count against the address they come from.
      this.charge(address, address);
      throw err;
    }
    const caller: Caller =
      principal !== undefined
        ? { principal, client: `principal ${principal}`, who: `principal '${principal}'` }
        : { principal, client: address, who: address };
    this.charge(caller.client, caller.who);
    this.connect(req.socket, caller.client, caller.who);
    return caller;
  }

  /** One SUBSCRIBE stream of `client`, held until `res` closes; 429 over the limit. */
  subscribe(caller: Caller, res: ServerResponse): void {
    const release = this.subscriptions.acquire(caller.client);
    if (!release)
      throw tooMany(
        `Too many subscriptions of ${caller.who}: maxSubscriptionsPerPrincipal is ${this.limits.maxSubscriptionsPerPrincipal}`,
        1,
      );
    res.once("close", release);
    res.once("finish", release);
    if (res.destroyed) release();
  }

  /** Open connections and streams counted now (for tests: nothing left behind). */
  get counted(): Counted {
    return {
      connections: this.connections.size,
      subscriptions: this.subscriptions.size,
      bodyBytes: this.bodies.inUse,
      bodyBytesPeak: this.bodies.peak,
    };
  }

  private charge(key: string, who: string): void {
    const wait = this.rate.take(key);
    if (wait !== undefined)
      throw tooMany(
        `Too many requests from ${who}: requestsPerSecondPerPrincipal is ${this.limits.requestsPerSecondPerPrincipal} (burst ${this.limits.requestBurstPerPrincipal})`,
        wait,
      );
  }

  private connect(socket: Socket, client: string, who: string): void {
    const held = this.sockets.get(socket);
    if (held?.client === client || socket.destroyed) return;
    const release = this.connections.acquire(client);
    if (!release)
      throw tooMany(
        `Too many connections from ${who}: maxConnectionsPerPrincipal is ${this.limits.maxConnectionsPerPrincipal}`,
        1,
      );
    // A kept-alive connection another client used before counts for the one using it now.
    held?.release();
    if (!held) socket.once("close", () => this.sockets.get(socket)?.release());
    this.sockets.set(socket, { client, release });
  }
}

function tooMany(message: string, retryAfterSeconds: number): HttpError {
  return new HttpError(429, message, { "retry-after": String(retryAfterSeconds), connection: "close" });
}
