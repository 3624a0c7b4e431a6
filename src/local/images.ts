// Builds the OCI images the local harness side-loads into containerd, without a Docker engine:
// each is an OCI image-layout tarball (oci-layout, index.json, blobs/sha256/…) for
// `ctr -n k8s.io images import <tar>`, which names it after the index's
// io.containerd.image.name annotation (the full ref).
//
// Reproducible: the same inputs give the same bytes, hence the same digests. Layer entries are
// sorted, owned by 0:0 with mtime 0 and normalized modes (no pax atime/ctime); the config has a
// fixed `created` and history without timestamps; gzip runs at a fixed level with no name or
// mtime. Outputs go to ${XDG_CACHE_HOME:-~/.cache}/kube-offers/images/<name>-<inputs hash>.tar,
// written atomically; a run whose inputs (every file's content and the image config) match an
// existing output only hashes. Compressed layers are cached too, so editing src/ recompresses
// only the app layer.
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { specs } from "./image-inputs.ts";
import { IMAGE_NAMES, type ImageName } from "./image-refs.ts";
import { type BuiltImage, buildImage, type Sidecar } from "./oci-image.ts";

export type { BuiltImage } from "./oci-image.ts";

import { Builder } from "./oci-layers.ts";

export {
  BUSYBOX_IMAGE,
  EXAMPLES_IMAGE,
  IMAGE_NAMES,
  IMAGE_REFS,
  type ImageName,
  KUBE_OFFERS_IMAGE,
  PAUSE_IMAGE,
} from "./image-refs.ts";

export interface BuildImagesOptions {
  /** Where outputs and caches go; default ${XDG_CACHE_HOME:-~/.cache}/kube-offers/images. */
  dir?: string;
  /** Build only these (default: all, in IMAGE_NAMES order). */
  only?: readonly ImageName[];
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** The default output and cache directory. */
export function defaultImagesDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "kube-offers", "images");
}

// Bump when the way bytes are produced changes, so older outputs are not reused.
// ---------------------------------------------------------------------------------------------

/** Builds (or finds up to date) the images, in IMAGE_NAMES order, and prunes old outputs. */
export async function buildImages(opts: BuildImagesOptions = {}): Promise<BuiltImage[]> {
  const dir = opts.dir ?? defaultImagesDir();
  const names = IMAGE_NAMES.filter((n) => !opts.only || opts.only.includes(n));
  for (const n of opts.only ?? []) {
    if (!IMAGE_NAMES.includes(n)) throw new Error(`unknown image ${n}; known: ${IMAGE_NAMES.join(", ")}`);
  }
  await mkdir(dir, { recursive: true });
  const b = new Builder(dir, opts.log ?? (() => {}));
  const built: BuiltImage[] = [];
  for (const spec of await specs(names, b)) built.push(await buildImage(b, spec));
  await prune(dir, built);
  return built;
}

const KEEP_PER_IMAGE = 3;
const GRACE_MS = 60 * 60 * 1000;

/**
 * Keeps the newest KEEP_PER_IMAGE outputs per image (always the ones just returned), the layers
 * they use, and anything younger than an hour (a concurrent run's work in progress).
 */
async function prune(dir: string, keep: BuiltImage[]): Promise<void> {
  const now = Date.now();
  const kept = new Set(keep.map((k) => k.tarPath));
  const names = await readdir(dir);
  const mtime = async (p: string) => (await stat(p).catch(() => undefined))?.mtimeMs ?? 0;
  const referenced = new Set<string>();
  for (const image of IMAGE_NAMES) {
    const re = new RegExp(`^${image}-[0-9a-f]{16}\\.tar$`);
    const tars = await Promise.all(
      names
        .filter((n) => re.test(n))
        .map(async (n) => ({ path: join(dir, n), mtime: await mtime(join(dir, n)) })),
    );
    tars.sort((a, b) => b.mtime - a.mtime);
    for (const [i, t] of tars.entries()) {
      const stem = t.path.slice(0, -".tar".length);
      if (i < KEEP_PER_IMAGE || kept.has(t.path) || now - t.mtime < GRACE_MS) {
        try {
          const side = JSON.parse(await readFile(`${stem}.json`, "utf8")) as Sidecar;
          for (const l of side.layers) referenced.add(l);
        } catch {
          /* no sidecar: its layers may go */
        }
      } else {
        await rm(t.path, { force: true });
        await rm(`${stem}.json`, { force: true });
      }
    }
  }
  const layersDir = join(dir, "layers");
  for (const n of await readdir(layersDir).catch(() => [] as string[])) {
    const key = n.split(".")[0] ?? "";
    const p = join(layersDir, n);
    if (!referenced.has(key) && now - (await mtime(p)) > GRACE_MS) await rm(p, { force: true });
  }
  for (const n of names) {
    const p = join(dir, n);
    if (n.includes(".tmp-") && now - (await mtime(p)) > GRACE_MS)
      await rm(p, { recursive: true, force: true });
  }
}
