// HTTP for the Mesos API: the server and its routing, errors as status codes, request bodies
// (size limit), content negotiation of scheduler calls (JSON only), plain and JSON answers, and
// the headers of a subscription's event stream (RecordIO or JSON). Nothing here knows a
// framework; src/mesos/dispatch.ts and endpoints.ts are the handlers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { asciiJson, type Call, parseCall } from "./protocol.ts";

export type Log = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

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

export type Handler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;

/** The media types of an Accept or Content-Type header, lower-case, without parameters. */
export function mediaTypes(header: string | undefined): string[] {
  return (header ?? "")
    .split(",")
    .map((s) => s.split(";")[0]?.trim().toLowerCase() ?? "")
    .filter(Boolean);
}

/** The request body, refused with 413 (and the connection closed) above `maxBody` bytes. */
export function readBody(req: IncomingMessage, maxBody: number): Promise<Buffer> {
  const tooLarge = () =>
    new HttpError(413, `Request body is larger than ${maxBody} bytes`, { connection: "close" });
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > maxBody) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > maxBody) {
        done = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on("error", (err) => {
      if (!done) reject(err);
      done = true;
    });
    req.on("aborted", () => {
      if (!done) reject(new HttpError(400, "request aborted"));
      done = true;
    });
  });
}

/**
 * A scheduler call from a POST body: 415 unless it is JSON, 400 unless it parses into a Call,
 * 406 unless the client accepts a JSON answer (a RecordIO event stream, for SUBSCRIBE).
 */
export async function readCall(req: IncomingMessage, maxBody: number): Promise<Call> {
  const ctype = mediaTypes(req.headers["content-type"])[0];
  if (ctype === undefined) throw new HttpError(415, "Expecting 'Content-Type' to be present");
  if (ctype !== "application/json")
    throw new HttpError(
      415,
      ctype === "application/x-protobuf"
        ? "Protobuf requests are not supported here: send JSON ('Content-Type: application/json')"
        : `Unsupported 'Content-Type' ${ctype}: expecting application/json`,
    );
  const accept = mediaTypes(req.headers.accept);
  const body = await readBody(req, maxBody);
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new HttpError(400, `Failed to parse body into JSON: ${(err as Error).message}`);
  }
  const parsed = parseCall(json);
  if (!parsed.ok) throw new HttpError(400, parsed.error);
  const call = parsed.call;
  const okAccept = (extra: string[]) =>
    accept.length === 0 ||
    accept.some((t) => t === "*/*" || t === "application/*" || t === "application/json" || extra.includes(t));
  if (call.type === "SUBSCRIBE") {
    const msgAccept = mediaTypes(req.headers["message-accept"] as string | undefined);
    if (
      !okAccept(["application/recordio"]) ||
      (msgAccept.length && !msgAccept.some((t) => t === "application/json" || t === "*/*"))
    )
      throw new HttpError(406, "Only JSON event streams are served: 'Accept: application/json'");
  } else if (!okAccept([])) {
    throw new HttpError(406, "Only JSON responses are served: 'Accept: application/json'");
  }
  return call;
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
 * Starts a subscription's event stream: RecordIO when the client accepts it (its records are
 * JSON), otherwise JSON; `Mesos-Stream-Id` names it in the framework's later calls.
 */
export function openEventStream(req: IncomingMessage, res: ServerResponse, streamId: string): void {
  const recordio = mediaTypes(req.headers.accept).includes("application/recordio");
  res.writeHead(200, {
    "content-type": recordio ? "application/recordio" : "application/json",
    ...(recordio ? { "message-content-type": "application/json" } : {}),
    "mesos-stream-id": streamId,
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
  /** While closing, unexpected errors answer 503 instead of 500. */
  closing: () => boolean;
  log: Log;
}

/** Serves `route`'s handlers; an HttpError a handler throws is its answer. Resolves once listening. */
export async function serve(o: ServeOptions): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "") || "/";
    const handler = o.route(path);
    const handle = handler
      ? handler(req, res, path)
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
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
