// A raw Mesos v1 scheduler client for the e2e tests, written from docs/scheduler-http-api.md:
// POST /api/v1/scheduler with JSON or protobuf calls (the protobuf through our schema,
// src/mesos/proto); SUBSCRIBE keeps the response open as a RecordIO stream of events
// (`<length>\n<json or protobuf bytes>`), the others answer 202 and need Mesos-Stream-Id.
import { request } from "node:http";
import { decodeEvent, encodeCall } from "../../src/mesos/proto/scheduler-codec.ts";
import { RecordIoDecoder } from "../../src/mesos/recordio.ts";

/** How a client encodes its calls and asks for its events. */
export type Encoding = "json" | "protobuf";

const MEDIA: Record<Encoding, string> = { json: "application/json", protobuf: "application/x-protobuf" };

/** A call's body and the headers that say what it is. */
function encoded(
  call: Record<string, unknown>,
  encoding: Encoding,
): { body: Buffer; headers: Record<string, string> } {
  const body = encoding === "protobuf" ? Buffer.from(encodeCall(call)) : Buffer.from(JSON.stringify(call));
  return { body, headers: { "content-type": MEDIA[encoding], accept: MEDIA[encoding] } };
}

// Events are untyped JSON, read field by field in assertions.
// biome-ignore lint/suspicious/noExplicitAny: protocol JSON
export type Event = { type: string } & Record<string, any>;

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request; resolves with status, headers and body text. */
export function post(
  url: string,
  body: unknown,
  headers: Record<string, string | undefined> = {},
  method = "POST",
): Promise<Reply> {
  const data: string | Buffer = Buffer.isBuffer(body)
    ? body
    : typeof body === "string"
      ? body
      : body === undefined
        ? ""
        : JSON.stringify(body);
  const all: Record<string, string | undefined> = {
    "content-type": "application/json",
    accept: "application/json",
    ...(method === "POST" ? { "content-length": String(Buffer.byteLength(data)) } : {}),
    ...headers,
  };
  // undefined drops a header; a chunked body is written in pieces, without a length.
  const chunked = all["transfer-encoding"] === "chunked";
  if (chunked) delete all["content-length"];
  const sent = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: sent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (method !== "POST") req.end();
    else if (!chunked) req.end(data);
    else {
      for (let i = 0; i < data.length; i += 8192) req.write(data.slice(i, i + 8192));
      req.end();
    }
  });
}

/** How a SUBSCRIBE is sent. */
interface OpenOptions {
  suppressedRoles?: string[];
  headers?: Record<string, string>;
  waitSubscribed?: boolean;
  encoding?: Encoding;
}

/** A subscribed scheduler: its event stream and calls bound to its stream id. */
export class Subscription {
  readonly events: Event[] = [];
  status = 0;
  headers: Record<string, string | string[] | undefined> = {};
  streamId = "";
  frameworkId = "";
  ended = false;
  private readonly url: string;
  private readonly extraHeaders: Record<string, string>;
  private waiters: (() => void)[] = [];
  private destroy: (() => void) | undefined;
  /** Set when the server answered with something other than a stream. */
  body = "";
  readonly encoding: Encoding;

  constructor(url: string, headers: Record<string, string> = {}, encoding: Encoding = "json") {
    this.url = url;
    this.extraHeaders = headers;
    this.encoding = encoding;
  }

  /** Sends SUBSCRIBE; resolves once the response headers (and, on 200, SUBSCRIBED) arrived. */
  static async open(
    url: string,
    frameworkInfo: Record<string, unknown>,
    extra: OpenOptions & {
      /** Follow this many 307s to the instance that serves the framework, as Mesos's libraries do. */
      followRedirects?: number;
    } = {},
  ): Promise<Subscription> {
    for (let hops = extra.followRedirects ?? 0; ; hops--) {
      const s = await Subscription.openOnce(url, frameworkInfo, extra);
      const location = s.headers.location;
      if (s.status !== 307 || hops <= 0 || typeof location !== "string") return s;
      // Mesos sends "//host:port/api/v1/scheduler"; the scheme is the one the client used.
      url = new URL(location, url).origin;
    }
  }

  private static async openOnce(
    url: string,
    frameworkInfo: Record<string, unknown>,
    extra: OpenOptions,
  ): Promise<Subscription> {
    const s = new Subscription(url, extra.headers, extra.encoding);
    const id = frameworkInfo.id as { value: string } | undefined;
    const call = {
      type: "SUBSCRIBE",
      ...(id ? { framework_id: id } : {}),
      subscribe: {
        framework_info: frameworkInfo,
        ...(extra.suppressedRoles ? { suppressed_roles: extra.suppressedRoles } : {}),
      },
    };
    await s.start(call);
    if (s.status === 200 && extra.waitSubscribed !== false) {
      const sub = await s.next((e) => e.type === "SUBSCRIBED" || e.type === "ERROR", 30_000);
      if (sub.type === "SUBSCRIBED") s.frameworkId = sub.subscribed.framework_id.value;
    }
    return s;
  }

  private start(call: Record<string, unknown>): Promise<void> {
    const { body: data, headers } = encoded(call, this.encoding);
    const decoder = new RecordIoDecoder();
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}/api/v1/scheduler`,
        {
          method: "POST",
          headers: {
            ...headers,
            "content-length": String(data.length),
            ...this.extraHeaders,
          },
        },
        (res) => {
          this.status = res.statusCode ?? 0;
          this.headers = res.headers;
          this.streamId = String(res.headers["mesos-stream-id"] ?? "");
          res.on("data", (c: Buffer) => {
            if (this.status !== 200) {
              this.body += c.toString("utf8");
              return;
            }
            for (const rec of decoder.pushBytes(c))
              this.events.push(
                (this.encoding === "protobuf" ? decodeEvent(rec) : JSON.parse(rec.toString("utf8"))) as Event,
              );
            this.wake();
          });
          const end = () => {
            this.ended = true;
            this.wake();
          };
          res.on("end", end);
          res.on("close", end);
          res.on("error", end);
          if (this.status === 200) resolve();
          else res.on("end", () => resolve());
        },
      );
      this.destroy = () => req.destroy();
      req.on("error", (err) => {
        this.ended = true;
        this.wake();
        if (!this.status) reject(err);
      });
      req.end(data);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The first event (in arrival order, from `from`) matching `pred`; waits for it. */
  async next(pred: (e: Event) => boolean, timeoutMs = 20_000, from = 0): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(pred);
      if (found) return found;
      if (this.ended) throw new Error(`stream ended before the event; got ${this.types()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for an event; got ${this.types()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Waits for the stream to end. */
  async closed(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error("the stream did not end");
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  types(): string {
    return this.events.map((e) => e.type).join(",");
  }

  /** Task updates so far, as [task id, state, uuid?]. */
  updates(taskId?: string): Event["update"]["status"][] {
    return this.events
      .filter((e) => e.type === "UPDATE")
      .map((e) => e.update.status)
      .filter((s) => taskId === undefined || s.task_id.value === taskId);
  }

  /** A call on this subscription's stream. */
  call(
    type: string,
    fields: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const { body, headers: typed } = encoded(
      { type, framework_id: { value: this.frameworkId }, ...fields },
      this.encoding,
    );
    return post(`${this.url}/api/v1/scheduler`, body, {
      ...typed,
      "mesos-stream-id": this.streamId,
      ...this.extraHeaders,
      ...headers,
    });
  }

  /** Acknowledges an update that carries a uuid. */
  ack(status: Event["update"]["status"]): Promise<Reply> {
    return this.call("ACKNOWLEDGE", {
      acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
    });
  }

  /** Drops the connection without a word (a client that goes away). */
  disconnect(): void {
    this.destroy?.();
  }
}

/** A Mesos scalar resource. */
export const scalar = (name: string, value: number) => ({ name, type: "SCALAR", scalar: { value } });

/** The value of a scalar resource in a Mesos resource list. */
export function scalarOf(resources: { name: string; scalar?: { value: number } }[], name: string): number {
  return resources.filter((r) => r.name === name).reduce((a, r) => a + (r.scalar?.value ?? 0), 0);
}

/** A command task that finishes after `runSeconds` on simulated nodes (omit: runs until killed). */
export function commandTask(
  id: string,
  agentId: string,
  opts: { cpus?: number; mem?: number; runSeconds?: number; exitCode?: number; shell?: string } = {},
): Record<string, unknown> {
  const labels = [
    ...(opts.runSeconds !== undefined
      ? [{ key: "sim.kubeoffers.io/run-seconds", value: String(opts.runSeconds) }]
      : []),
    ...(opts.exitCode !== undefined
      ? [{ key: "sim.kubeoffers.io/exit-code", value: String(opts.exitCode) }]
      : []),
  ];
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: [scalar("cpus", opts.cpus ?? 0.1), scalar("mem", opts.mem ?? 32)],
    command: { value: opts.shell ?? "echo hello" },
    ...(labels.length ? { labels: { labels } } : {}),
  };
}
