// The controller and the agent as the kube-offers image runs them: each one ES module (esbuild),
// holding only what its process imports. Measured on Node 24 after import, before any work: the
// controller's module graph loaded as sources (type-stripped src/, ~1,300 files of node_modules)
// is 170 MiB RSS, 43 MiB of heap; bundled, 117 MiB and 17 MiB — on every agent of every node too.
// Not minified: stack traces keep their names and lines a reader can find.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { repoRoot } from "./binaries.ts";

/** Each bundle's entry point, and its file name in the image's /app/dist. */
export const BUNDLES = {
  controller: { entry: "src/controller/main.ts", file: "controller.mjs" },
  agent: { entry: "src/agent/main.ts", file: "agent.mjs" },
} as const;
export type BundleName = keyof typeof BUNDLES;

/** Where the image holds a bundle, relative to its WorkingDir (/app): what the chart runs. */
export const bundlePath = (name: BundleName): string => `dist/${BUNDLES[name].file}`;

// Dependencies written as CommonJS call require() for Node's built-ins; an ES module has none
// unless it makes one.
const REQUIRE_BANNER =
  'import { createRequire as __kubeOffersRequire } from "node:module";\nconst require = __kubeOffersRequire(import.meta.url);';

/**
 * Writes the bundles into `outDir` (same sources, same bytes: paths in the output are relative
 * to the repository) and returns each one's path.
 */
export async function buildBundles(outDir: string): Promise<Record<BundleName, string>> {
  await mkdir(outDir, { recursive: true });
  const out = {} as Record<BundleName, string>;
  for (const [name, b] of Object.entries(BUNDLES) as [BundleName, (typeof BUNDLES)[BundleName]][]) {
    const outfile = join(outDir, b.file);
    const result = await build({
      absWorkingDir: repoRoot,
      entryPoints: [b.entry],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node24",
      // Class and function names stay what the sources call them (logs and errors name them).
      keepNames: true,
      // As Node runs the sources (type stripping keeps every import not marked `type`), and the
      // same with or without tsconfig.json beside src/ (the Dockerfile's build has none).
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
      banner: { js: REQUIRE_BANNER },
      legalComments: "eof",
      logLevel: "silent",
    });
    if (result.errors.length) {
      throw new Error(`bundling ${b.entry}: ${result.errors.map((e) => e.text).join("; ")}`);
    }
    out[name] = outfile;
  }
  return out;
}

// The Dockerfile's build step: node src/local/bundle.ts <outDir>
if (import.meta.main) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write("usage: node src/local/bundle.ts <outDir>\n");
    process.exit(2);
  }
  for (const [name, file] of Object.entries(await buildBundles(out)))
    process.stdout.write(`${name}: ${file}\n`);
}
