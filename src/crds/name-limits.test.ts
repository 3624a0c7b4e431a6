// Every object name and label value the operator builds fits Kubernetes' limits, for any valid
// input up to its own limit: node names as managed clouds make them and at the 253-character
// subdomain limit, framework and namespace names at 63, roles at 253, task ids at 63. The
// validity checks below are Kubernetes' own rules (apimachinery's validation), written out
// independently of src/crds/names.ts so the two cannot drift together.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  agentLabelValue,
  agentLeaseName,
  eventNamePrefix,
  fitName,
  MAX_LABEL_VALUE,
  MAX_SUBDOMAIN,
  offerName,
  roleLabelValue,
  schedulerLeaseName,
  taskPodName,
} from "./contract.ts";
import { DnsLabelSchema, DnsSubdomainSchema, isRoleName, LabelValueSchema, RoleNameSchema } from "./names.ts";
import { TaskIdSchema } from "./offer.ts";

// ---- Kubernetes' rules (k8s.io/apimachinery/pkg/util/validation) ----

const isDnsLabel = (s: string) => s.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s);
const isSubdomain = (s: string) =>
  s.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(s);
const isLabelValue = (s: string) => s.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(s);

// ---- inputs ----

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789".split("");
const alnum = fc.constantFrom(...ALNUM);
const inner = fc.constantFrom(...ALNUM, "-", "-", "-");

/** A DNS label of 1..max characters, biased towards the limit. */
const dnsLabel = (max = 63): fc.Arbitrary<string> =>
  fc.oneof(
    alnum,
    fc
      .tuple(alnum, fc.array(inner, { minLength: 0, maxLength: max - 2 }), alnum)
      .map(([a, mid, z]) => a + mid.join("") + z),
    fc
      .tuple(alnum, fc.array(inner, { minLength: max - 2, maxLength: max - 2 }), alnum)
      .map(([a, mid, z]) => a + mid.join("") + z),
  );

/** Labels joined by `sep`, cut back to `max` characters and to a valid end. */
const joined = (sep: string, max: number): fc.Arbitrary<string> =>
  fc.array(dnsLabel(), { minLength: 1, maxLength: 8 }).map((parts) => {
    let s = parts.join(sep);
    if (s.length > max) s = s.slice(0, max);
    return s.replace(/[^a-z0-9]+$/, "") || "a";
  });

/** Node names: cloud shapes, names at the 253 limit, any subdomain. */
const CLOUD_NODES = [
  "ip-10-100-201-17.ap-southeast-2.compute.internal",
  `gke-${"c".repeat(20)}-${"p".repeat(20)}-1a2b3c4d-x9z8`.slice(0, 63),
  "aks-nodepool1-12345678-vmss000000",
  `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`,
  `n${"-".repeat(251)}1`,
  "x".repeat(253),
];
const nodeName = fc.oneof(fc.constantFrom(...CLOUD_NODES), joined(".", 253));
const frameworkName = dnsLabel(63);
const taskId = dnsLabel(63);
const role = fc.oneof(fc.constant("*"), joined("/", 253));

describe("the inputs are what the schemas admit", () => {
  it("nodes, roles, task ids and framework names at their limits", () => {
    fc.assert(
      fc.property(nodeName, role, taskId, frameworkName, (n, r, t, f) => {
        expect(DnsSubdomainSchema.safeParse(n).success, n).toBe(true);
        expect(RoleNameSchema.safeParse(r).success && isRoleName(r), r).toBe(true);
        expect(TaskIdSchema.safeParse(t).success, t).toBe(true);
        expect(DnsLabelSchema.safeParse(f).success, f).toBe(true);
      }),
      { numRuns: 300 },
    );
    for (const n of CLOUD_NODES) expect(isSubdomain(n), n).toBe(true);
  });
});

describe("every built name fits Kubernetes' limits", () => {
  it("task Pod names are subdomains, and <framework>-<task id> whole", () => {
    fc.assert(
      fc.property(frameworkName, taskId, (f, t) => {
        const name = taskPodName(f, t);
        expect(isSubdomain(name), name).toBe(true);
        expect(DnsSubdomainSchema.safeParse(name).success, name).toBe(true);
        expect(name).toBe(`${f}-${t}`);
      }),
      { numRuns: 500 },
    );
    const longest = taskPodName("f".repeat(63), "t".repeat(63));
    expect(longest.length).toBe(127);
    expect(isSubdomain(longest)).toBe(true);
  });

  it("role label values are valid label values, distinct per role, and whole when short", () => {
    fc.assert(
      fc.property(role, role, (a, b) => {
        const va = roleLabelValue(a);
        expect(isLabelValue(va), va).toBe(true);
        expect(LabelValueSchema.safeParse(va).success, va).toBe(true);
        if (a !== b) expect(va).not.toBe(roleLabelValue(b));
        if (a !== "*" && a.length <= MAX_LABEL_VALUE) expect(va).toBe(a.replaceAll("/", "."));
      }),
      { numRuns: 500 },
    );
  });

  it("agent label values are valid label values, distinct per node, and whole when short", () => {
    fc.assert(
      fc.property(nodeName, nodeName, (a, b) => {
        const va = agentLabelValue(a);
        expect(isLabelValue(va), va).toBe(true);
        if (a !== b) expect(va).not.toBe(agentLabelValue(b));
        if (a.length <= MAX_LABEL_VALUE) expect(va).toBe(a);
      }),
      { numRuns: 500 },
    );
  });

  it("agent Lease names are subdomains starting agent-, distinct per node", () => {
    fc.assert(
      fc.property(nodeName, nodeName, (a, b) => {
        const name = agentLeaseName(a);
        expect(isSubdomain(name), name).toBe(true);
        expect(name.startsWith("agent-")).toBe(true);
        if (a !== b) expect(name).not.toBe(agentLeaseName(b));
      }),
      { numRuns: 500 },
    );
    expect(agentLeaseName("x".repeat(253)).length).toBe(MAX_SUBDOMAIN);
  });

  it("scheduler Lease names are subdomains", () => {
    fc.assert(
      fc.property(frameworkName, (f) => {
        expect(isSubdomain(schedulerLeaseName(f))).toBe(true);
      }),
    );
  });

  it("offer names are DNS labels (and label values) of at most 63, for any framework and node", () => {
    fc.assert(
      fc.property(frameworkName, nodeName, (f, n) => {
        const name = offerName(f, n);
        expect(isDnsLabel(name), name).toBe(true);
        expect(isLabelValue(name), name).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("Event names generated from any object name are subdomains", () => {
    const generated = fc.tuple(
      fc.oneof(
        nodeName,
        frameworkName,
        fc.tuple(frameworkName, taskId).map(([f, t]) => taskPodName(f, t)),
      ),
      fc.array(alnum, { minLength: 5, maxLength: 5 }),
    );
    fc.assert(
      fc.property(generated, ([name, random]) => {
        // What the API server does with generateName: append five random characters.
        const full = eventNamePrefix(name) + random.join("");
        expect(isSubdomain(full), full).toBe(true);
      }),
      { numRuns: 500 },
    );
    // The old prefix (a 200-character slice) ended in "." for this node: "<...>.-xxxxx" is refused.
    const dotAt200 = `${"a".repeat(199)}.${"b".repeat(53)}`;
    expect(isSubdomain(`${eventNamePrefix(dotAt200)}abcde`)).toBe(true);
  });
});

describe("fitName", () => {
  const cases: [string, number, string][] = [
    ["short", 63, "short"],
    ["a".repeat(63), 63, "a".repeat(63)],
    ["eng.frontend", 63, "eng.frontend"],
  ];
  it.each(cases)("keeps %s whole within %i", (value, max, want) => {
    expect(fitName(value, max)).toBe(want);
  });

  it("cuts at the limit, back to a letter or digit, then adds a stable hash", () => {
    const v = `${"a".repeat(53)}.-.${"b".repeat(20)}`;
    const fitted = fitName(v, 63);
    expect(fitted).toMatch(/^a{53}-[0-9a-f]{8}$/);
    expect(fitName(v, 63)).toBe(fitted);
    expect(fitName(`${v}c`, 63)).not.toBe(fitted);
  });

  it("is at most max characters and valid wherever the value was", () => {
    const value = fc.oneof(nodeName, joined(".", 253), joined("_", 200), joined("-", 253));
    fc.assert(
      fc.property(value, fc.integer({ min: 9, max: 253 }), (v, max) => {
        const f = fitName(v, max);
        expect(f.length).toBeLessThanOrEqual(max);
        if (isSubdomain(v)) expect(isSubdomain(f), f).toBe(true);
        if (isDnsLabel(v) || (isSubdomain(v) && !v.includes("."))) expect(/^[a-z0-9-]+$/.test(f)).toBe(true);
        if (/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v) && max <= 63)
          expect(isLabelValue(f), f).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
