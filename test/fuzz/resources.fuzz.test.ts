// Generated resource maps against the two conversions every offer and task goes through:
// Kubernetes maps <-> Resources (src/resources/resources.ts) and Kubernetes <-> Mesos resources
// (src/mesos/resources.ts). Oracle: a map is read whole (no key lost, none invented, even keys
// that name Object.prototype members) or refused with an error naming the key; arithmetic holds;
// what a Mesos framework takes of an offer fits it; a Mesos resource list converts or is refused
// naming the resource, never with an exception.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ResourceSchema } from "../../src/mesos/messages.ts";
import { fromMesosResources, toMesosResources } from "../../src/mesos/resources.ts";
import { parseQuantity, QuantityError } from "../../src/resources/quantity.ts";
import {
  add,
  contains,
  equals,
  fromResources,
  ResourceError,
  subtract,
  subtractClamped,
  toResources,
} from "../../src/resources/resources.ts";
import type { Resources } from "../../src/resources/types.ts";
import {
  hostileNumber,
  hostileString,
  PROTO_KEYS,
  quantityValue,
  resourceName,
  smallQuantity,
  withOwnKey,
  wrongType,
} from "./arbitraries.ts";
import { fuzz, type Outcome, report, show, type Tally, tallyIn } from "./support.ts";

const FILE = "test/fuzz/resources.fuzz.test.ts";
const tallies: Tally[] = [];
const tally = (surface: string) => tallyIn(tallies, surface);
/** Kubernetes name -> Mesos name (a Map: the names tried include "constructor"). */
const TO_MESOS = new Map([
  ["cpu", "cpus"],
  ["memory", "mem"],
  ["ephemeral-storage", "disk"],
  ["nvidia.com/gpu", "gpus"],
]);

const portRange = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .integer({ min: 1, max: 65535 })
      .chain((b) =>
        fc.integer({ min: b, max: Math.min(65535, b + 2000) }).map((e) => ({ begin: b, end: e })),
      ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      begin: fc.oneof(hostileNumber, wrongType),
      end: fc.oneof(hostileNumber, wrongType),
    }),
  },
  { weight: 1, arbitrary: wrongType },
);
const ports = fc.oneof(
  { weight: 5, arbitrary: fc.array(portRange, { maxLength: 6 }) },
  { weight: 1, arbitrary: wrongType },
);

/** A resource map as JSON.parse would hand it over: any key (own, even "__proto__"), any value. */
const hostileMap = fc
  .tuple(
    fc.array(fc.tuple(resourceName, quantityValue), { maxLength: 8 }),
    fc.option(ports, { nil: undefined }),
  )
  .map(([entries, p]) => {
    const m: Record<string, unknown> = {};
    for (const [k, v] of entries) withOwnKey(m, k, v);
    if (p !== undefined) m.ports = p;
    return m;
  });

/** A valid map: known and extended names (prototype-like ones too), small quantities, disjoint ports. */
const validMap = fc
  .tuple(
    fc.uniqueArray(
      fc.constantFrom(
        "cpu",
        "memory",
        "ephemeral-storage",
        "nvidia.com/gpu",
        "example.com/foo",
        ...PROTO_KEYS.slice(1),
      ),
      { maxLength: 6 },
    ),
    fc.array(fc.integer({ min: 1, max: 65535 }), { maxLength: 6 }),
  )
  .chain(([names, points]) =>
    fc.tuple(fc.tuple(...names.map((n) => smallQuantity(n))), fc.constant(names), fc.constant(points)),
  )
  .map(([values, names, points]) => {
    const m: Record<string, unknown> = {};
    for (const [i, n] of names.entries()) withOwnKey(m, n, values[i]);
    const sorted = [...new Set(points)].sort((a, b) => a - b);
    const ranges = [];
    for (let i = 0; i + 1 < sorted.length; i += 2)
      ranges.push({ begin: sorted[i] as number, end: sorted[i + 1] as number });
    if (ranges.length) m.ports = ranges;
    return m;
  });

/** The names of a map that the conversion must refuse or carry. */
function scalarKeys(m: Record<string, unknown>): string[] {
  return Object.keys(m).filter((k) => k !== "ports");
}

function checkResources(r: Resources): void {
  for (const k of Object.keys(r.scalars)) {
    const v = r.scalars[k];
    expect(Number.isSafeInteger(v) && (v as number) > 0, `scalar ${k} = ${show(v)}`).toBe(true);
  }
  for (const [i, p] of r.ports.entries()) {
    expect(
      Number.isInteger(p.begin) &&
        Number.isInteger(p.end) &&
        p.begin >= 1 &&
        p.end <= 65535 &&
        p.begin <= p.end,
    ).toBe(true);
    const prev = r.ports[i - 1];
    if (prev) expect(p.begin > prev.end + 1, "ports not merged").toBe(true);
  }
}

describe("resource conversion (generated)", () => {
  it("toResources reads a map whole or refuses it naming the key", () => {
    fuzz(tally("resources.toResources"), FILE, hostileMap, (m): Outcome => {
      let r: Resources;
      try {
        r = toResources(m as never);
      } catch (err) {
        expect(err instanceof QuantityError || err instanceof ResourceError, `threw ${String(err)}`).toBe(
          true,
        );
        const msg = (err as Error).message;
        expect(
          scalarKeys(m).some((k) => msg.includes(k)) || /\bports?\b/.test(msg),
          `error names no key of ${show(Object.keys(m))}: ${msg}`,
        ).toBe(true);
        return "rejected";
      }
      checkResources(r);
      // Nothing lost, nothing invented: every positive quantity is there, as an own property.
      for (const k of scalarKeys(m)) {
        const want = parseQuantity(k, m[k] as string);
        if (want > 0) expect(Object.hasOwn(r.scalars, k) && r.scalars[k] === want, `${k} lost`).toBe(true);
        else expect(Object.hasOwn(r.scalars, k), `zero ${k} kept`).toBe(false);
      }
      for (const k of Object.keys(r.scalars)) expect(Object.hasOwn(m, k), `${k} invented`).toBe(true);
      // Round trip through the map form the objects hold.
      expect(equals(toResources(fromResources(r) as never), r)).toBe(true);
      return "accepted";
    });
  });

  it("add, contains, subtract and subtractClamped agree per key", () => {
    fuzz(tally("resources.arithmetic"), FILE, fc.tuple(validMap, validMap), ([ma, mb]): Outcome => {
      const a = toResources(ma as never);
      const b = toResources(mb as never);
      const sum = add(a, b);
      checkResources(sum);
      for (const k of new Set([...Object.keys(a.scalars), ...Object.keys(b.scalars)])) {
        const x = Object.hasOwn(a.scalars, k) ? (a.scalars[k] as number) : 0;
        const y = Object.hasOwn(b.scalars, k) ? (b.scalars[k] as number) : 0;
        expect(sum.scalars[k], `add ${k}`).toBe(x + y);
        const d = subtractClamped(a, b);
        expect(Object.hasOwn(d.scalars, k) ? d.scalars[k] : 0, `subtractClamped ${k}`).toBe(
          Math.max(0, x - y),
        );
      }
      expect(contains(sum, a) && contains(sum, b)).toBe(true);
      expect(equals(subtract(sum, b), subtractClamped(sum, b))).toBe(true);
      if (
        !Object.keys(b.scalars).every(
          (k) => (b.scalars[k] as number) <= (Object.hasOwn(a.scalars, k) ? (a.scalars[k] as number) : 0),
        )
      )
        expect(contains(a, b), `${show(fromResources(a))} said to contain ${show(fromResources(b))}`).toBe(
          false,
        );
      return "accepted";
    });
  });

  it("an offer in Mesos form, taken whole by a framework, fits the offer", () => {
    fuzz(tally("mesos.toMesosResources"), FILE, fc.tuple(validMap, hostileString), ([m, role]): Outcome => {
      const offered = toResources(m as never);
      const list = toMesosResources(m as never, role);
      for (const x of list) {
        expect(typeof x.name === "string" && x.name.length > 0).toBe(true);
        if (x.scalar)
          expect(Number.isFinite(x.scalar.value) && x.scalar.value > 0, `${x.name} = ${x.scalar.value}`).toBe(
            true,
          );
      }
      // Every offered scalar of a Mesos unit or more is offered (cpu below 1m... rounds to 0.001).
      const names = new Set(list.map((x) => x.name));
      for (const k of Object.keys(offered.scalars)) {
        const mesos = TO_MESOS.get(k) ?? k;
        const small =
          (k === "memory" || k === "ephemeral-storage") && (offered.scalars[k] as number) < 1024 * 1024;
        if (!small) expect(names.has(mesos), `${k} missing from the Mesos offer`).toBe(true);
      }
      const back = fromMesosResources(list);
      expect(back.ok, back.ok ? "" : back.error).toBe(true);
      if (back.ok)
        expect(contains(offered, toResources(back.resources)), `took more than offered`).toBe(true);
      return "accepted";
    });
  });

  it("fromMesosResources converts any schema-valid Mesos list or refuses it naming the resource", () => {
    const scalar = fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), hostileNumber);
    const mesosResource = fc.record(
      {
        name: fc.oneof(
          fc.constantFrom("cpus", "mem", "disk", "gpus", "ports", "example.com/foo", ...PROTO_KEYS),
          hostileString,
        ),
        type: fc.constantFrom("SCALAR", "RANGES", "SET"),
        scalar: fc.record({ value: scalar }),
        ranges: fc.record({
          range: fc.array(
            fc.record({
              begin: fc.oneof(fc.integer({ min: 0, max: 70000 }), hostileNumber),
              end: fc.oneof(fc.integer({ min: 0, max: 70000 }), hostileNumber),
            }),
            { maxLength: 4 },
          ),
        }),
        disk: wrongType,
      },
      { requiredKeys: ["name"] },
    );
    fuzz(
      tally("mesos.fromMesosResources"),
      FILE,
      fc.array(mesosResource, { maxLength: 5 }),
      (raw): Outcome => {
        // What parseCall lets through: the protocol schema first.
        const list = raw.flatMap((x) => {
          const p = ResourceSchema.safeParse(x);
          return p.success ? [p.data] : [];
        });
        const out = fromMesosResources(list);
        if (!out.ok) {
          expect(
            list.some((x) => out.error.includes(x.name)) || /\bports\b/.test(out.error),
            `error names no resource: ${out.error}`,
          ).toBe(true);
          return "rejected";
        }
        const r = toResources(out.resources);
        checkResources(r);
        // Nothing lost: every positive scalar of the list is there, rounded up.
        for (const x of list) {
          const t = x.type ?? "SCALAR";
          if (t !== "SCALAR" || !x.scalar || x.scalar.value <= 0 || Math.round(x.scalar.value * 1000) === 0)
            continue;
          const k = [...TO_MESOS].find(([, m]) => m === x.name)?.[0] ?? x.name;
          expect(Object.hasOwn(r.scalars, k), `${x.name} (${x.scalar.value}) lost`).toBe(true);
        }
        return "accepted";
      },
    );
  });
});

afterAll(() => report(tallies));
