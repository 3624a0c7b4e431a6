// Generators shared by the fuzz suites: valid values near their limits, hostile strings
// (prototype keys, unicode, huge and negative numbers, NaN-like text), wrong types and deep
// nesting, and a mutation that replaces one node of a valid object. Every suite mixes these
// into a valid base, so most cases are almost right: the ones that find bugs.
import fc from "fast-check";

/** Keys that name Object.prototype members: a map indexed with them reads the prototype. */
export const PROTO_KEYS = [
  "__proto__",
  "constructor",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
] as const;

export const HOSTILE_STRINGS = [
  "",
  " ",
  "\u0000",
  "\n",
  "NaN",
  "Infinity",
  "-Infinity",
  "-1",
  "-0",
  "+5",
  "1e309",
  "-1e309",
  "1e-400",
  "1e64",
  "1e65",
  "0x10",
  "1_000",
  "1,5",
  "1.2.3",
  "５",
  "٣",
  "💥",
  "e\u0301",
  "\u202eevil",
  "null",
  "undefined",
  "true",
  "[]",
  "{}",
  "9007199254740993",
  "99999999999999999999999999999999",
  "8Ei",
  "16Ei",
  ...PROTO_KEYS,
  "a".repeat(63),
  "a".repeat(64),
  "a".repeat(253),
  "a".repeat(254),
  "9".repeat(400),
  `1${"0".repeat(4096)}`,
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    0.5,
    1e-7,
    65535,
    65536,
    2 ** 31,
    2 ** 53 - 1,
    2 ** 53,
    2 ** 64,
    1e21,
    1e300,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
  ),
  fc.integer(),
  fc.double(),
);

/** An object (or array) nested `depth` levels deep. */
export function nested(depth: number, leaf: unknown = "leaf"): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

export const deep: fc.Arbitrary<unknown> = fc.integer({ min: 16, max: 3000 }).map((d) => nested(d));

/** A value of any JSON type (or a deep one): what a schema-less field may hold. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  hostileNumber,
  hostileString,
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.oneof(hostileString, fc.constantFrom(...PROTO_KEYS)), fc.jsonValue({ maxDepth: 2 }), {
    maxKeys: 3,
  }),
  deep,
);

const DIGIT = fc.constantFrom(..."0123456789");
const ALNUM = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789");
const ALNUM_DASH = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-");

/** A lowercase RFC 1123 word of 1..max characters (dashes inside only); fc.stringMatching is slow. */
export function word(max: number, letterFirst: boolean): fc.Arbitrary<string> {
  return fc
    .tuple(
      letterFirst ? fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz") : ALNUM,
      fc.string({ unit: ALNUM_DASH, maxLength: max - 2 }),
      ALNUM,
    )
    .map(([a, mid, z]) => (mid ? `${a}${mid}${z}` : a));
}

/** A DNS label (RFC 1123), 1..63 characters. */
export const dnsLabel: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: word(11, true) },
  { weight: 1, arbitrary: fc.constantFrom("a".repeat(63), `x${"-".repeat(61)}y`, "0") },
);

/** A DNS subdomain (node names), up to 253 characters. */
export const dnsSubdomain: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(word(9, true), fc.array(word(8, false), { maxLength: 3 }))
      .map(([h, t]) => [h, ...t].join(".")),
  },
  {
    weight: 1,
    arbitrary: fc.constant(`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`),
  },
);

const SUFFIXES = ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u"];
const EXPONENTS = ["e3", "E-3", "e+2", "e0", "e64", "e-64", "E18"];

/** A syntactically valid quantity: digits, optional fraction, suffix or exponent. */
export const validQuantity: fc.Arbitrary<string> = fc
  .tuple(
    fc.string({ unit: DIGIT, minLength: 1, maxLength: 18 }),
    fc.option(fc.string({ unit: DIGIT, maxLength: 12 }), { nil: undefined }),
    fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...SUFFIXES) },
      { weight: 1, arbitrary: fc.constantFrom(...EXPONENTS) },
    ),
    fc.constantFrom("", "", "", "+"),
  )
  .map(([whole, frac, suffix, sign]) => `${sign}${whole}${frac === undefined ? "" : `.${frac}`}${suffix}`);

/** A small valid quantity for `name` (what tasks ask of an offer). */
export function smallQuantity(name: string): fc.Arbitrary<string | number> {
  if (name === "cpu")
    return fc.oneof(
      fc.integer({ min: 0, max: 4000 }).map((m) => `${m}m`),
      fc.constantFrom("1", "0.5", 2),
    );
  if (name === "memory" || name === "ephemeral-storage")
    return fc.oneof(
      fc.integer({ min: 0, max: 4096 }).map((m) => `${m}Mi`),
      fc.constantFrom("1Gi", "1e9", 1048576),
    );
  return fc.integer({ min: 0, max: 4 });
}

/** Any quantity-ish value: valid, near a limit, negative, hostile text, or the wrong type. */
export const quantityValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: validQuantity },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: validQuantity.map((q) => `-${q}`) },
  { weight: 1, arbitrary: hostileNumber },
  { weight: 1, arbitrary: wrongType },
);

/** Resource names: the usual ones, extended ones, prototype keys, hostile text, names at their length limits. */
export const resourceName: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "cpu",
      "memory",
      "ephemeral-storage",
      "nvidia.com/gpu",
      "example.com/foo",
      "hugepages-2Mi",
      "pods",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...PROTO_KEYS, "example.com/constructor", "example.com/__proto__"),
  },
  { weight: 1, arbitrary: hostileString },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `${"d".repeat(253)}/${"n".repeat(63)}`,
      `${"d".repeat(254)}/x`,
      "n".repeat(64),
    ),
  },
);

/** Paths to every node of a JSON value (not the root). */
function paths(
  v: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
  limit = 400,
): (string | number)[][] {
  if (out.length >= limit || v === null || typeof v !== "object") return out;
  const entries: [string | number, unknown][] = Array.isArray(v)
    ? v.map((x, i) => [i, x])
    : Object.entries(v as Record<string, unknown>);
  for (const [k, x] of entries) {
    const p = [...prefix, k];
    out.push(p);
    paths(x, p, out, limit);
  }
  return out;
}

/**
 * `v` with the node at (index mod number of nodes) replaced — by `replacement`, or by what it
 * returns for the old value when it is a function — or deleted when it is DELETE. Copies only
 * the containers on the way (never a deep subtree: thousands of levels would overflow a clone).
 */
export const DELETE = Symbol("delete");
export function replaceNode(
  v: unknown,
  index: number,
  replacement: unknown,
  within?: (p: (string | number)[]) => boolean,
): unknown {
  const all = paths(v).filter((p) => (within ? within(p) : true));
  if (all.length === 0) return v;
  return setAt(v, all[index % all.length] as (string | number)[], replacement);
}

function setAt(v: unknown, path: (string | number)[], replacement: unknown): unknown {
  const [k, ...rest] = path as [string | number, ...(string | number)[]];
  const copy: Record<string | number, unknown> = Array.isArray(v)
    ? [...v]
    : // Descriptors keep an own "__proto__" key an own key.
      Object.defineProperties({}, Object.getOwnPropertyDescriptors(v as object));
  const old = copy[k];
  if (rest.length > 0) {
    define(copy, k, setAt(old, rest, replacement));
  } else if (replacement === DELETE) {
    if (Array.isArray(copy)) copy.splice(Number(k), 1);
    else delete copy[k];
  } else {
    define(
      copy,
      k,
      typeof replacement === "function" ? (replacement as (o: unknown) => unknown)(old) : replacement,
    );
  }
  return copy;
}

function define(o: Record<string | number, unknown>, k: string | number, value: unknown): void {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
}

/** Up to `n` mutations of one base value: each replaces or deletes one node (restricted by `within`). */
export function mutated<T>(
  base: fc.Arbitrary<T>,
  replacement: fc.Arbitrary<unknown>,
  opts: { max?: number; within?: (p: (string | number)[]) => boolean } = {},
): fc.Arbitrary<unknown> {
  const edit = fc.tuple(
    fc.nat(),
    fc.oneof({ weight: 5, arbitrary: replacement }, { weight: 1, arbitrary: fc.constant(DELETE) }),
  );
  return fc
    .tuple(base, fc.array(edit, { minLength: 1, maxLength: opts.max ?? 2 }))
    .map(([b, edits]) => edits.reduce<unknown>((v, [i, r]) => replaceNode(v, i, r, opts.within), b));
}

/** A JSON object key that names a prototype member, set as an own property (as JSON.parse does). */
export function withOwnKey<T extends object>(obj: T, key: string, value: unknown): T {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

/** A replacement of the same JSON type as the node it replaces (what a typed schema field can hold): hostile, but well-typed. */
export const sameType: fc.Arbitrary<(old: unknown) => unknown> = fc
  .tuple(hostileString, hostileNumber, fc.boolean())
  .map(
    ([str, num, bool]) =>
      (old: unknown) =>
        typeof old === "string"
          ? str
          : typeof old === "number"
            ? Number.isFinite(num)
              ? num
              : -1
            : typeof old === "boolean"
              ? bool
              : old,
  );
