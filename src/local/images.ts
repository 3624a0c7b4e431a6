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
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { homedir } from "node:os";
import { join, posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { type Header, pack } from "tar-stream";
import { repoRoot } from "./binaries.ts";

const execFileP = promisify(execFile);
const gzipP = promisify(gzip);

const VERSION: string = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version;

/** The operator image (controller and agent); the Helm chart's default image. */
export const KUBE_OFFERS_IMAGE = `ghcr.io/kube-offers/kube-offers:${VERSION}`;
/** The example frameworks on top of the operator image (examples/*\/deploy.yaml). */
export const EXAMPLES_IMAGE = `ghcr.io/kube-offers/kube-offers-examples:${VERSION}`;
/** Debian's static busybox, under the name test Pods use. */
export const BUSYBOX_IMAGE = "docker.io/library/busybox:1.35";
/** A tiny pause image for containerd's sandbox_image. */
export const PAUSE_IMAGE = `kube-offers.local/pause:${VERSION}`;

export const IMAGE_REFS = {
  "kube-offers": KUBE_OFFERS_IMAGE,
  "kube-offers-examples": EXAMPLES_IMAGE,
  busybox: BUSYBOX_IMAGE,
  pause: PAUSE_IMAGE,
} as const;
export type ImageName = keyof typeof IMAGE_REFS;
export const IMAGE_NAMES = Object.keys(IMAGE_REFS) as ImageName[];

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
const FORMAT = "kube-offers-images/1";
const GZIP_LEVEL = 6;
const EPOCH = new Date(0);
const BUSYBOX = "/usr/bin/busybox";
const NODE_BIN = join(repoRoot, "node_modules/node/bin/node");
const PAUSE_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";
const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

// ---------------------------------------------------------------------------------------------
// Layers: a set of entries at normalized paths (no leading slash), then a sorted, normalized tar.

type Source = { host: string } | { data: Buffer };

type Entry =
  | { type: "file"; path: string; mode: number; source: Source; hostId?: string }
  | { type: "directory"; path: string; mode: number }
  | { type: "symlink"; path: string; target: string }
  | { type: "link"; path: string; target: string };

type Sealed = Entry & { sha256?: string; size?: number };

class Layer {
  readonly entries = new Map<string, Entry>();
  private sealed?: Promise<{ key: string; entries: Sealed[] }>;

  /** Becomes the history entry's created_by. */
  readonly what: string;
  constructor(what: string) {
    this.what = what;
  }

  private add(e: Entry): void {
    if (this.sealed) throw new Error(`layer ${this.what}: sealed`);
    const path = posix.normalize(e.path).replace(/^\/+|\/+$/g, "");
    if (!path || path === "." || path.startsWith("..")) throw new Error(`bad image path ${e.path}`);
    const entry = { ...e, path };
    const old = this.entries.get(path);
    if (old && describe(old) !== describe(entry)) {
      throw new Error(`layer ${this.what}: conflicting entries for /${path}`);
    }
    this.entries.set(path, entry);
  }

  dir(path: string, mode = 0o755): this {
    this.add({ type: "directory", path, mode });
    return this;
  }

  file(path: string, data: Buffer | string, mode = 0o644): this {
    this.add({ type: "file", path, mode, source: { data: Buffer.from(data) } });
    return this;
  }

  symlink(path: string, target: string): this {
    this.add({ type: "symlink", path, target });
    return this;
  }

  /** A host file at `path`; executable if any x bit is set on the host. */
  async hostFile(path: string, hostPath: string): Promise<this> {
    const st = await stat(hostPath);
    if (!st.isFile()) throw new Error(`${hostPath}: not a regular file`);
    this.add({ type: "file", path, mode: st.mode & 0o111 ? 0o755 : 0o644, source: { host: hostPath } });
    return this;
  }

  /** Host directory `hostDir` at `path`, recursively; hard links and relative symlinks kept. */
  async hostTree(path: string, hostDir: string, skip: (rel: string) => boolean = () => false): Promise<this> {
    const walk = async (rel: string): Promise<void> => {
      const names = (await readdir(join(hostDir, rel))).sort();
      for (const name of names) {
        const r = rel ? `${rel}/${name}` : name;
        if (skip(r)) continue;
        const host = join(hostDir, r);
        const st = await lstat(host);
        const at = `${path}/${r}`;
        if (st.isDirectory()) {
          this.dir(at);
          await walk(r);
        } else if (st.isSymbolicLink()) {
          const target = await readlink(host);
          if (target.startsWith("/"))
            throw new Error(`${host}: absolute symlink would not resolve in the image`);
          this.symlink(at, target);
        } else if (st.isFile()) {
          this.add({
            type: "file",
            path: at,
            mode: st.mode & 0o111 ? 0o755 : 0o644,
            source: { host },
            ...(st.nlink > 1 ? { hostId: `${st.dev}:${st.ino}` } : {}),
          });
        } else {
          throw new Error(`${host}: not a file, directory or symlink`);
        }
      }
    };
    this.dir(path);
    await walk("");
    return this;
  }

  /**
   * A host file at its own absolute path, with every symlink on the way reproduced (e.g. on a
   * merged-/usr host, /lib64/ld-linux-x86-64.so.2 brings lib64 → usr/lib64, the absolute link
   * in usr/lib64 and the file in usr/lib/x86_64-linux-gnu).
   */
  async hostPath(abs: string, depth = 0): Promise<this> {
    if (depth > 40) throw new Error(`${abs}: too many levels of symlinks`);
    const parts = abs.split("/").filter(Boolean);
    let cur = "";
    for (let i = 0; i < parts.length; i++) {
      const next = `${cur}/${parts[i]}`;
      const st = await lstat(next);
      if (st.isSymbolicLink()) {
        const target = await readlink(next);
        this.symlink(next, target);
        return this.hostPath(posix.resolve(cur || "/", target, ...parts.slice(i + 1)), depth + 1);
      }
      if (i === parts.length - 1) return this.hostFile(next, next);
      if (!st.isDirectory()) throw new Error(`${next}: not a directory`);
      cur = next;
    }
    throw new Error(`bad host path ${abs}`);
  }

  /**
   * Adds missing parent directories, sorts, turns repeated host inodes into hard links to the
   * first path, and hashes every file: the key covers every byte and bit of metadata the tar
   * will hold. Idempotent.
   */
  seal(): Promise<{ key: string; entries: Sealed[] }> {
    this.sealed ??= (async () => {
      for (const path of [...this.entries.keys()]) {
        for (let p = posix.dirname(path); p !== "."; p = posix.dirname(p)) {
          const parent = this.entries.get(p);
          if (!parent) this.entries.set(p, { type: "directory", path: p, mode: 0o755 });
          else if (parent.type !== "directory") {
            throw new Error(`layer ${this.what}: /${path} is below /${p}, which is not a directory`);
          }
        }
      }
      const sorted = [...this.entries.values()].sort((a, b) =>
        a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
      );
      const firstOf = new Map<string, string>();
      const h = createHash("sha256").update(`${FORMAT}\n`);
      const out: Sealed[] = [];
      for (const e of sorted) {
        let s: Sealed = e;
        if (e.type === "file" && e.hostId) {
          const first = firstOf.get(e.hostId);
          if (first) s = { type: "link", path: e.path, target: first };
          else firstOf.set(e.hostId, e.path);
        }
        if (s.type === "file") {
          const data = await content(s.source);
          s = { ...s, sha256: sha256(data), size: data.length };
        }
        h.update(`${describe(s)}\n`);
        out.push(s);
      }
      return { key: h.digest("hex"), entries: out };
    })();
    return this.sealed;
  }
}

function describe(e: Sealed): string {
  const p = JSON.stringify(e.path);
  switch (e.type) {
    case "directory":
      return `d ${e.mode.toString(8)} ${p}`;
    case "symlink":
      return `s ${p} ${JSON.stringify(e.target)}`;
    case "link":
      return `h ${p} ${JSON.stringify(e.target)}`;
    case "file": {
      const src = e.sha256 ?? ("host" in e.source ? `host:${e.source.host}` : sha256(e.source.data));
      return `f ${e.mode.toString(8)} ${p} ${e.size ?? "?"} ${src}`;
    }
  }
}

function content(source: Source): Promise<Buffer> {
  return "data" in source ? Promise.resolve(source.data) : readFile(source.host);
}

type TarHeader = Partial<Header> & Pick<Header, "name">;

function header(e: Sealed): TarHeader {
  const common = { uid: 0, gid: 0, uname: "", gname: "", mtime: EPOCH };
  switch (e.type) {
    case "directory":
      return { ...common, name: `${e.path}/`, type: "directory", mode: e.mode };
    case "symlink":
      return { ...common, name: e.path, type: "symlink", mode: 0o777, linkname: e.target };
    case "link":
      return { ...common, name: e.path, type: "link", mode: 0o644, linkname: e.target };
    case "file":
      return { ...common, name: e.path, type: "file", mode: e.mode, size: e.size ?? 0 };
  }
}

function addEntry(p: ReturnType<typeof pack>, h: TarHeader, data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (data) p.entry(h, data, cb);
    else p.entry(h, cb);
  });
}

async function tarOf(entries: Sealed[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    let data: Buffer | undefined;
    if (e.type === "file") {
      data = await content(e.source);
      if (sha256(data) !== e.sha256)
        throw new Error(`/${e.path} changed while the image was built; run again`);
    }
    await addEntry(p, header(e), data);
  }
  p.finalize();
  await collected;
  return Buffer.concat(chunks);
}

interface BuiltLayer {
  key: string;
  /** sha256 of the uncompressed tar, "sha256:…". */
  diffId: string;
  digest: string;
  size: number;
  blob: Buffer;
}

/** Atomic write: temp file in the same directory, then rename. */
async function writeAtomic(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

class Builder {
  private readonly layers = new Map<string, Promise<BuiltLayer>>();
  readonly dir: string;
  readonly log: (line: string) => void;
  constructor(dir: string, log: (line: string) => void) {
    this.dir = dir;
    this.log = log;
  }

  /** The compressed layer, from this run, the layer cache, or built now. */
  layer(layer: Layer): Promise<BuiltLayer> {
    return layer.seal().then(({ key, entries }) => {
      let built = this.layers.get(key);
      if (!built) {
        built = this.buildLayer(layer.what, key, entries);
        this.layers.set(key, built);
      }
      return built;
    });
  }

  private async buildLayer(what: string, key: string, entries: Sealed[]): Promise<BuiltLayer> {
    const base = join(this.dir, "layers", key);
    try {
      const meta = JSON.parse(await readFile(`${base}.json`, "utf8")) as Omit<BuiltLayer, "blob">;
      const blob = await readFile(`${base}.tar.gz`);
      if (`sha256:${sha256(blob)}` === meta.digest) return { ...meta, key, blob };
    } catch {
      /* not cached (or half-pruned): build it */
    }
    const t0 = Date.now();
    const tar = await tarOf(entries);
    const blob = await gzipP(tar, { level: GZIP_LEVEL });
    const built = {
      key,
      diffId: `sha256:${sha256(tar)}`,
      digest: `sha256:${sha256(blob)}`,
      size: blob.length,
    };
    await mkdir(join(this.dir, "layers"), { recursive: true });
    await writeAtomic(`${base}.tar.gz`, blob);
    await writeAtomic(`${base}.json`, JSON.stringify(built));
    this.log(
      `layer ${what}: ${entries.length} entries, ${mib(tar.length)} → ${mib(blob.length)} gzip in ${secs(t0)}`,
    );
    return { ...built, blob };
  }
}

// ---------------------------------------------------------------------------------------------
// Images.

interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
}

interface ImageSpec {
  name: ImageName;
  ref: string;
  layers: Layer[];
  config: ImageConfig;
}

function platform(): { architecture: string; os: string } {
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
function tagOf(ref: string): string {
  const m = /^[^/]+\.[^/]+\/[^:@]+:([\w][\w.-]{0,127})$/.exec(ref);
  if (!m?.[1]) throw new Error(`${ref}: not a normalized registry/repository:tag reference`);
  return m[1];
}

interface Sidecar {
  ref: string;
  digest: string;
  layers: string[];
}

async function buildImage(b: Builder, spec: ImageSpec): Promise<BuiltImage> {
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

// ---------------------------------------------------------------------------------------------
// Inputs: the pieces the images are made of.

const PASSWD =
  "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP = "root:x:0:\nnonroot:x:65532:\n";

/** Whether an ELF file has no program interpreter (PT_INTERP), i.e. is statically linked. */
function isStaticElf(buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return false;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (buf.readUInt32LE(phoff + i * phentsize) === 3) return false;
  }
  return true;
}

async function busybox(): Promise<{ binary: Buffer; applets: string[] }> {
  const hint = "install the Debian package busybox-static (apt-get install busybox-static)";
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: ${hint}`);
  const binary = await readFile(BUSYBOX);
  if (!isStaticElf(binary))
    throw new Error(`${BUSYBOX} is not statically linked (the busybox package?): ${hint}`);
  const { stdout } = await execFileP(BUSYBOX, ["--list"]);
  const applets = [...new Set(stdout.split("\n").map((s) => s.trim()))]
    .filter((a) => a && a !== "busybox" && !a.includes("/"))
    .sort();
  if (!applets.includes("sh")) throw new Error(`${BUSYBOX} --list names no sh applet`);
  return { binary, applets };
}

/** The Node binary of the `node` devDependency, stripped (cached by the original's sha256). */
async function strippedNode(dir: string, log: (line: string) => void): Promise<string> {
  if (!existsSync(NODE_BIN)) {
    throw new Error(`${NODE_BIN} is missing: run npm install (the "node" devDependency provides Node 24)`);
  }
  const key = sha256(await readFile(NODE_BIN)).slice(0, 16);
  const out = join(dir, `node-${key}`, "node");
  if (existsSync(out)) return out;
  await mkdir(join(dir, `node-${key}`), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const t0 = Date.now();
  try {
    await execFileP("strip", ["--strip-all", "-o", tmp, NODE_BIN]);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new Error(`strip ${NODE_BIN} failed (binutils installed?): ${(err as Error).message}`);
  }
  await chmod(tmp, 0o755);
  await rename(tmp, out);
  log(
    `stripped ${NODE_BIN}: ${mib((await stat(NODE_BIN)).size)} → ${mib((await stat(out)).size)} in ${secs(t0)}`,
  );
  return out;
}

/** The shared libraries `ldd` finds for a binary, including the program interpreter. */
async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await execFileP("ldd", [binary]);
  const libs: string[] = [];
  for (const line of stdout.split("\n")) {
    if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
    const m = /^\s*(?:\S+ => )?(\/\S+) \(0x[0-9a-f]+\)\s*$/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  if (!libs.some((l) => l.includes("/ld-linux")))
    throw new Error(`ldd ${binary}: no program interpreter found`);
  return libs.sort();
}

/** Production node_modules from package-lock.json, installed once per lockfile content. */
async function productionDeps(dir: string, log: (line: string) => void): Promise<string> {
  const lock = await readFile(join(repoRoot, "package-lock.json"));
  const staging = join(dir, `deps-${sha256(lock).slice(0, 16)}`);
  if (existsSync(staging)) return join(staging, "node_modules");
  const tmp = `${staging}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await mkdir(tmp, { recursive: true });
  try {
    await copyFile(join(repoRoot, "package.json"), join(tmp, "package.json"));
    await writeFile(join(tmp, "package-lock.json"), lock);
    const t0 = Date.now();
    // Not the npm settings of an enclosing `npm run` (its package and prefix).
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !/^npm_(package_|lifecycle_|config_(local_)?prefix$)/i.test(k),
      ),
    );
    const args = ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"];
    await new Promise<void>((resolve, reject) => {
      const child = spawn("npm", args, { cwd: tmp, env, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (d: Buffer) => {
        output += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        output += d.toString();
      });
      child.on("error", reject);
      child.on("exit", (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`npm ${args.join(" ")} failed (exit ${code}):\n${output.slice(-4000)}`)),
      );
    });
    await mkdir(join(tmp, "node_modules"), { recursive: true });
    try {
      await rename(tmp, staging);
    } catch (err) {
      if (!existsSync(staging)) throw err; // else: a concurrent run got there first
    }
    log(`npm ${args.join(" ")}: ${secs(t0)}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return join(staging, "node_modules");
}

const notTest = (rel: string) => rel.endsWith(".test.ts");

async function specs(names: readonly ImageName[], b: Builder): Promise<ImageSpec[]> {
  const out: ImageSpec[] = [];
  const want = new Set(names);
  if (want.has("busybox") || want.has("pause")) {
    const bb = await busybox();
    if (want.has("busybox")) {
      const layer = new Layer("busybox-static /usr/bin/busybox as /bin/busybox, a symlink per applet");
      layer.file("bin/busybox", bb.binary, 0o755);
      for (const a of bb.applets) layer.symlink(`bin/${a}`, "busybox");
      layer
        .file(
          "etc/passwd",
          "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .file("etc/group", "root:x:0:\nnobody:x:65534:\n")
        .dir("tmp", 0o1777);
      out.push({
        name: "busybox",
        ref: BUSYBOX_IMAGE,
        layers: [layer],
        config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] },
      });
    }
    if (want.has("pause")) {
      const layer = new Layer("busybox-static /usr/bin/busybox as /bin/sh, /bin/sleep");
      layer.file("bin/sh", bb.binary, 0o755).symlink("bin/sleep", "sh");
      out.push({
        name: "pause",
        ref: PAUSE_IMAGE,
        layers: [layer],
        config: { User: "65535:65535", Env: ["PATH=/bin"], Entrypoint: ["/bin/sh", "-c", PAUSE_SCRIPT] },
      });
    }
  }
  if (want.has("kube-offers") || want.has("kube-offers-examples")) {
    const node = await strippedNode(b.dir, b.log);
    const nodeVersion = JSON.parse(
      await readFile(join(repoRoot, "node_modules/node/package.json"), "utf8"),
    ).version;
    const runtime = new Layer(
      `node v${nodeVersion} (stripped) as /usr/local/bin/node, its glibc libraries, /etc, /tmp`,
    );
    await runtime.hostFile("usr/local/bin/node", node);
    for (const lib of await sharedLibraries(node)) await runtime.hostPath(lib);
    runtime
      .file("etc/passwd", PASSWD)
      .file("etc/group", GROUP)
      .file("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
      .dir("tmp", 0o1777);
    const deps = new Layer("npm ci --omit=dev --ignore-scripts → /app/node_modules");
    await deps.hostTree("app/node_modules", await productionDeps(b.dir, b.log));
    const app = new Layer("/app/package.json, /app/src (no *.test.ts)");
    await app.hostFile("app/package.json", join(repoRoot, "package.json"));
    await app.hostTree("app/src", join(repoRoot, "src"), notTest);
    const config: ImageConfig = {
      User: "65532:65532",
      ExposedPorts: { "8080/tcp": {} },
      Env: ["PATH=/usr/local/bin:/usr/bin:/bin", "NODE_ENV=production", "NODE_NO_WARNINGS=1"],
      Entrypoint: ["node"],
      Cmd: ["src/controller/main.ts"],
      WorkingDir: "/app",
    };
    if (want.has("kube-offers")) {
      out.push({ name: "kube-offers", ref: KUBE_OFFERS_IMAGE, layers: [runtime, deps, app], config });
    }
    if (want.has("kube-offers-examples")) {
      const examples = new Layer("/app/examples (no *.test.ts)");
      await examples.hostTree("app/examples", join(repoRoot, "examples"), notTest);
      out.push({
        name: "kube-offers-examples",
        ref: EXAMPLES_IMAGE,
        layers: [runtime, deps, app, examples],
        config: { ...config, Cmd: ["examples/batch/main.ts", "--help"] },
      });
    }
  }
  return names.map((n) => out.find((s) => s.name === n)!);
}

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

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function secs(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}
