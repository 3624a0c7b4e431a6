import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "./binaries.ts";
import { BUNDLES, buildBundles } from "./bundle.ts";

const execFileP = promisify(execFile);
const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "bundles-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the image's bundles", () => {
  it("are the same bytes from the same sources, and name no path of the machine that built them", async () => {
    const [a, b] = [await buildBundles(fresh()), await buildBundles(fresh())];
    for (const name of Object.keys(BUNDLES) as (keyof typeof BUNDLES)[]) {
      const bytes = readFileSync(a[name]);
      expect(bytes.equals(readFileSync(b[name])), name).toBe(true);
      expect(bytes.includes(repoRoot), name).toBe(false);
    }
  }, 60_000);

  it("run on their own, with nothing beside them: the controller's help, the agent's refusal without NODE_NAME", async () => {
    const built = await buildBundles(fresh());
    // cwd is a directory with no node_modules: a bundle that still imports a package fails here.
    const cwd = fresh();
    const help = await execFileP(process.execPath, [built.controller, "--help"], { cwd });
    expect(help.stdout).toMatch(/^kube-offers controller\n/);
    const { NODE_NAME: _, ...env } = process.env;
    const agent = await execFileP(process.execPath, [built.agent], { cwd, env }).then(
      () => ({ code: 0, stdout: "" }),
      (err: { code: number; stdout: string }) => err,
    );
    expect(agent.code).toBe(2);
    expect(agent.stdout).toContain("NODE_NAME is not set");
  }, 60_000);
});
