// The Mesos API's HTTP edge, without a server: request bodies under the size limit, the shared
// byte budget and the read deadline; the raw answers to requests the parser gives up on; request
// targets that are not URLs; content negotiation of scheduler calls.
import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  acceptsMediaType,
  bodyEncoding,
  clientErrorAnswer,
  decodeCallBody,
  eventEncoding,
  HttpError,
  pathOf,
  withBody,
} from "./http.ts";
import { ByteBudget } from "./limits.ts";
import { encodeCall } from "./proto/scheduler-codec.ts";

/** A request whose body the test writes. */
function request(headers: Record<string, string> = {}) {
  const s = new PassThrough() as PassThrough & { headers: Record<string, string> };
  s.headers = headers;
  return s;
}
const asReq = (s: PassThrough) => s as unknown as IncomingMessage;

async function refusal(p: Promise<unknown>): Promise<HttpError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof HttpError)) throw new Error(`expected an HttpError, got ${String(err)}`);
  return err;
}

describe("withBody", () => {
  it("hands the body over while it counts against the budget, then gives the bytes back", async () => {
    const budget = new ByteBudget(100);
    const r = request({ "content-length": "5" });
    const seen: number[] = [];
    const p = withBody(asReq(r), { maxBytes: 10, budget, timeoutMs: 5000 }, (b) => {
      seen.push(budget.inUse);
      return b.toString();
    });
    r.end("hello");
    expect(await p).toBe("hello");
    expect(seen).toEqual([5]);
    expect(budget.inUse).toBe(0);
  });

  it("refuses a declared length over the limit before reading (413, naming maxBodyBytes)", async () => {
    const budget = new ByteBudget(100);
    const err = await refusal(
      withBody(
        asReq(request({ "content-length": "11" })),
        { maxBytes: 10, budget, timeoutMs: 5000 },
        () => 0,
      ),
    );
    expect(err.status).toBe(413);
    expect(err.message).toMatch(/maxBodyBytes \(10 bytes\)/);
    expect(err.headers.connection).toBe("close");
    expect(budget.inUse).toBe(0);
  });

  it("stops reading an undeclared body at the first chunk over the limit", async () => {
    const budget = new ByteBudget(1000);
    const r = request();
    const p = withBody(asReq(r), { maxBytes: 10, budget, timeoutMs: 5000 }, () => 0);
    r.write("123456");
    r.write("789012"); // over: refused now, not at the end
    const err = await refusal(p);
    expect(err.status).toBe(413);
    expect(budget.inUse).toBe(0);
    r.end("x".repeat(1000));
  });

  it("refuses bodies beyond the shared budget (503 with Retry-After) and frees it after", async () => {
    const budget = new ByteBudget(10);
    const a = request({ "content-length": "8" });
    const pa = withBody(asReq(a), { maxBytes: 10, budget, timeoutMs: 5000 }, (b) => b.length);
    const b = request({ "content-length": "8" });
    const err = await refusal(withBody(asReq(b), { maxBytes: 10, budget, timeoutMs: 5000 }, () => 0));
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/maxInflightBodyBytes \(10 bytes\)/);
    expect(err.headers["retry-after"]).toBe("1");
    // A chunked body counts as it arrives.
    const c = request();
    const pc = withBody(asReq(c), { maxBytes: 10, budget, timeoutMs: 5000 }, () => 0);
    c.write("123");
    expect((await refusal(pc)).status).toBe(503);
    a.end("12345678");
    expect(await pa).toBe(8);
    expect(budget.inUse).toBe(0);
  });

  it("gives up on a body that does not arrive in time (408, naming requestTimeoutSeconds)", async () => {
    const budget = new ByteBudget(100);
    const r = request({ "content-length": "10" });
    const p = withBody(asReq(r), { maxBytes: 100, budget, timeoutMs: 50 }, () => 0);
    r.write("12");
    const err = await refusal(p);
    expect(err.status).toBe(408);
    expect(err.message).toMatch(/requestTimeoutSeconds \(0.05 s\)/);
    expect(budget.inUse).toBe(0);
  });

  it("releases the budget when the use of the body throws", async () => {
    const budget = new ByteBudget(100);
    const r = request({ "content-length": "2" });
    const p = withBody(asReq(r), { maxBytes: 10, budget, timeoutMs: 5000 }, () => {
      throw new HttpError(400, "bad");
    });
    r.end("{}");
    expect((await refusal(p)).status).toBe(400);
    expect(budget.inUse).toBe(0);
  });
});

describe("clientErrorAnswer", () => {
  const o = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 };
  it.each([
    ["ERR_HTTP_REQUEST_TIMEOUT", false, 408, /headersTimeoutSeconds \(10 s\)/],
    ["ERR_HTTP_REQUEST_TIMEOUT", true, 408, /headersTimeoutSeconds \+ requestTimeoutSeconds \(40 s\)/],
    ["HPE_HEADER_OVERFLOW", false, 431, /too large/],
    ["HPE_INVALID_METHOD", false, 400, /Malformed/],
    ["ECONNRESET", false, undefined, undefined],
    [undefined, false, undefined, undefined],
  ])("%s (in body: %s) -> %s", (code, inBody, status, text) => {
    const a = clientErrorAnswer(code, inBody, o);
    if (status === undefined) return expect(a).toBeUndefined();
    const [head = "", body = ""] = (a ?? "").split("\r\n\r\n");
    expect(head.split("\r\n")[0]).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(head).toMatch(/connection: close/);
    expect(head).toContain(`content-length: ${Buffer.byteLength(body)}`);
    expect(body).toMatch(text as RegExp);
  });
});

describe("pathOf", () => {
  it.each([
    ["/api/v1/scheduler/", "/api/v1/scheduler"],
    ["/", "/"],
    ["//", "/"],
    ["//evil.example/api/v1/scheduler", "//evil.example/api/v1/scheduler"],
    ["http://master:5050/master/state", "/master/state"],
    ["*", undefined],
    ["/master/state?x=1", "/master/state"],
    ["http://[", undefined],
    [undefined, "/"],
  ])("%j -> %j", (url, want) => {
    expect(pathOf(url)).toBe(want);
  });
});

describe("content negotiation (Master::Http::scheduler)", () => {
  it("Accept as libprocess reads it: none allows all, exact then type/* then */*, q=0 refuses", () => {
    expect(acceptsMediaType(undefined, "application/json")).toBe(true);
    expect(acceptsMediaType("application/json", "application/json")).toBe(true);
    expect(acceptsMediaType("Application/JSON", "application/json")).toBe(true);
    expect(acceptsMediaType("application/*", "application/x-protobuf")).toBe(true);
    expect(acceptsMediaType("*/*", "application/json")).toBe(true);
    expect(acceptsMediaType("text/html", "application/json")).toBe(false);
    expect(acceptsMediaType("", "application/json")).toBe(false);
    expect(acceptsMediaType("application/json;q=0", "application/json")).toBe(false);
    expect(acceptsMediaType("application/json; q=0.5", "application/json")).toBe(true);
    // The exact type decides before the wildcard: q=0 on it refuses although */* is allowed.
    expect(acceptsMediaType("application/json;q=0, */*", "application/json")).toBe(false);
    expect(acceptsMediaType("application/json;q=zero", "application/json")).toBe(false);
  });

  it("a SUBSCRIBE's events are JSON when Accept allows it, else protobuf, else 406", async () => {
    expect(eventEncoding(undefined)).toBe("json");
    expect(eventEncoding("*/*")).toBe("json");
    expect(eventEncoding("application/x-protobuf, application/json")).toBe("json");
    expect(eventEncoding("application/x-protobuf")).toBe("protobuf");
    expect(eventEncoding("application/json;q=0, application/x-protobuf")).toBe("protobuf");
    for (const accept of ["text/plain", "application/recordio", "application/json;q=0"]) {
      const err = await refusal(Promise.resolve().then(() => eventEncoding(accept)));
      expect(err.status).toBe(406);
      expect(err.message).toBe("Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'");
    }
  });

  it("a call body by Content-Type: missing 400, JSON or protobuf, anything else 415", async () => {
    expect(bodyEncoding("application/json")).toBe("json");
    expect(bodyEncoding("application/json; charset=utf-8")).toBe("json");
    expect(bodyEncoding("application/x-protobuf")).toBe("protobuf");
    const missing = await refusal(Promise.resolve().then(() => bodyEncoding(undefined)));
    expect([missing.status, missing.message]).toEqual([400, "Expecting 'Content-Type' to be present"]);
    const other = await refusal(Promise.resolve().then(() => bodyEncoding("text/plain")));
    expect([other.status, other.message]).toEqual([
      415,
      "Expecting 'Content-Type' of application/json or application/x-protobuf",
    ]);
  });

  it("decodes JSON and protobuf bodies to the same Call; bad protobuf is 400 naming what is wrong", async () => {
    const call = { framework_id: { value: "f" }, type: "KILL", kill: { task_id: { value: "t" } } };
    const fromJson = decodeCallBody("json", Buffer.from(JSON.stringify(call)));
    const fromProto = decodeCallBody("protobuf", Buffer.from(encodeCall(call)));
    expect(fromProto).toEqual(fromJson);
    const cases: [string, RegExp][] = [
      ["0a040a0266", /^Failed to parse body into Call protobuf: truncated/],
      ["0f", /^Failed to parse body into Call protobuf: invalid wire type 7/],
      ["1063", /type: 99 is not a value of enum mesos\.v1\.scheduler\.Call\.Type/],
      ["1affffff7f", /^Failed to parse body into Call protobuf: truncated/],
      ["10063200", /: kill\.task_id: required field is missing$/],
    ];
    for (const [hex, want] of cases) {
      const err = await refusal(
        Promise.resolve().then(() => decodeCallBody("protobuf", Buffer.from(hex, "hex"))),
      );
      expect(err.status, hex).toBe(400);
      expect(err.message, hex).toMatch(want);
    }
    // Valid protobuf that is not a valid Call is refused like the JSON path refuses it.
    const noFramework = await refusal(
      Promise.resolve().then(() => decodeCallBody("protobuf", Buffer.from(encodeCall({ type: "TEARDOWN" })))),
    );
    expect([noFramework.status, noFramework.message]).toEqual([
      400,
      "Expecting 'framework_id' to be present",
    ]);
  });
});
