// The part of the browser's XMLHttpRequest that @dcos/mesos-client (through @dcos/connections'
// XHRConnection) uses, on node:http: the library is written for the DC/OS web UI and finds
// XMLHttpRequest on the global object. With this installed, the unmodified library runs in Node:
// open/setRequestHeader/send/abort, `progress` with the text received so far (what its RecordIO
// reader consumes as the stream grows), then `load`, `error`, `abort` or `timeout`.
import { type ClientRequest, request } from "node:http";

type Listener = () => void;

export class NodeXMLHttpRequest {
  status = 0;
  statusText = "";
  responseType = "";
  timeout = 0;
  responseText = "";
  private method = "GET";
  private url = "";
  private readonly headers: Record<string, string> = {};
  private readonly listeners = new Map<string, Listener[]>();
  private req: ClientRequest | undefined;
  private done = false;

  get response(): string {
    return this.responseText;
  }

  addEventListener(type: string, fn: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  send(body: string | null): void {
    const data = body === null ? undefined : Buffer.from(body);
    const req = request(
      this.url,
      {
        method: this.method,
        headers: { ...this.headers, ...(data ? { "Content-Length": String(data.length) } : {}) },
        ...(this.timeout > 0 ? { timeout: this.timeout } : {}),
      },
      (res) => {
        this.status = res.statusCode ?? 0;
        this.statusText = res.statusMessage ?? "";
        const decoder = new TextDecoder();
        res.on("data", (chunk: Buffer) => {
          this.responseText += decoder.decode(chunk, { stream: true });
          this.emit("progress");
        });
        res.on("end", () => {
          this.responseText += decoder.decode();
          this.finish("load");
        });
        res.on("error", () => this.finish("error"));
      },
    );
    req.on("timeout", () => {
      req.destroy();
      this.finish("timeout");
    });
    req.on("error", () => this.finish("error"));
    this.req = req;
    req.end(data);
  }

  abort(): void {
    this.req?.destroy();
    this.finish("abort");
  }

  private finish(type: string): void {
    if (this.done) return;
    this.done = true;
    this.emit(type);
  }

  private emit(type: string): void {
    for (const fn of this.listeners.get(type) ?? []) fn();
  }
}

/** Puts NodeXMLHttpRequest on the global object (where a browser has XMLHttpRequest) until the returned undo. */
export function installXMLHttpRequest(): () => void {
  const g = globalThis as { XMLHttpRequest?: unknown };
  const before = g.XMLHttpRequest;
  g.XMLHttpRequest = NodeXMLHttpRequest;
  return () => {
    g.XMLHttpRequest = before;
  };
}
