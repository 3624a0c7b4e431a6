// Runs README's kubectl walk-through verbatim against the default (unlabelled) pool, so the
// README stays true: the same commands a user types after `npm start`.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { parse, stringify } from "yaml";
import { repoRoot } from "../../src/local/binaries.ts";
import { Pool } from "./pool.ts";

let pool: Pool;
beforeAll(async () => {
  pool = await Pool.start("readme", { scoped: false, nodes: 3 });
});
afterAll(async () => pool?.stop());

function walkthrough(): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const m = readme.match(/<!-- walkthrough -->\s*```bash\n([\s\S]*?)```\s*<!-- \/walkthrough -->/);
  if (!m?.[1]) throw new Error("README.md has no walkthrough block");
  return m[1];
}

it("README's kubectl walk-through works as written", async () => {
  // The user's kubeconfig, with the test's namespace as the current one.
  const kc = parse(readFileSync(inject("kubeconfig"), "utf8")) as {
    contexts: { context: Record<string, string> }[];
  };
  for (const c of kc.contexts) c.context.namespace = pool.namespace;
  const kubeconfig = join(inject("stateDir"), `readme-${pool.name}.kubeconfig`);
  writeFileSync(kubeconfig, stringify(kc));
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      "bash",
      ["-euo", "pipefail", "-c", walkthrough()],
      {
        env: { ...process.env, KUBECONFIG: kubeconfig, PATH: `${inject("binDir")}:${process.env.PATH}` },
        timeout: 180_000,
      },
      (err, stdout, stderr) =>
        err ? reject(new Error(`walkthrough failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    );
  });
  expect(out).toContain("resourceoffer.kubeoffers.io/");
  expect(out).toMatch(/hello-greet\s+\S+\s+\S+/);
  expect(out).toContain("condition met");
  expect(out).toContain('framework.kubeoffers.io "hello" deleted');
});
