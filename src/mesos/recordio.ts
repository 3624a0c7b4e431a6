// RecordIO, the framing of every Mesos event stream (Mesos's docs/recordio.md): each record is
// `<length in bytes>\n<data>`, the data protobuf bytes or JSON kept to ASCII (asciiJson, which
// the API's JSON answers use too). The scheduler and operator streams write it; tests and tools
// read it back with RecordIoDecoder.
/**
 * JSON with every non-ASCII character escaped: RecordIO lengths count bytes, and some clients
 * (mesoshttp) cut records by characters after decoding, so ASCII keeps both readings equal.
 * No newlines either: line-based readers split on them.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** One RecordIO record: `<length in bytes>\n<data>`. */
export function recordio(value: unknown): string {
  const data = asciiJson(value);
  return `${Buffer.byteLength(data)}\n${data}`;
}

/** One RecordIO record of binary data (a protobuf message). */
export function recordioBytes(data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${data.length}\n`, "ascii"), data]);
}

/** Incremental RecordIO decoder (used by tests and tools reading the event stream). */
export class RecordIoDecoder {
  private buf = Buffer.alloc(0);

  /** Feeds bytes; returns the records completed by them, as UTF-8 text. */
  push(chunk: Buffer | string): string[] {
    return this.pushBytes(chunk).map((r) => r.toString("utf8"));
  }

  /** Feeds bytes; returns the records completed by them, as bytes. */
  pushBytes(chunk: Buffer | string): Buffer[] {
    this.buf = Buffer.concat([this.buf, typeof chunk === "string" ? Buffer.from(chunk) : chunk]);
    const out: Buffer[] = [];
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) break;
      const len = Number(this.buf.subarray(0, nl).toString("ascii"));
      if (!Number.isInteger(len) || len < 0) throw new Error("malformed RecordIO length");
      if (this.buf.length < nl + 1 + len) break;
      out.push(Buffer.from(this.buf.subarray(nl + 1, nl + 1 + len)));
      this.buf = this.buf.subarray(nl + 1 + len);
    }
    return out;
  }
}
