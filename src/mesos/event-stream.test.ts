import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventStream, eventRecord } from "./event-stream.ts";
import type { Encoding, Log } from "./http.ts";
import { decodeEvent, encodeEvent } from "./proto/scheduler-codec.ts";
import { RecordIoDecoder, recordio } from "./recordio.ts";

/** The parts of a ServerResponse a stream uses: what was written, and how much is unsent. */
class FakeResponse extends EventEmitter {
  readonly written: (string | Buffer)[] = [];
  writableLength = 0;
  writableEnded = false;
  readonly socket = { destroyed: false };
  write(chunk: string | Buffer): boolean {
    this.written.push(chunk);
    return true;
  }
  end(): void {
    this.writableEnded = true;
  }
}

function stream(
  o: {
    encoding?: Encoding;
    maxBuffered?: number;
    encode?: (e: Record<string, unknown>) => Uint8Array;
    log?: Log;
  } = {},
) {
  const res = new FakeResponse();
  const s = new EventStream(res as unknown as ServerResponse, {
    principal: "p",
    encoding: o.encoding ?? "json",
    maxBuffered: o.maxBuffered ?? 1 << 20,
    encode: o.encode ?? encodeEvent,
    log: o.log ?? (() => {}),
  });
  return { res, s };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("EventStream", () => {
  it("events as RecordIO records of protobuf bytes or JSON, as the stream's encoding says", () => {
    const event = { type: "ERROR", error: { message: "Framework failed over" } };
    const proto = eventRecord(event, "protobuf", encodeEvent) as Buffer;
    const [record] = new RecordIoDecoder().pushBytes(proto);
    expect(proto.subarray(0, proto.indexOf(0x0a)).toString()).toBe(String(record?.length));
    expect(decodeEvent(record ?? Buffer.alloc(0))).toEqual(event);
    expect(eventRecord(event, "json", encodeEvent)).toBe(recordio(event));
  });

  it("a HEARTBEAT at once and every interval, none once closed", () => {
    vi.useFakeTimers();
    const { res, s } = stream();
    s.startHeartbeat(15);
    expect(res.written).toEqual([recordio({ type: "HEARTBEAT" })]);
    vi.advanceTimersByTime(30_000);
    expect(res.written).toHaveLength(3);
    s.close();
    vi.advanceTimersByTime(60_000);
    expect(res.written).toHaveLength(3);
  });

  it("a client that stops reading is cut off past maxBuffered unsent bytes; its listeners hear it once", () => {
    const { res, s } = stream({ maxBuffered: 1000 });
    let closed = 0;
    s.whenClosed(() => closed++);
    expect(s.send({ type: "HEARTBEAT" })).toBe(true);
    res.writableLength = 1001;
    expect(s.send({ type: "HEARTBEAT" })).toBe(false);
    expect(res.writableEnded).toBe(true);
    expect(res.written).toHaveLength(1);
    s.close();
    res.emit("close");
    expect(closed).toBe(1);
    // A listener that comes late hears it at once.
    s.whenClosed(() => closed++);
    expect(closed).toBe(2);
  });

  it("the client going away closes it", () => {
    const { res, s } = stream();
    let closed = false;
    s.whenClosed(() => (closed = true));
    res.emit("close");
    expect(closed).toBe(true);
    expect(s.send({ type: "HEARTBEAT" })).toBe(false);
  });

  it("an event the API's schema cannot carry is logged and not sent; the stream stays open", () => {
    const logged: string[] = [];
    const { res, s } = stream({
      encoding: "protobuf",
      encode: (e) => {
        if (e.type === "AGENT_REMOVED") throw new Error("missing required agent_id");
        return encodeEvent(e);
      },
      log: (level, msg) => logged.push(`${level}: ${msg}`),
    });
    expect(s.send({ type: "AGENT_REMOVED", agent_removed: {} })).toBe(false);
    expect(logged).toEqual(["error: event not sent: it does not encode"]);
    expect(res.written).toHaveLength(0);
    expect(res.writableEnded).toBe(false);
    expect(s.send({ type: "HEARTBEAT" })).toBe(true);
    expect(res.written).toHaveLength(1);
  });
});
