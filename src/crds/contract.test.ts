// The contract module is the only place a `kubeoffers.io` key is written down: no other source
// file in src/ spells one out, and the chart and the docs mention only keys it defines.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import * as contract from "./contract.ts";
import {
  agentLeaseName,
  MAX_OFFER_NAME,
  offerName,
  roleLabelValue,
  schedulerLeaseName,
  taskPodName,
} from "./contract.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CONTRACT = "src/crds/contract.ts";

/**
 * Files whose owners have not moved their literals to the contract yet (this change could not
 * edit them). Their literals may still spell keys out, but only keys the contract defines.
 * Remove a file once it imports the contract's constants instead; the list only ever shrinks.
 */
const PENDING = new Set<string>();

// ---- what the contract defines ----

function stringsOf(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (v && typeof v === "object") return Object.values(v).flatMap(stringsOf);
  return [];
}

const values = Object.values(contract).flatMap(stringsOf);
const inGroup = (s: string) => s.split("/")[0]?.endsWith(contract.GROUP) ?? false;
/** Full keys, e.g. kubeoffers.io/framework, mesos.kubeoffers.io/api. */
const KEYS = new Set(values.filter((s) => s.includes("/") && !s.endsWith("/") && inGroup(s)));
/** Key prefixes, e.g. acked.mesos.kubeoffers.io/. */
const PREFIXES = new Set(values.filter((s) => s.endsWith("/") && inGroup(s)));
/** kubeoffers.io and the sub-domains keys live under. */
const DOMAINS = new Set([contract.GROUP, ...[...KEYS, ...PREFIXES].map((k) => k.split("/")[0] ?? "")]);
/** CRD and kubectl resource names: frameworks.kubeoffers.io, resourceoffer.kubeoffers.io/<name>. */
const RESOURCE_DOMAINS = new Set(
  [...Object.values(contract.PLURAL), ...Object.values(contract.KIND).map((k) => k.toLowerCase())].map(
    (r) => `${r}.${contract.GROUP}`,
  ),
);

// ---- the checks ----

/** Raw string, template and regular-expression literal text in TypeScript source that names the group. */
function rawGroupLiterals(source: string, fileName = "x.ts"): { line: number; text: string }[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const out: { line: number; text: string }[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node) ||
      ts.isRegularExpressionLiteral(node)
    ) {
      const text = node.text.replaceAll("\\", "");
      if (text.includes(contract.GROUP)) {
        out.push({ line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text: node.text });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const MENTION = /(?<![A-Za-z0-9.-])((?:[a-z0-9-]+\.)*kubeoffers\.io)(\/[A-Za-z0-9._*<>-]*)?/g;

/** `kubeoffers.io` mentions in prose or YAML that the contract does not define. */
function unknownMentions(text: string): string[] {
  const bad: string[] = [];
  for (const m of text.matchAll(MENTION)) {
    const domain = m[1] ?? "";
    const path = (m[2] ?? "").replace(/\.+$/, ""); // a sentence's full stop
    if (RESOURCE_DOMAINS.has(domain)) continue; // kubectl get crd frameworks.kubeoffers.io
    if (!DOMAINS.has(domain)) {
      bad.push(m[0]);
    } else if (path === "" || path === "/") {
      // the group itself, or a sub-domain the contract's keys live under
    } else if (path.startsWith("/*") || path.startsWith("/<")) {
      // keys under a known domain or prefix: sim.kubeoffers.io/*, acked.mesos.kubeoffers.io/<task>
    } else if (`${domain}${path}` !== contract.API_VERSION && !KEYS.has(`${domain}${path}`)) {
      bad.push(`${domain}${path}`);
    }
  }
  return bad;
}

function files(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .filter(keep)
    .sort();
}

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

describe("the contract module", () => {
  it("defines the keys design.md fixes, and the group's sub-domains", () => {
    for (const k of ["framework", "task-id", "role", "offer"]) expect(KEYS).toContain(`kubeoffers.io/${k}`);
    expect(contract.API_VERSION).toBe("kubeoffers.io/v1alpha1");
    expect([...DOMAINS].sort()).toEqual([
      "acked.mesos.kubeoffers.io",
      "kubeoffers.io",
      "mesos.kubeoffers.io",
      "sim.kubeoffers.io",
    ]);
  });

  it("is the only source file in src/ that spells out a kubeoffers.io key", () => {
    const sources = files("src", (p) => p.endsWith(".ts") && !p.endsWith(".test.ts") && p !== CONTRACT);
    expect(sources.length).toBeGreaterThan(50);
    const found: string[] = [];
    const undefinedKeys: string[] = [];
    const done: string[] = [];
    for (const path of sources) {
      const literals = rawGroupLiterals(read(path), path);
      if (!PENDING.has(path)) {
        for (const { line, text } of literals) found.push(`${path}:${line}: ${JSON.stringify(text)}`);
      } else {
        if (literals.length === 0) done.push(path);
        for (const { line, text } of literals)
          for (const k of unknownMentions(text)) undefinedKeys.push(`${path}:${line}: ${k}`);
      }
    }
    expect(found, "use the constants of src/crds/contract.ts instead").toEqual([]);
    expect(undefinedKeys, "define these in src/crds/contract.ts").toEqual([]);
    expect(done, "these spell out no keys any more: remove them from PENDING").toEqual([]);
  }, 30_000); // reads every source file: seconds on a loaded machine

  it("defines every key the Helm chart and the docs mention", () => {
    const docs = [
      "README.md",
      ...files("docs", (p) => p.endsWith(".md")),
      ...files("src", (p) => p.endsWith("README.md")),
      ...files("deploy/helm/kube-offers", (p) => /\.(yaml|tpl|txt|json)$/.test(p)),
    ];
    expect(docs).toContain("deploy/helm/kube-offers/templates/controller-rbac.yaml");
    expect(docs).toContain("docs/design.md");
    const unknown = docs.flatMap((path) => unknownMentions(read(path)).map((k) => `${path}: ${k}`));
    expect(unknown, "define these in src/crds/contract.ts, or fix the text").toEqual([]);
  });
});

describe("taskPodName", () => {
  it("is <framework>-<task id>", () => {
    expect(taskPodName("analytics", "task-0001")).toBe("analytics-task-0001");
  });
});

describe("the other name builders", () => {
  it("derive label values, offer and Lease names", () => {
    expect([roleLabelValue("*"), roleLabelValue("eng/frontend")]).toEqual(["", "eng.frontend"]);
    expect(offerName("fw", "node.a")).toMatch(/^fw-node-a-[0-9a-f]{5}$/);
    const long = offerName("fw", `${"n".repeat(120)}.x`);
    expect(long).toMatch(/^fw-n+-[0-9a-f]{8}-[0-9a-f]{5}$/);
    expect(long.length).toBeLessThanOrEqual(MAX_OFFER_NAME);
    expect(agentLeaseName("node-1")).toBe("agent-node-1");
    expect(schedulerLeaseName("analytics")).toBe("analytics-scheduler");
  });

  it("offer name suffixes stay random past a refill of their pool of random bytes", () => {
    // 3,000 names draw over two refills (1,365 suffixes a pool); 20 bits make about four
    // collisions among them, a pool reused without a refill would repeat 1,635.
    const suffixes = Array.from({ length: 3000 }, () => offerName("fw", "n").slice("fw-n-".length));
    for (const s of suffixes) expect(s).toMatch(/^[0-9a-f]{5}$/);
    expect(new Set(suffixes).size).toBeGreaterThan(2950);
  });
});

describe("offer names fit real clusters", () => {
  // Node names as managed clouds make them, and names at their length limits.
  const nodes = [
    "ip-10-100-201-17.ap-southeast-2.compute.internal",
    "gke-prod-cluster-default-pool-1a2b3c4d-x9z8",
    "aks-nodepool1-12345678-vmss000000",
    `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`,
    "n",
  ];
  const frameworks = ["f", "real-mesos-9982f19b", "x".repeat(63), `team-${"y".repeat(58)}`];
  it("are valid label values of at most 63 characters, distinct per framework and agent", () => {
    const seen = new Map<string, string>();
    for (const fw of frameworks)
      for (const node of nodes) {
        const name = offerName(fw, node);
        expect(name.length, name).toBeLessThanOrEqual(MAX_OFFER_NAME);
        expect(name, name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        // Without the random suffix, the name is a function of the pair, and pairs don't collide.
        const stem = name.slice(0, -6);
        expect(seen.get(stem) ?? `${fw}/${node}`).toBe(`${fw}/${node}`);
        seen.set(stem, `${fw}/${node}`);
      }
  });
  it("keep short names whole", () => {
    expect(offerName("batch", "ip-10-0-1-2.ec2.internal")).toMatch(
      /^batch-ip-10-0-1-2-ec2-internal-[0-9a-f]{5}$/,
    );
  });
});

describe("the checks themselves", () => {
  it("find raw literals, not comments or keys built from the contract's constants", () => {
    const src = [
      'const a = "kubeoffers.io/x"; // kubeoffers.io/comment',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source as input
      "const b = `${GROUP}/x`;",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source as input
      "const c = `sim.kubeoffers.io/${k}`;",
      "const d = /mesos\\.kubeoffers\\.io/;",
      "/** kubeoffers.io/doc */ const e = { [LABEL_POOL]: 'p' };",
    ].join("\n");
    expect(rawGroupLiterals(src).map((l) => [l.line, l.text])).toEqual([
      [1, "kubeoffers.io/x"],
      [3, "sim.kubeoffers.io/"],
      [4, "/mesos\\.kubeoffers\\.io/"],
    ]);
  });

  it("accept defined keys, prefixes, the group and resource names; reject made-up ones", () => {
    const ok = [
      "`kubeoffers.io/pool=p1` and kubeoffers.io/framework: a.",
      "apiVersion: kubeoffers.io/v1alpha1, apiGroups: [kubeoffers.io]",
      "sim.kubeoffers.io/* and acked.mesos.kubeoffers.io/<task>, mesos.kubeoffers.io/api",
      "kubectl get crd frameworks.kubeoffers.io; resourceoffer.kubeoffers.io/hello created",
    ];
    for (const text of ok) expect(unknownMentions(text), text).toEqual([]);
    expect(unknownMentions("label `kubeoffers.io/made-up` and kubeoffers.io/pool")).toEqual([
      "kubeoffers.io/made-up",
    ]);
    expect(unknownMentions("sim.kubeoffers.io/made-up")).toEqual(["sim.kubeoffers.io/made-up"]);
    expect(unknownMentions("examples.kubeoffers.io/x and nope.kubeoffers.io/*")).toEqual([
      "examples.kubeoffers.io/x",
      "nope.kubeoffers.io/*",
    ]);
  });
});
