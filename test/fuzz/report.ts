// Global setup of the fuzz project: a fresh directory for this run's rows (support.ts Tally.save,
// unit and e2e files alike) and, when the run ends, the one table over all of them.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatTable, type Row } from "./support.ts";

let dir: string | undefined;

export function setup(): void {
  dir = mkdtempSync(join(tmpdir(), "kube-offers-fuzz-"));
  // Test workers start after global setup and inherit the environment.
  process.env.KUBE_OFFERS_FUZZ_DIR = dir;
}

export function teardown(): void {
  if (!dir) return;
  const rows = readdirSync(dir)
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir as string, f), "utf8")) as Row);
  rmSync(dir, { recursive: true, force: true });
  if (rows.length) console.log(`\nGenerated bad input: every surface of this run\n${formatTable(rows)}\n`);
}
