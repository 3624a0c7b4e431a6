// One OCI image from its layers: config (fixed `created`, history without timestamps),
// manifest and index, written as an OCI image-layout tarball named by the full ref.
import { createWriteStream } from "node:fs";
import { readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { pack } from "tar-stream";
import type { ImageName } from "./image-refs.ts";
import {
  addEntry,
  type Builder,
  EPOCH,
  FORMAT,
  GZIP_LEVEL,
  type Layer,
  MEDIA,
  mib,
  secs,
  sha256,
  writeAtomic,
} from "./oci-layers.ts";

// ---------------------------------------------------------------------------------------------
// Images.

export interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
}

export interface ImageSpec {
  name: ImageName;
  ref: string;
  layers: Layer[];
  config: ImageConfig;
}

export function platform(): { architecture: string; os: string } {
  const arch: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
  };
  const architecture = arch[process.arch];
  if (!architecture || process.platform !== "linux") {
    throw new Error(`images are built from host binaries: linux/${process.arch} is not supported`);
  }
  return { architecture, os: "linux" };
}

/** "ghcr.io/a/b:1.0" → tag "1.0". Refs here are always fully qualified with a tag. */
export function tagOf(ref: string): string {
  const m = /^[^/]+\.[^/]+\/[^:@]+:([\w][\w.-]{0,127})$/.exec(ref);
  if (!m?.[1]) throw new Error(`${ref}: not a normalized registry/repository:tag reference`);
  return m[1];
}

export interface Sidecar {
  ref: string;
  digest: string;
  layers: string[];
}

export interface BuiltImage {
  name: ImageName;
  /** Full normalized ref, as `ctr images ls` shows it after import. */
  ref: string;
  /** The manifest digest, "sha256:…". */
  digest: string;
  /** The OCI image-layout tarball. */
  tarPath: string;
  /** Size of the tarball. */
  bytes: number;
}

export async function buildImage(b: Builder, spec: ImageSpec): Promise<BuiltImage> {
  const t0 = Date.now();
  const keys = await Promise.all(spec.layers.map(async (l) => (await l.seal()).key));
  const plat = platform();
  const tag = tagOf(spec.ref);
  const history = spec.layers.map((l) => ({ created_by: l.what }));
  const inputs = sha256(
    JSON.stringify({
      FORMAT,
      GZIP_LEVEL,
      zlib: process.versions.zlib,
      spec: { ...spec, layers: keys },
      plat,
      history,
    }),
  );
  const stem = join(b.dir, `${spec.name}-${inputs.slice(0, 16)}`);
  const tarPath = `${stem}.tar`;
  try {
    const side = JSON.parse(await readFile(`${stem}.json`, "utf8")) as Sidecar;
    const st = await stat(tarPath);
    if (side.ref === spec.ref) {
      b.log(`${spec.ref}: up to date (${secs(t0)})`);
      return { name: spec.name, ref: spec.ref, digest: side.digest, tarPath, bytes: st.size };
    }
  } catch {
    /* not built yet */
  }

  const layers = await Promise.all(spec.layers.map((l) => b.layer(l)));
  const config = Buffer.from(
    JSON.stringify({
      created: "1970-01-01T00:00:00Z",
      architecture: plat.architecture,
      os: plat.os,
      config: spec.config,
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history,
    }),
  );
  const configDigest = `sha256:${sha256(config)}`;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: MEDIA.layer, digest: l.digest, size: l.size })),
    }),
  );
  const digest = `sha256:${sha256(manifest)}`;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        {
          mediaType: MEDIA.manifest,
          digest,
          size: manifest.length,
          platform: plat,
          annotations: { "io.containerd.image.name": spec.ref, "org.opencontainers.image.ref.name": tag },
        },
      ],
    }),
  );
  const blobs = new Map<string, Buffer>([
    [digest, manifest],
    [configDigest, config],
  ]);
  for (const l of layers) blobs.set(l.digest, l.blob);

  const files: [string, Buffer | undefined][] = [
    ["blobs/", undefined],
    ["blobs/sha256/", undefined],
    ...[...blobs.keys()].sort().map((d): [string, Buffer] => [`blobs/sha256/${d.slice(7)}`, blobs.get(d)!]),
    ["index.json", index],
    ["oci-layout", Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" }))],
  ];
  const tmp = `${tarPath}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const p = pack();
    const written = pipeline(p, createWriteStream(tmp));
    for (const [name, data] of files) {
      const common = { name, uid: 0, gid: 0, uname: "", gname: "", mtime: EPOCH };
      await addEntry(
        p,
        data ? { ...common, type: "file", mode: 0o644 } : { ...common, type: "directory", mode: 0o755 },
        data,
      );
    }
    p.finalize();
    await written;
    await writeAtomic(
      `${stem}.json`,
      JSON.stringify({ ref: spec.ref, digest, layers: keys } satisfies Sidecar),
    );
    await rename(tmp, tarPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const bytes = (await stat(tarPath)).size;
  b.log(`${spec.ref}: built ${digest.slice(0, 19)}… ${mib(bytes)} in ${secs(t0)}`);
  return { name: spec.name, ref: spec.ref, digest, tarPath, bytes };
}
