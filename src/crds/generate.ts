// Writes config/crd/<plural>.kubeoffers.io.yaml from the zod schemas: `npm run gen:crds`.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { GROUP } from "./contract.ts";
import { buildCrds } from "./crds.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const CRD_DIR = resolve(HERE, "../../config/crd");

const HEADER = "# Generated from src/crds by `npm run gen:crds`. Do not edit.\n";

/** File name -> YAML text for every CRD. */
export function renderCrds(): Map<string, string> {
  const files = new Map<string, string>();
  for (const crd of buildCrds()) {
    files.set(
      `${crd.metadata.name}.yaml`,
      HEADER + stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false }),
    );
  }
  return files;
}

/** Replaces the generated YAML in `dir` (stale files of removed kinds are deleted). */
export function writeCrds(dir = CRD_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const files = renderCrds();
  for (const name of readdirSync(dir)) {
    if (name.endsWith(`.${GROUP}.yaml`) && !files.has(name)) rmSync(join(dir, name));
  }
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  return [...files.keys()];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const name of writeCrds()) console.log(`wrote config/crd/${name}`);
}
