// One open Mesos event stream, of the scheduler API (connection.ts) or the operator API
// (operator/stream.ts): the HTTP response of a SUBSCRIBE, headers written (http.ts
// openEventStream), each event a RecordIO record of JSON or protobuf as its Accept chose, a
// HEARTBEAT at once and then every interval (as Mesos's heartbeater does). A stream whose client
// stops reading is closed rather than buffered without bound; closing it (either side) tells
// its listeners once.
import type { ServerResponse } from "node:http";
import type { Encoding, Log } from "./http.ts";
import type { MesosEvent } from "./protocol.ts";
import { recordio, recordioBytes } from "./recordio.ts";

/** An event as protobuf bytes: each API has an Event message of its own. */
export type EventEncoder = (event: MesosEvent) => Uint8Array;

/** An event as one RecordIO record in `encoding`. */
export function eventRecord(event: MesosEvent, encoding: Encoding, encode: EventEncoder): string | Buffer {
  return encoding === "protobuf" ? recordioBytes(encode(event)) : recordio(event);
}

export interface EventStreamOptions {
  principal: string | undefined;
  encoding: Encoding;
  /** Unsent bytes before the stream is closed (its client stopped reading). */
  maxBuffered: number;
  /** The API's protobuf Event. */
  encode: EventEncoder;
  log: Log;
}

export class EventStream {
  readonly principal: string | undefined;
  readonly encoding: Encoding;
  private readonly res: ServerResponse;
  private readonly o: EventStreamOptions;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onClose = new Set<() => void>();

  constructor(res: ServerResponse, o: EventStreamOptions) {
    this.res = res;
    this.o = o;
    this.principal = o.principal;
    this.encoding = o.encoding;
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

  /** False when nothing was written: the stream is closed (or now closes), or the event does not encode. */
  send(event: MesosEvent): boolean {
    if (this.closed) return false;
    if (this.res.writableLength > this.o.maxBuffered) {
      // The client stopped reading: drop it rather than buffer without bound.
      this.close();
      return false;
    }
    let record: string | Buffer;
    try {
      record = eventRecord(event, this.encoding, this.o.encode);
    } catch (err) {
      // An event our schema cannot carry is a bug here: say so, and keep the stream.
      this.o.log("error", "event not sent: it does not encode", { type: event.type, err: String(err) });
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
