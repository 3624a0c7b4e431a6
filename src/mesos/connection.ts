// One subscribed scheduler's event stream: the open HTTP response of its SUBSCRIBE, each event
// a RecordIO record, a HEARTBEAT every interval. A stream whose client stops reading is closed
// rather than buffered without bound; closing it (either side) tells the framework once.
import type { ServerResponse } from "node:http";
import { type MesosEvent, recordio } from "./protocol.ts";

export class Connection {
  readonly streamId: string;
  readonly principal: string | undefined;
  private readonly res: ServerResponse;
  private readonly maxBuffered: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onClose = new Set<() => void>();

  /** `res` has its headers written (http.ts openEventStream); `maxBuffered`: unsent bytes before it is closed. */
  constructor(streamId: string, principal: string | undefined, res: ServerResponse, maxBuffered: number) {
    this.streamId = streamId;
    this.principal = principal;
    this.res = res;
    this.maxBuffered = maxBuffered;
    res.on("close", () => this.close());
    // Gone before we got here: 'close' will not come again.
    if (!res.socket || res.socket.destroyed) queueMicrotask(() => this.close());
  }

  startHeartbeat(seconds: number): void {
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
    this.res.write(recordio(event));
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
