// The layer rule of docs/architecture.md, held against the code: every import in src/ and
// examples/ (tests aside) goes to its own layer or one its row allows. The rule is read from the
// page's table, so the picture and the test cannot drift apart.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../src/local/binaries.ts";

type Rules = Map<string, Set<string>>;

/** The `may import` table between the `<!-- layers -->` markers. */
function readRules(markdown: string): Rules {
  const block = /<!-- layers -->([\s\S]*?)<!-- \/layers -->/.exec(markdown)?.[1];
  if (!block) throw new Error("docs/architecture.md has no <!-- layers --> table");
  const rules: Rules = new Map();
  for (const line of block.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const layer = /^`(?:src\/)?([a-z-]+)`$/.exec(cells[1] ?? "")?.[1];
    if (!layer) continue;
    const allowed = (cells[3] ?? "")
      .split(",")
      .map((c) => c.trim())
      .filter((c) => c && c !== "—");
    rules.set(layer, new Set(allowed));
  }
  return rules;
}

/** The layer a repository path belongs to: `src/<layer>/…` or `examples/…`; undefined otherwise. */
function layerOf(path: string): string | undefined {
  const parts = path.split("/");
  if (parts[0] === "examples") return "examples";
  if (parts[0] === "src" && parts.length > 2) return parts[1];
  return undefined;
}

/** Programs compose layers: `main` files and the demo CLI may import any of them. */
function isProgram(path: string): boolean {
  return /^src\/cli\//.test(path) || /^src\/[a-z-]+\/(main|[a-z-]+-main)\.ts$/.test(path);
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(repoRoot, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (e.name !== "testdata" && e.name !== "node_modules") out.push(...sources(p));
    } else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

/** Module specifiers of static and dynamic imports and re-exports. */
function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g))
    specs.push(m[1] ?? "");
  for (const m of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) specs.push(m[1] ?? "");
  return specs;
}

interface Violation {
  from: string;
  to: string;
  why: string;
}

/** Checks one file's imports; the package's own name (`kube-offers/sdk`) counts as src/sdk. */
function check(rules: Rules, file: string, specs: string[]): Violation[] {
  const from = layerOf(file);
  if (!from || isProgram(file)) return [];
  const allowed = rules.get(from);
  if (!allowed) return [{ from: file, to: "", why: `layer ${from} is not in docs/architecture.md's table` }];
  const out: Violation[] = [];
  for (const spec of specs) {
    let target: string | undefined;
    if (spec === "kube-offers/sdk") target = "src/sdk/index.ts";
    else if (spec.startsWith(".")) target = relative(repoRoot, resolve(repoRoot, dirname(file), spec));
    else continue; // a package
    const to = layerOf(target);
    if (!to) {
      out.push({ from: file, to: target, why: "imports a file outside any layer" });
      continue;
    }
    if (from === "examples" && spec.startsWith(".") && to !== "examples")
      out.push({
        from: file,
        to: target,
        why: "examples use the public SDK (`kube-offers/sdk`), not the sources",
      });
    else if (to !== from && !allowed.has(to))
      out.push({
        from: file,
        to: target,
        why: `${from} may import ${[...allowed].join(", ") || "nothing"}, not ${to}`,
      });
  }
  return out;
}

const rules = readRules(readFileSync(join(repoRoot, "docs/architecture.md"), "utf8"));

describe("the layers", () => {
  it("every source file's imports follow docs/architecture.md", () => {
    const files = [...sources("src"), ...sources("examples")];
    expect(files.length).toBeGreaterThan(50);
    const violations = files.flatMap((f) =>
      check(rules, f, importsOf(readFileSync(join(repoRoot, f), "utf8"))),
    );
    expect(violations.map((v) => `${v.from} → ${v.to}: ${v.why}`)).toEqual([]);
  });

  it("every layer in src/ is in the table", () => {
    const layers = readdirSync(join(repoRoot, "src"), { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== "cli")
      .map((e) => e.name);
    for (const l of layers) expect(rules.has(l), `src/${l}`).toBe(true);
  });
});

describe("the check itself", () => {
  it("finds imports that run up, across, or around the SDK", () => {
    expect(check(rules, "src/sdk/client.ts", ["../controller/names.ts"])).toHaveLength(1);
    expect(check(rules, "src/mesos/index.ts", ["../controller/config.ts"])).toHaveLength(1);
    expect(check(rules, "src/kube/crds.ts", ["../local/binaries.ts"])).toHaveLength(1);
    expect(check(rules, "src/resources/ports.ts", ["../crds/contract.ts"])).toHaveLength(1);
    expect(check(rules, "examples/batch/batch.ts", ["../../src/sdk/index.ts"])).toHaveLength(1);
    expect(
      check(rules, "src/allocator/cycle.ts", ["../resources/index.ts", "./heap.ts", "node:crypto"]),
    ).toEqual([]);
    expect(check(rules, "examples/batch/batch.ts", ["kube-offers/sdk", "../lib/runtime.ts"])).toEqual([]);
    // Programs compose layers.
    expect(check(rules, "src/controller/main.ts", ["../mesos/index.ts"])).toEqual([]);
    expect(check(rules, "src/controller/operator.ts", ["../mesos/index.ts"])).toHaveLength(1);
  });

  it("reads dynamic imports and re-exports", () => {
    expect(importsOf('export * from "../a.ts";\nconst m = await import("../b.ts");')).toEqual([
      "../a.ts",
      "../b.ts",
    ]);
  });
});
