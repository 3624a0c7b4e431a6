// npm run images [-- [--dir DIR] [NAME...]]: builds the OCI image tarballs (src/local/images.ts)
// and prints ref, manifest digest, size and tarball path of each. Progress goes to stderr.
import { parseArgs } from "node:util";
import { buildImages, defaultImagesDir, IMAGE_NAMES, IMAGE_REFS, type ImageName } from "./images.ts";

const HELP = `Usage: npm run images -- [--dir DIR] [NAME...]

Builds reproducible OCI image-layout tarballs without Docker, for
  ctr -n k8s.io images import <tar>

  NAME        ${IMAGE_NAMES.map((n) => `${n} (${IMAGE_REFS[n]})`).join("\n              ")}
              default: all
  --dir DIR   output and cache directory (default ${defaultImagesDir()})
`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { dir: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const unknown = positionals.filter((p) => !(IMAGE_NAMES as string[]).includes(p));
  if (unknown.length > 0) {
    process.stderr.write(`unknown image(s) ${unknown.join(", ")}\n\n${HELP}`);
    process.exit(2);
  }
  const t0 = Date.now();
  const images = await buildImages({
    ...(values.dir ? { dir: values.dir } : {}),
    ...(positionals.length > 0 ? { only: positionals as ImageName[] } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const rows = [
    ["IMAGE", "DIGEST", "SIZE", "TAR"],
    ...images.map((i) => [i.ref, i.digest, `${(i.bytes / 1024 / 1024).toFixed(1)} MiB`, i.tarPath]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) {
    process.stdout.write(
      `${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ")}\n`,
    );
  }
  process.stderr.write(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`images: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
