// One subscribed scheduler's event stream: an EventStream (event-stream.ts) of scheduler.proto
// Events, named by the Mesos-Stream-Id its calls must carry.
import type { ServerResponse } from "node:http";
import { EventStream } from "./event-stream.ts";
import type { Encoding, Log } from "./http.ts";
import { encodeEvent } from "./proto/scheduler-codec.ts";

export class Connection extends EventStream {
  readonly streamId: string;

  /** `res` has its headers written (http.ts openEventStream); `maxBuffered`: unsent bytes before it is closed. */
  constructor(
    streamId: string,
    principal: string | undefined,
    res: ServerResponse,
    maxBuffered: number,
    encoding: Encoding,
    log: Log,
  ) {
    super(res, { principal, encoding, maxBuffered, encode: encodeEvent, log });
    this.streamId = streamId;
  }
}
