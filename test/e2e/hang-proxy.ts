// A plain-HTTP front for the real API server that can make chosen requests hang: it forwards
// every request over TLS with the admin identity, except those `hangs` matches while armed,
// which it accepts and never answers — an API server (or a proxy before it) that stopped
// answering some requests while still serving the rest, watches included. Give a client
// kubeConfig() and it talks to the real API server through here.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

export class HangProxy {
  private server: Server | undefined;
  private readonly upstream: KubeConfig;
  private tls: RequestOptions = {};
  /** Requests that match hang while armed; a request is "METHOD /path?query". */
  hangs: (request: string) => boolean = () => false;
  armed = false;
  /** Requests held so far, with when they arrived. */
  readonly held: { request: string; at: number }[] = [];
  private readonly heldResponses: ServerResponse[] = [];
  url = "";

  constructor(upstream: KubeConfig) {
    this.upstream = upstream;
  }

  async start(): Promise<void> {
    await this.upstream.applyToHTTPSOptions(this.tls);
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A kubeconfig for this proxy: no credentials of its own (the proxy adds the admin's). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // client-node refuses plain http unless told to skip TLS verification.
      clusters: [{ name: "hang-proxy", server: this.url, skipTLSVerify: true }],
      users: [{ name: "anonymous" }],
      contexts: [{ name: "hang-proxy", cluster: "hang-proxy", user: "anonymous" }],
      currentContext: "hang-proxy",
    });
    return kc;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const what = `${req.method} ${req.url}`;
    if (this.armed && this.hangs(what)) {
      this.held.push({ request: what, at: Date.now() });
      this.heldResponses.push(res);
      req.resume(); // read the body, answer nothing
      return;
    }
    const server = new URL(this.upstream.getCurrentCluster()?.server ?? "");
    const headers = { ...req.headers, host: server.host };
    const up = httpsRequest(
      { ...this.tls, host: server.hostname, port: server.port, method: req.method, path: req.url, headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502).end(String(err));
      else res.destroy();
    });
    res.on("close", () => up.destroy());
    req.pipe(up);
  }

  async stop(): Promise<void> {
    for (const r of this.heldResponses.splice(0)) r.destroy();
    this.server?.closeAllConnections();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }
}
