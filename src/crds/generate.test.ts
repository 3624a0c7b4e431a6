import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CRD_DIR, renderCrds } from "./generate.ts";

const STALE = "config/crd is out of date with src/crds: run `npm run gen:crds` and commit the result";

describe("config/crd", () => {
  const rendered = renderCrds();

  it("holds exactly the generated files", () => {
    const onDisk = readdirSync(CRD_DIR).filter((f) => f.endsWith(".kubeoffers.io.yaml"));
    expect(onDisk.sort(), STALE).toEqual([...rendered.keys()].sort());
  });

  for (const [name, text] of rendered) {
    it(`${name} matches the schemas`, () => {
      const onDisk = readFileSync(join(CRD_DIR, name), "utf8");
      expect(onDisk === text, `${name}: ${STALE}`).toBe(true);
    });
  }

  it("renders one CRD per kind with the fixed names", () => {
    const names = [...rendered.values()].map((t) => parse(t).metadata.name);
    expect(names).toEqual([
      "agents.kubeoffers.io",
      "frameworks.kubeoffers.io",
      "resourceoffers.kubeoffers.io",
      "resourceroles.kubeoffers.io",
    ]);
  });
});
