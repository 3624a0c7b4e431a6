// Who calls the Mesos API: credentials are compared as equal-length SHA-256 digests with
// timingSafeEqual (every token, also for an unknown user), principals named after
// Object.prototype's members are names like any other, and serving without credentials must be
// asked for.
import type { IncomingMessage } from "node:http";
import { beforeEach, describe, expect, it, vi } from "vitest";

const compared = vi.hoisted(() => ({ lengths: [] as [number, number][] }));
vi.mock("node:crypto", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:crypto")>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.lengths.push([a.byteLength, b.byteLength]);
      return real.timingSafeEqual(a, b);
    },
  };
});

const { credentialsCheck, hasCredentials, Tenancy } = await import("./auth.ts");
const { HttpError } = await import("./http.ts");

const PROTOTYPE_NAMES = [
  "__proto__",
  "constructor",
  "hasOwnProperty",
  "toString",
  "valueOf",
  "isPrototypeOf",
];
/** A record with these own keys (an object literal `{__proto__: …}` would set the prototype instead). */
const own = (entries: [string, string][]) => Object.fromEntries(entries) as Record<string, string>;

const req = (authorization?: string) =>
  ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;

function status(fn: () => unknown): number | "ok" {
  try {
    fn();
    return "ok";
  } catch (err) {
    if (err instanceof HttpError) return err.status;
    throw err;
  }
}

beforeEach(() => {
  compared.lengths.length = 0;
});

describe("credentials", () => {
  const t = new Tenancy({
    authentication: {
      basic: own([
        ["alice", "s3cret"],
        ["long", "x".repeat(1000)],
      ]),
      bearer: own([
        ["tok-1", "bob"],
        ["tok-2", "carol"],
        ["tok-3", "dave"],
      ]),
    },
  });

  it.each([
    ["right password", basic("alice", "s3cret"), "alice"],
    ["wrong password, same length", basic("alice", "s3creX"), 401],
    ["wrong password, other length", basic("alice", "s"), 401],
    ["long password", basic("long", "x".repeat(1000)), "long"],
    ["unknown user", basic("mallory", "s3cret"), 401],
    ["no colon", `Basic ${Buffer.from("alice").toString("base64")}`, 401],
    ["first token", "Bearer tok-1", "bob"],
    ["last token", "Bearer tok-3", "dave"],
    ["unknown token", "Bearer tok-4", 401],
    ["token prefix", "Bearer tok", 401],
    ["no header", undefined, 401],
    ["other scheme", "Digest x", 401],
  ])("%s", (_what, header, want) => {
    let got: unknown;
    const s = status(() => {
      got = t.authenticate(req(header));
    });
    expect(s === "ok" ? got : s).toBe(want);
    // Every comparison is of two 32-byte digests, whatever the secrets' lengths.
    for (const [a, b] of compared.lengths) expect([a, b]).toEqual([32, 32]);
  });

  it("compares a password also for an unknown user, and every token for a bearer", () => {
    status(() => t.authenticate(req(basic("nobody", "pw"))));
    expect(compared.lengths).toHaveLength(1);
    compared.lengths.length = 0;
    t.authenticate(req("Bearer tok-1"));
    expect(compared.lengths).toHaveLength(3);
  });

  it("authenticates principals named after Object.prototype's members, and only with their passwords", () => {
    const names = own(PROTOTYPE_NAMES.map((n) => [n, `pw-${n}`]));
    const p = new Tenancy({
      authentication: { basic: names },
      namespaces: own(PROTOTYPE_NAMES.map((n) => [n, `ns-${n.toLowerCase().replace(/_/g, "")}`])),
    });
    for (const n of PROTOTYPE_NAMES) {
      expect(p.authenticate(req(basic(n, `pw-${n}`)))).toBe(n);
      expect(status(() => p.authenticate(req(basic(n, "wrong"))))).toBe(401);
      expect(p.namespaceOf(n)).toBe(`ns-${n.toLowerCase().replace(/_/g, "")}`);
    }
    // Not configured: an unknown principal, never an inherited property.
    const none = new Tenancy({ authentication: { basic: own([["alice", "pw"]]) } });
    for (const n of PROTOTYPE_NAMES) expect(status(() => none.authenticate(req(basic(n, ""))))).toBe(401);
  });
});

describe("namespaces", () => {
  it("refuses unconfigured principals named like Object.prototype's members (403), or gives the default", () => {
    const t = new Tenancy({ namespaces: own([["spark", "team-a"]]) });
    expect(t.namespaceOf("spark")).toBe("team-a");
    for (const n of PROTOTYPE_NAMES) expect(status(() => t.namespaceOf(n))).toBe(403);
    const d = new Tenancy({ namespaces: own([["spark", "team-a"]]), defaultNamespace: "shared" });
    for (const n of PROTOTYPE_NAMES) expect(d.namespaceOf(n)).toBe("shared");
    expect(d.visibleNamespaces(undefined)).toEqual(["team-a", "shared"]);
  });
});

describe("serving without credentials must be asked for", () => {
  it.each([
    [undefined, undefined, /mesos.allowUnauthenticated: true/],
    [{}, false, /mesos.allowUnauthenticated: true/],
    [{ basic: {}, bearer: {} }, undefined, /no credentials are configured/],
    [undefined, true, undefined],
    [{ basic: own([["a", "b"]]) }, undefined, undefined],
    [{ bearer: own([["t", "p"]]) }, false, undefined],
    [{ basic: own([["a", "b"]]) }, true, /contradicts mesos.authentication/],
  ])("authentication %j, allowUnauthenticated %j", (auth, allow, want) => {
    const got = credentialsCheck(auth, allow);
    if (want) expect(got).toMatch(want);
    else expect(got).toBeUndefined();
    expect(hasCredentials(auth)).toBe(
      auth !== undefined && Object.values(auth).some((r) => Object.keys(r).length),
    );
  });

  it("does not authenticate when there are no credentials (unauthenticated mode)", () => {
    const t = new Tenancy({});
    expect(t.authenticating).toBe(false);
    expect(t.authenticate(req())).toBeUndefined();
    expect(compared.lengths).toHaveLength(0);
  });
});
