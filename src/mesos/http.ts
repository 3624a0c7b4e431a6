// HTTP for the Mesos API: the server and its routing, errors as status codes, request bodies
// (size limit, read deadline, a byte budget shared by all requests), content negotiation of
// scheduler calls as Mesos does it (JSON or protobuf bodies by Content-Type, JSON or protobuf
// events by Accept), plain, empty and JSON answers, and the headers of a subscription's event
// stream. Slow clients are timed on the request side only: headers and body
// must arrive in time (408), an event stream's response stays open as long as it is read.
// Nothing here knows a framework; src/mesos/dispatch.ts and endpoints.ts are the handlers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { ByteBudget } from "./limits.ts";
import { DecodeError, decodeCall } from "./proto/scheduler-codec.ts";
import { type Call, parseCall } from "./protocol.ts";
import { asciiJson } from "./recordio.ts";

export type Log = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** Who a request is from (src/mesos/guard.ts admits it). */
export interface Caller {
  /** The authenticated principal; undefined without authentication. */
  principal: string | undefined;
  /** The key its limits are counted under. */
  client: string;
  /** The client in a message: "principal 'spark'" or "address 10.0.0.7". */
  who: string;
}

/** A request refused with this status (and headers). Handlers and the frameworks' calls throw it. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: { path: string; caller: Caller },
) => Promise<void>;

/** The media types of an Accept or Content-Type header, lower-case, without parameters. */
export function mediaTypes(header: string | undefined): string[] {
  return (header ?? "")
    .split(",")
    .map((s) => s.split(";")[0]?.trim().toLowerCase() ?? "")
    .filter(Boolean);
}

/** How a request body is read. */
export interface BodyLimits {
  /** Largest body (413 above). */
  maxBytes: number;
  /** Bytes of all bodies being read at once (503 when this one does not fit). */
  budget: ByteBudget;
  /** The whole body must have arrived this long after reading starts (408). */
  timeoutMs: number;
}

/**
 * The request body, handed to `use` while its bytes count against the shared budget. Reading
 * stops at the first byte over `maxBytes` (413), over the budget (503) or after the deadline
 * (408); what was read is dropped and the connection is closed after the answer.
 */
export async function withBody<T>(req: IncomingMessage, o: BodyLimits, use: (body: Buffer) => T): Promise<T> {
  let held = 0;
  try {
    const body = await new Promise<Buffer>((resolve, reject) => {
      const close = { connection: "close" };
      const declared = Number(req.headers["content-length"] ?? "0") || 0;
      const tooLarge = () =>
        new HttpError(413, `Request body is larger than maxBodyBytes (${o.maxBytes} bytes)`, close);
      const busy = () =>
        new HttpError(
          503,
          `Too many request bytes in flight: maxInflightBodyBytes (${o.budget.max} bytes) is reached`,
          { ...close, "retry-after": "1" },
        );
      if (declared > o.maxBytes) return reject(tooLarge());
      if (!o.budget.take(declared)) return reject(busy());
      held = declared;
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          chunks.length = 0;
          reject(err);
        } else resolve(Buffer.concat(chunks));
      };
      const timer = setTimeout(
        () =>
          finish(
            new HttpError(
              408,
              `Request body not received within requestTimeoutSeconds (${o.timeoutMs / 1000} s)`,
              close,
            ),
          ),
        o.timeoutMs,
      );
      req.on("data", (c: Buffer) => {
        if (done) return;
        size += c.length;
        if (size > o.maxBytes) return finish(tooLarge());
        if (size > held) {
          if (!o.budget.take(size - held)) return finish(busy());
          held = size;
        }
        chunks.push(c);
      });
      req.on("end", () => finish());
      req.on("error", (err) => finish(err));
      req.on("aborted", () => finish(new HttpError(400, "request aborted")));
      req.on("close", () => finish(new HttpError(400, "request aborted")));
    });
    return use(body);
  } finally {
    o.budget.release(held);
  }
}

export const APPLICATION_JSON = "application/json";
export const APPLICATION_PROTOBUF = "application/x-protobuf";

/** How a call's body, or a subscription's events, are encoded. */
export type Encoding = "json" | "protobuf";

/**
 * Whether an Accept header allows `mediaType`, as Mesos's libprocess decides it: no header
 * allows everything; `type/subtype`, then `type/*`, then `*\/*` is looked for, and the first
 * match decides (a q of 0, or one that is not a number, refuses).
 */
export function acceptsMediaType(header: string | undefined, mediaType: string): boolean {
  if (header === undefined) return true;
  const [type] = mediaType.split("/");
  const ranges = header
    .replace(/[ \t\n]/g, "")
    .split(",")
    .filter(Boolean)
    .map((r) => r.split(";").filter(Boolean));
  for (const candidate of [mediaType, `${type}/*`, "*/*"]) {
    for (const params of ranges) {
      if (params[0]?.toLowerCase() !== candidate.toLowerCase()) continue;
      const q = params.slice(1).filter((p) => p.split("=")[0] === "q");
      if (q.length !== 1) return true;
      const value = Number(q[0]?.split("=")[1]);
      return Number.isFinite(value) && value > 0;
    }
  }
  return false;
}

/** The encoding of a SUBSCRIBE's events: JSON when Accept allows it, else protobuf, else 406 (Mesos's order). */
export function eventEncoding(accept: string | undefined): Encoding {
  if (acceptsMediaType(accept, APPLICATION_JSON)) return "json";
  if (acceptsMediaType(accept, APPLICATION_PROTOBUF)) return "protobuf";
  throw new HttpError(406, `Expecting 'Accept' to allow '${APPLICATION_PROTOBUF}' or '${APPLICATION_JSON}'`);
}

/** The encoding of a call body by its Content-Type: 400 without one, 415 for anything but JSON or protobuf. */
export function bodyEncoding(contentType: string | undefined): Encoding {
  const ctype = mediaTypes(contentType)[0];
  if (ctype === undefined) throw new HttpError(400, "Expecting 'Content-Type' to be present");
  if (ctype === APPLICATION_JSON) return "json";
  if (ctype === APPLICATION_PROTOBUF) return "protobuf";
  throw new HttpError(415, `Expecting 'Content-Type' of ${APPLICATION_JSON} or ${APPLICATION_PROTOBUF}`);
}

/** How one API's Call bodies are read: its protobuf decoder (and error) and its validation. */
export interface CallCodec<C> {
  decodeProtobuf(body: Buffer): unknown;
  isDecodeError(err: unknown): err is Error;
  parse(value: unknown): { ok: true; call: C } | { ok: false; error: string };
}

/** A call body as a call: 400 unless it decodes (JSON or protobuf) and validates. */
export function decodeBody<C>(encoding: Encoding, body: Buffer, codec: CallCodec<C>): C {
  let value: unknown;
  if (encoding === "protobuf") {
    try {
      value = codec.decodeProtobuf(body);
    } catch (err) {
      if (codec.isDecodeError(err))
        throw new HttpError(400, `Failed to parse body into Call protobuf: ${err.message}`);
      throw err;
    }
  } else {
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch (err) {
      throw new HttpError(400, `Failed to parse body into JSON: ${(err as Error).message}`);
    }
  }
  const parsed = codec.parse(value);
  if (!parsed.ok) throw new HttpError(400, parsed.error);
  return parsed.call;
}

const SCHEDULER_CALLS: CallCodec<Call> = {
  decodeProtobuf: decodeCall,
  isDecodeError: (err): err is Error => err instanceof DecodeError,
  parse: parseCall,
};

/** A scheduler call body as a Call: 400 unless it decodes (JSON or protobuf) and validates. */
export function decodeCallBody(encoding: Encoding, body: Buffer): Call {
  return decodeBody(encoding, body, SCHEDULER_CALLS);
}

/**
 * A scheduler call from a POST body, decoded by its Content-Type (400, 415), and for SUBSCRIBE
 * and RECONCILE_OPERATIONS the encoding of the answer its Accept chooses (406); Mesos ignores
 * Accept on the other calls, whose answers have no body.
 */
export async function readCall(
  req: IncomingMessage,
  body: BodyLimits,
): Promise<{ call: Call; accept: Encoding | undefined }> {
  const encoding = bodyEncoding(req.headers["content-type"]);
  const call = await withBody(req, body, (b) => decodeCallBody(encoding, b));
  const negotiates = call.type === "SUBSCRIBE" || call.type === "RECONCILE_OPERATIONS";
  return { call, accept: negotiates ? eventEncoding(req.headers.accept) : undefined };
}

/** An answer without a body (202, or 200 to UPDATE_FRAMEWORK): no Content-Type, as Mesos sends it. */
export function sendEmpty(res: ServerResponse, code: number): void {
  res.writeHead(code, { "content-length": "0" });
  res.end();
}

/** A plain-text answer (a status code with an optional message). */
export function send(res: ServerResponse, code: number, body: string, headers: Record<string, string> = {}) {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, { "content-type": "text/plain; charset=utf-8", ...headers });
  res.end(body ? `${body}\n` : "");
}

export function sendJson(res: ServerResponse, value: unknown): void {
  const body = asciiJson(value);
  res.writeHead(200, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * Starts a subscription's event stream: RecordIO records of JSON or protobuf events, the
 * Content-Type saying which (as Mesos answers it); a scheduler's `Mesos-Stream-Id` names it in
 * the framework's later calls (the operator API's streams have none).
 */
export function openEventStream(res: ServerResponse, encoding: Encoding, streamId?: string): void {
  res.writeHead(200, {
    "content-type": encoding === "protobuf" ? APPLICATION_PROTOBUF : APPLICATION_JSON,
    ...(streamId !== undefined ? { "mesos-stream-id": streamId } : {}),
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  res.flushHeaders();
}

export interface ServeOptions {
  port: number;
  host: string;
  /** The handler of a path (without trailing slashes), or undefined: 404. */
  route: (path: string) => Handler | undefined;
  /** Who calls, before the handler runs (it throws the refusal: 401, 429). */
  admit: (req: IncomingMessage) => Caller;
  /** A request's headers must arrive within this (408). */
  headersTimeoutMs: number;
  /** Its body within this once the headers have (the handlers' own deadline; the server's is a backstop). */
  requestTimeoutMs: number;
  /** While closing, unexpected errors answer 503 instead of 500. */
  closing: () => boolean;
  log: Log;
}

/** The raw answer to a request the HTTP parser gave up on (no handler ran), or undefined: just close. */
export function clientErrorAnswer(
  code: string | undefined,
  inBody: boolean,
  o: Pick<ServeOptions, "headersTimeoutMs" | "requestTimeoutMs">,
): string | undefined {
  const seconds = (ms: number) => `${ms / 1000} s`;
  const [status, reason, text] =
    code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [
          408,
          "Request Timeout",
          inBody
            ? `Request not received within headersTimeoutSeconds + requestTimeoutSeconds (${seconds(o.headersTimeoutMs + o.requestTimeoutMs)})`
            : `Request headers not received within headersTimeoutSeconds (${seconds(o.headersTimeoutMs)})`,
        ]
      : code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large", "Request headers are too large"]
        : code?.startsWith("HPE_")
          ? [400, "Bad Request", "Malformed HTTP request"]
          : [undefined, "", ""];
  if (status === undefined) return undefined;
  const body = `${text}\n`;
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/**
 * A request target's path without trailing slashes; undefined when it is not a URL (`http://[`).
 * An origin-form target is appended to a base, not resolved against it: `//x` is a path here,
 * not a host (resolving it threw, and a throw here would take the process down).
 */
export function pathOf(url: string | undefined): string | undefined {
  const target = url ?? "/";
  try {
    const u = target.startsWith("/") ? new URL(`http://localhost${target}`) : new URL(target);
    return u.pathname.replace(/\/+$/, "") || "/";
  } catch {
    return undefined;
  }
}

/** Serves `route`'s handlers; an HttpError a handler throws is its answer. Resolves once listening. */
export async function serve(o: ServeOptions): Promise<{ server: Server; port: number }> {
  const server = createServer(
    {
      headersTimeout: o.headersTimeoutMs,
      // A backstop for a handler that does not read the body: ours (withBody) answers first.
      requestTimeout: o.headersTimeoutMs + o.requestTimeoutMs,
      // How often the server looks for expired requests: the timeouts' granularity.
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(o.headersTimeoutMs / 4))),
    },
    (req, res) => {
      const path = pathOf(req.url);
      const handler = path === undefined ? undefined : o.route(path);
      const handle =
        path === undefined
          ? Promise.reject(new HttpError(400, "Malformed request target", { connection: "close" }))
          : handler
            ? Promise.resolve().then(() => handler(req, res, { path, caller: o.admit(req) }))
            : Promise.reject(new HttpError(404, `No endpoint ${path}`));
      handle.catch((err: unknown) => {
        if (err instanceof HttpError) {
          send(res, err.status, err.message, err.headers);
          if (err.headers.connection === "close") {
            // Discard the rest of the body; the connection closes after the answer. A client that
            // keeps sending is cut off after a grace period.
            req.resume();
            setTimeout(() => req.socket.destroy(), 5000).unref();
          }
          return;
        }
        const message = err instanceof Error ? err.message : String(err);
        o.log("error", "request failed", { path, err: message });
        send(res, o.closing() ? 503 : 500, `Internal error: ${message}`);
      });
    },
  );
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A handler's answer already started: nothing more can be said on this connection.
    const current = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    const answer = current?.headersSent ? undefined : clientErrorAnswer(err.code, current !== undefined, o);
    if (!answer || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(answer);
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
