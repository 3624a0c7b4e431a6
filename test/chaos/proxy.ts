// A loopback TCP proxy between the operator replicas and the API server. Bytes pass untouched
// (TLS end to end; the server certificate names 127.0.0.1, so it still verifies), and while the
// proxy is slow every chunk waits a random 2–9 s, in order per direction: a slow API server as the
// operator sees it, while the suite's own clients go direct.

import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";

export interface Delay {
  minMs: number;
  maxMs: number;
}

export class DelayProxy {
  private server: Server | undefined;
  private delay: Delay | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  private readonly upstreamHost: string;
  private readonly upstreamPort: number;

  constructor(upstreamHost: string, upstreamPort: number) {
    this.upstreamHost = upstreamHost;
    this.upstreamPort = upstreamPort;
  }

  async start(): Promise<void> {
    this.server = createServer((client) => this.relay(client));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** From now on every chunk is held a random time within `d`; undefined: pass at once. */
  slow(d: Delay | undefined): void {
    this.delay = d;
  }

  private relay(client: Socket): void {
    const upstream = connect(this.upstreamPort, this.upstreamHost);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  private pipe(from: Socket, to: Socket): void {
    // Chunks leave in the order they came: each waits for its own delay and for the one before.
    let lastAt = 0;
    from.on("data", (chunk: Buffer) => {
      const d = this.delay;
      if (!d && lastAt <= Date.now()) {
        to.write(chunk);
        return;
      }
      const wait = d ? d.minMs + Math.random() * (d.maxMs - d.minMs) : 0;
      lastAt = Math.max(lastAt, Date.now() + wait);
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, lastAt - Date.now());
    });
    from.on("end", () => {
      setTimeout(() => to.end(), Math.max(0, lastAt - Date.now()));
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
