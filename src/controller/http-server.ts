// The controller's HTTP endpoints: /metrics (Prometheus text format), /healthz (liveness: the
// process serves requests) and /readyz (readiness: every check passes). /readyz answers like the
// kube-apiserver's: 200 "ok" or 503 with one "[+]name ok" / "[-]name failed: why" line per check
// (always listed with ?verbose). Readiness means progress, not only a live process: the leader
// is not ready while its allocation cycles have stopped advancing (cycleProgress).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface Check {
  name: string;
  /** undefined: passing; a string: why it fails. */
  run: () => string | undefined;
}

/** How long a leader may go without completing an allocation cycle: 3 intervals, at least 10 s. */
export function cycleStallBoundMs(allocationIntervalMs: number): number {
  return Math.max(3 * allocationIntervalMs, 10_000);
}

export interface CycleProgressOptions {
  /** Allocation cycles completed so far. */
  cycles: () => number;
  /** Whether this replica leads now (only the leader allocates). */
  leading: () => boolean;
  /** The longest a leader may go without a completed cycle (cycleStallBoundMs). */
  boundMs: number;
  now?: () => number;
}

/**
 * A readiness check that fails while this replica leads and no allocation cycle completed for
 * boundMs — counted from when it began to lead, so a new leader gets its first bound in full.
 * sample() notes the counter (the server calls it on a timer and before each check), so an
 * advance is seen within one sampling period however rarely /readyz is asked.
 */
export function cycleProgress(o: CycleProgressOptions): Check & { sample(): void } {
  const now = o.now ?? Date.now;
  let since: number | undefined; // leading since, or the last advance; undefined while not leading
  let seen = 0;
  const sample = () => {
    if (!o.leading()) {
      since = undefined;
      return;
    }
    const t = now();
    const c = o.cycles();
    if (since === undefined || c !== seen) since = t;
    seen = c;
  };
  return {
    name: "allocation",
    sample,
    run: () => {
      sample();
      if (since === undefined) return undefined; // a standby: nothing to advance
      const idle = now() - since;
      if (idle <= o.boundMs) return undefined;
      return `leading, but no allocation cycle completed for ${(idle / 1000).toFixed(1)} s (bound ${o.boundMs / 1000} s; ${seen} completed in all)`;
    },
  };
}

export interface HttpServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Readiness checks; all must pass. */
  readiness: Check[];
  /** Liveness checks (default: none — serving at all means alive). */
  liveness?: Check[];
  onError?: (err: unknown) => void;
}

export interface HttpEndpoints {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

function runChecks(checks: Check[]): { ok: boolean; lines: string[] } {
  let ok = true;
  const lines = checks.map((c) => {
    let why: string | undefined;
    try {
      why = c.run();
    } catch (err) {
      why = String(err);
    }
    if (why !== undefined) ok = false;
    return why === undefined ? `[+]${c.name} ok` : `[-]${c.name} failed: ${why}`;
  });
  return { ok, lines };
}

export async function startHttpServer(o: HttpServerOptions): Promise<HttpEndpoints> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (code: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
    const health = (checks: Check[], what: string) => {
      const { ok, lines } = runChecks(checks);
      const verbose = url.searchParams.has("verbose");
      const body =
        ok && !verbose ? "ok\n" : `${lines.join("\n")}\n${what} check ${ok ? "passed" : "failed"}\n`;
      send(ok ? 200 : 503, body);
    };
    switch (url.pathname) {
      case "/metrics":
        o.registry
          .metrics()
          .then((text) => send(200, text, o.registry.contentType))
          .catch((err: unknown) => {
            o.onError?.(err);
            send(500, `metrics failed: ${String(err)}\n`);
          });
        return;
      case "/healthz":
      case "/livez":
        return health(o.liveness ?? [], "healthz");
      case "/readyz":
        return health(o.readiness, "readyz");
      default:
        return send(404, "not found\n");
    }
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${o.host && o.host !== "0.0.0.0" ? o.host : "127.0.0.1"}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
