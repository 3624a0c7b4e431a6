import { describe, expect, it } from "vitest";
import { asciiJson, RecordIoDecoder, recordio } from "./recordio.ts";

describe("RecordIO", () => {
  it("frames ASCII JSON with byte lengths and decodes across chunk boundaries", () => {
    const a = recordio({ type: "HEARTBEAT" });
    const b = recordio({ type: "ERROR", error: { message: "héllo ✓\nnext" } });
    expect(a).toBe('20\n{"type":"HEARTBEAT"}');
    expect(b).not.toMatch(/[^\x20-\x7e\n]/);
    expect(b.split("\n")).toHaveLength(2); // no newline inside the record
    const d = new RecordIoDecoder();
    const bytes = Buffer.from(a + b);
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i += 3) out.push(...d.push(bytes.subarray(i, i + 3)));
    expect(out.map((s) => JSON.parse(s))).toEqual([
      { type: "HEARTBEAT" },
      { type: "ERROR", error: { message: "héllo ✓\nnext" } },
    ]);
    expect(asciiJson("ü")).toBe('"\\u00fc"');
  });
});
