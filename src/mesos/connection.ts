// One subscribed scheduler's event stream: the open HTTP response of its SUBSCRIBE, each event
// a RecordIO record of JSON or protobuf (as its Accept chose), a HEARTBEAT at once and then every
// interval (as Mesos's heartbeater does). A stream whose client stops reading is closed rather
// than buffered without bound; closing it (either side) tells the framework once.
import type { ServerResponse } from "node:http";
import type { Encoding, Log } from "./http.ts";
import { encodeEvent } from "./proto/scheduler-codec.ts";
import type { MesosEvent } from "./protocol.ts";
import { recordio, recordioBytes } from "./recordio.ts";

/** An event as one RecordIO record in `encoding`. */
export function eventRecord(event: MesosEvent, encoding: Encoding): string | Buffer {
  return encoding === "protobuf" ? recordioBytes(encodeEvent(event)) : recordio(event);
}

export class Connection {
  readonly streamId: string;
  readonly principal: string | undefined;
  readonly encoding: Encoding;
  private readonly res: ServerResponse;
  private readonly maxBuffered: number;
  private readonly log: Log;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onClose = new Set<() => void>();

  /** `res` has its headers written (http.ts openEventStream); `maxBuffered`: unsent bytes before it is closed. */
  constructor(
    streamId: string,
    principal: string | undefined,
    res: ServerResponse,
    maxBuffered: number,
    encoding: Encoding,
    log: Log,
  ) {
    this.log = log;
    this.streamId = streamId;
    this.principal = principal;
    this.encoding = encoding;
    this.res = res;
    this.maxBuffered = maxBuffered;
    res.on("close", () => this.close());
    // Gone before we got here: 'close' will not come again.
    if (!res.socket || res.socket.destroyed) queueMicrotask(() => this.close());
  }

  startHeartbeat(seconds: number): void {
    this.send({ type: "HEARTBEAT" });
    this.heartbeat = setInterval(() => this.send({ type: "HEARTBEAT" }), seconds * 1000);
    this.heartbeat.unref();
  }

  whenClosed(fn: () => void): void {
    if (this.closed) fn();
    else this.onClose.add(fn);
  }

  send(event: MesosEvent): boolean {
    if (this.closed) return false;
    if (this.res.writableLength > this.maxBuffered) {
      // The client stopped reading: drop it rather than buffer without bound.
      this.close();
      return false;
    }
    let record: string | Buffer;
    try {
      record = eventRecord(event, this.encoding);
    } catch (err) {
      // An event our schema cannot carry is a bug here: say so, and keep the stream.
      this.log("error", "event not sent: it does not encode", { type: event.type, err: String(err) });
      return false;
    }
    this.res.write(record);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (!this.res.writableEnded) this.res.end();
    for (const fn of this.onClose) fn();
    this.onClose.clear();
  }
}
