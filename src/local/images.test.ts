import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { extract, type Header } from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { repoRoot } from "./binaries.ts";
import { buildBundles, bundlePath } from "./bundle.ts";
import {
  BUSYBOX_IMAGE,
  type BuiltImage,
  buildImages,
  EXAMPLES_IMAGE,
  KUBE_OFFERS_IMAGE,
  PAUSE_IMAGE,
} from "./images.ts";

interface TarEntry {
  header: Header;
  data: Buffer;
}

async function untar(tar: Buffer): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const ex = extract();
  Readable.from([tar]).pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    entries.push({ header: entry.header, data: Buffer.concat(chunks) });
  }
  return entries;
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

interface Layout {
  index: {
    mediaType: string;
    manifests: { digest: string; mediaType: string; annotations: Record<string, string> }[];
  };
  config: {
    created: string;
    architecture: string;
    os: string;
    config: Record<string, unknown>;
    rootfs: { type: string; diff_ids: string[] };
    history: Record<string, unknown>[];
  };
  /** Each layer's entries, uncompressed. */
  layers: TarEntry[][];
}

/** Reads an image-layout tarball, checking every link from index to blobs on the way. */
async function readLayout(image: BuiltImage): Promise<Layout> {
  const files = new Map((await untar(readFileSync(image.tarPath))).map((e) => [e.header.name, e.data]));
  expect(JSON.parse(files.get("oci-layout")!.toString())).toEqual({ imageLayoutVersion: "1.0.0" });
  for (const [name, data] of files) {
    if (name.startsWith("blobs/sha256/") && data.length > 0)
      expect(sha256(data)).toBe(`sha256:${name.slice(13)}`);
  }
  const blob = (digest: string) => {
    const b = files.get(`blobs/sha256/${digest.replace(/^sha256:/, "")}`);
    if (!b) throw new Error(`blob ${digest} missing`);
    return b;
  };
  const index = JSON.parse(files.get("index.json")!.toString());
  expect(index.schemaVersion).toBe(2);
  expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
  expect(index.manifests).toHaveLength(1);
  const desc = index.manifests[0];
  expect(desc.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
  expect(desc.digest).toBe(image.digest);
  expect(desc.annotations).toEqual({
    "io.containerd.image.name": image.ref,
    "org.opencontainers.image.ref.name": image.ref.slice(image.ref.lastIndexOf(":") + 1),
  });
  const manifestBytes = blob(desc.digest);
  expect(desc.size).toBe(manifestBytes.length);
  const manifest = JSON.parse(manifestBytes.toString());
  expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
  expect(manifest.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
  const configBytes = blob(manifest.config.digest);
  expect(manifest.config.size).toBe(configBytes.length);
  const config = JSON.parse(configBytes.toString());
  expect(config.rootfs.type).toBe("layers");
  expect(config.rootfs.diff_ids).toHaveLength(manifest.layers.length);
  expect(config.history).toHaveLength(manifest.layers.length);
  const layers: TarEntry[][] = [];
  for (const [i, l] of (manifest.layers as { mediaType: string; digest: string; size: number }[]).entries()) {
    expect(l.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    const gz = blob(l.digest);
    expect(l.size).toBe(gz.length);
    const tar = gunzipSync(gz);
    expect(sha256(tar)).toBe(config.rootfs.diff_ids[i]);
    layers.push(await untar(tar));
  }
  return { index, config, layers };
}

/** The normalizations that make layers reproducible, on every entry. */
function expectNormalized(entries: TarEntry[]): void {
  const names = entries.map((e) => e.header.name.replace(/\/$/, ""));
  expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  expect(new Set(names).size).toBe(names.length);
  for (const { header: h } of entries) {
    expect({
      name: h.name,
      mtime: h.mtime.getTime(),
      uid: h.uid,
      gid: h.gid,
      uname: h.uname,
      gname: h.gname,
    }).toEqual({
      name: h.name,
      mtime: 0,
      uid: 0,
      gid: 0,
      uname: "",
      gname: "",
    });
    // Long names may need a pax path; nothing else (no atime/ctime).
    for (const k of Object.keys((h.pax as Record<string, string> | null) ?? {}))
      expect(["path", "linkpath"]).toContain(k);
    expect(h.name.startsWith("/")).toBe(false);
  }
}

const byName = (entries: TarEntry[]) => new Map(entries.map((e) => [e.header.name.replace(/\/$/, ""), e]));

describe("images", () => {
  const dirs = [mkdtempSync(join(tmpdir(), "images-a-")), mkdtempSync(join(tmpdir(), "images-b-"))];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("builds busybox and pause reproducibly: two fresh cache dirs give the same digests and bytes", async () => {
    const [a, b] = await Promise.all(dirs.map((dir) => buildImages({ dir, only: ["busybox", "pause"] })));
    expect(a!.map((i) => i.ref)).toEqual([BUSYBOX_IMAGE, PAUSE_IMAGE]);
    expect(b!.map((i) => i.digest)).toEqual(a!.map((i) => i.digest));
    for (const [i, img] of a!.entries()) {
      expect(img.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(img.bytes).toBe(statSync(img.tarPath).size);
      expect(readFileSync(b![i]!.tarPath).equals(readFileSync(img.tarPath))).toBe(true);
    }
    // Same inputs again: the outputs are found, not rewritten.
    const mtimes = a!.map((i) => statSync(i.tarPath).mtimeMs);
    const again = await buildImages({ dir: dirs[0]!, only: ["busybox", "pause"] });
    expect(again).toEqual(a);
    expect(again.map((i) => statSync(i.tarPath).mtimeMs)).toEqual(mtimes);
  });

  it("lays out busybox: /bin/busybox, a symlink per applet, Cmd sh", async () => {
    const [img] = await buildImages({ dir: dirs[0]!, only: ["busybox"] });
    const { config, layers } = await readLayout(img!);
    expect(config.created).toBe("1970-01-01T00:00:00Z");
    expect(config.history).toEqual([{ created_by: expect.any(String) }]);
    expect(config.config.Cmd).toEqual(["sh"]);
    expect(layers).toHaveLength(1);
    expectNormalized(layers[0]!);
    const entries = byName(layers[0]!);
    const bb = entries.get("bin/busybox")!;
    expect(bb.header.type).toBe("file");
    expect(bb.header.mode).toBe(0o755);
    expect(bb.data.equals(readFileSync("/usr/bin/busybox"))).toBe(true);
    for (const applet of ["sh", "sleep", "ls", "["]) {
      expect(entries.get(`bin/${applet}`)?.header).toMatchObject({ type: "symlink", linkname: "busybox" });
    }
    expect(entries.get("tmp")?.header).toMatchObject({ type: "directory", mode: 0o1777 });
  });

  it("lays out pause: a shell entrypoint that exits 0 on TERM and INT", async () => {
    const [img] = await buildImages({ dir: dirs[0]!, only: ["pause"] });
    const { config, layers } = await readLayout(img!);
    expect(config.config.Entrypoint).toEqual([
      "/bin/sh",
      "-c",
      expect.stringContaining("trap 'exit 0' TERM INT"),
    ]);
    expectNormalized(layers[0]!);
    expect([...byName(layers[0]!).keys()]).toEqual(["bin", "bin/sh", "bin/sleep"]);
  });

  it("names the refs the chart and the examples deploy", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));
    const chart = parseYaml(readFileSync(join(repoRoot, "deploy/helm/kube-offers/Chart.yaml"), "utf8"));
    const values = parseYaml(readFileSync(join(repoRoot, "deploy/helm/kube-offers/values.yaml"), "utf8"));
    expect(KUBE_OFFERS_IMAGE).toBe(`${values.image.repository}:${chart.appVersion}`);
    expect(chart.appVersion).toBe(pkg.version);
    for (const ex of ["batch", "gang", "service"]) {
      const yaml = readFileSync(join(repoRoot, `examples/${ex}/deploy.yaml`), "utf8");
      expect(yaml.match(/image: (\S+)/g)).toEqual([`image: ${EXAMPLES_IMAGE}`]);
    }
  });

  // Cold, the operator images take about 30 s per directory on 2 shared cores (stripping Node,
  // npm ci, compressing ~55 MiB): a minute too many for every run. KUBE_OFFERS_IMAGE_REPRO=1 runs it.
  it.skipIf(!process.env.KUBE_OFFERS_IMAGE_REPRO)(
    "builds every image, kube-offers and the examples too, reproducibly: two fresh dirs sharing no layer, deps or stripped-node cache",
    async () => {
      const fresh = [mkdtempSync(join(tmpdir(), "images-c-")), mkdtempSync(join(tmpdir(), "images-d-"))];
      dirs.push(...fresh);
      const built: BuiltImage[][] = [];
      for (const dir of fresh) {
        const t0 = Date.now();
        built.push(await buildImages({ dir }));
        const table = built
          .at(-1)!
          .map((i) => `  ${i.ref}  ${i.digest}  ${i.bytes} bytes`)
          .join("\n");
        process.stderr.write(
          `[images] cold build in ${dir}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n${table}\n`,
        );
      }
      const [a, b] = built as [BuiltImage[], BuiltImage[]];
      // Each dir made its own caches: nothing of one build was reused by the other.
      for (const dir of fresh) {
        const names = readdirSync(dir);
        expect(names.filter((n) => /^node-[0-9a-f]{16}$/.test(n))).toHaveLength(1);
        expect(names.filter((n) => /^deps-[0-9a-f]{16}$/.test(n))).toHaveLength(1);
        // runtime, bundles, deps, app, examples; busybox's; pause's.
        expect(readdirSync(join(dir, "layers")).filter((n) => n.endsWith(".tar.gz"))).toHaveLength(7);
      }
      expect(a.map((i) => i.ref)).toEqual([KUBE_OFFERS_IMAGE, EXAMPLES_IMAGE, BUSYBOX_IMAGE, PAUSE_IMAGE]);
      expect(b.map((i) => i.digest)).toEqual(a.map((i) => i.digest));
      for (const [i, img] of a.entries())
        expect(readFileSync(b[i]!.tarPath).equals(readFileSync(img.tarPath)), img.ref).toBe(true);
    },
    1_800_000,
  );

  // The heavy one goes to the default cache dir, shared with `npm run images`: warm, it only hashes.
  it("lays out kube-offers: node, its libraries and the two bundles, non-root", async () => {
    const [img] = await buildImages({ only: ["kube-offers"] });
    const { config, layers } = await readLayout(img!);
    expect(img!.ref).toBe(KUBE_OFFERS_IMAGE);
    expect(config.config).toEqual({
      User: "65532:65532",
      ExposedPorts: { "8080/tcp": {} },
      Env: ["PATH=/usr/local/bin:/usr/bin:/bin", "NODE_ENV=production", "NODE_NO_WARNINGS=1"],
      Entrypoint: ["node"],
      Cmd: [bundlePath("controller")],
      WorkingDir: "/app",
    });
    for (const l of layers) expectNormalized(l);
    const all = byName(layers.flat());
    expect(all.get("usr/local/bin/node")?.header).toMatchObject({ type: "file", mode: 0o755 });
    expect(all.has("lib64/ld-linux-x86-64.so.2") || all.has("usr/lib64/ld-linux-x86-64.so.2")).toBe(true);
    const app = [...all.keys()].filter((n) => n.startsWith("app/")).sort();
    expect(app).toEqual(["app/dist", "app/dist/agent.mjs", "app/dist/controller.mjs"]);
    const bundleDir = mkdtempSync(join(tmpdir(), "bundles-"));
    dirs.push(bundleDir);
    const built = await buildBundles(bundleDir);
    expect(all.get(`app/${bundlePath("controller")}`)?.data.equals(readFileSync(built.controller))).toBe(
      true,
    );
    expect(all.get(`app/${bundlePath("agent")}`)?.data.equals(readFileSync(built.agent))).toBe(true);
    expect(all.get("etc/passwd")?.data.toString()).toContain("nonroot:x:65532:65532:");
    expect(all.get("tmp")?.header).toMatchObject({ type: "directory", mode: 0o1777 });
  }, 300_000);
});
