// Layers of OCI images: a set of entries at normalized paths, then a sorted, normalized tar
// (owner 0:0, mtime 0, normalized modes, no pax times), gzipped at a fixed level; compressed
// layers are cached by the hash of their inputs.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, rename, stat, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { type Header, pack } from "tar-stream";
import { repoRoot } from "./binaries.ts";

export const execFileP = promisify(execFile);
export const gzipP = promisify(gzip);

export const FORMAT = "kube-offers-images/1";
export const GZIP_LEVEL = 6;
export const EPOCH = new Date(0);
export const BUSYBOX = "/usr/bin/busybox";
export const NODE_BIN = join(repoRoot, "node_modules/node/bin/node");
export const PAUSE_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";
export const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

// ---------------------------------------------------------------------------------------------
// Layers: a set of entries at normalized paths (no leading slash), then a sorted, normalized tar.

export type Source = { host: string } | { data: Buffer };

export type Entry =
  | { type: "file"; path: string; mode: number; source: Source; hostId?: string }
  | { type: "directory"; path: string; mode: number }
  | { type: "symlink"; path: string; target: string }
  | { type: "link"; path: string; target: string };

export type Sealed = Entry & { sha256?: string; size?: number };

export class Layer {
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

export function addEntry(p: ReturnType<typeof pack>, h: TarHeader, data?: Buffer): Promise<void> {
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

export interface BuiltLayer {
  key: string;
  /** sha256 of the uncompressed tar, "sha256:…". */
  diffId: string;
  digest: string;
  size: number;
  blob: Buffer;
}

/** Atomic write: temp file in the same directory, then rename. */
export async function writeAtomic(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export class Builder {
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

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function secs(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}
