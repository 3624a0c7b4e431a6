// What the images are made of: Debian's static busybox, the Node 24 runtime the npm `node`
// package provides (stripped) with the glibc libraries it needs, the controller's and the agent's
// bundles, and for the examples the app's production dependencies, its sources and the examples.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "./binaries.ts";
import { BUNDLES, type BundleName, buildBundles, bundlePath } from "./bundle.ts";
import {
  BUSYBOX_IMAGE,
  EXAMPLES_IMAGE,
  type ImageName,
  KUBE_OFFERS_IMAGE,
  PAUSE_IMAGE,
} from "./image-refs.ts";
import type { ImageConfig, ImageSpec } from "./oci-image.ts";
import {
  BUSYBOX,
  type Builder,
  execFileP,
  Layer,
  mib,
  NODE_BIN,
  PAUSE_SCRIPT,
  secs,
  sha256,
} from "./oci-layers.ts";

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

export async function specs(names: readonly ImageName[], b: Builder): Promise<ImageSpec[]> {
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
    // The operator's processes run bundles (bundle.ts): no node_modules, no sources to strip.
    const bundleDir = join(b.dir, `bundles-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const bundles = new Layer(
      `/app/${bundlePath("controller")}, /app/${bundlePath("agent")} (esbuild bundles of ${BUNDLES.controller.entry}, ${BUNDLES.agent.entry})`,
    );
    try {
      const built = await buildBundles(bundleDir);
      // Read now: layers read host files when they are written, after this directory is gone.
      for (const name of Object.keys(BUNDLES) as BundleName[]) {
        bundles.file(`app/${bundlePath(name)}`, await readFile(built[name]));
      }
    } finally {
      await rm(bundleDir, { recursive: true, force: true });
    }
    const config: ImageConfig = {
      User: "65532:65532",
      ExposedPorts: { "8080/tcp": {} },
      Env: ["PATH=/usr/local/bin:/usr/bin:/bin", "NODE_ENV=production", "NODE_NO_WARNINGS=1"],
      Entrypoint: ["node"],
      Cmd: [bundlePath("controller")],
      WorkingDir: "/app",
    };
    if (want.has("kube-offers")) {
      out.push({ name: "kube-offers", ref: KUBE_OFFERS_IMAGE, layers: [runtime, bundles], config });
    }
    if (want.has("kube-offers-examples")) {
      // The examples run from their sources, which import the SDK's: those and the dependencies.
      const deps = new Layer("npm ci --omit=dev --ignore-scripts → /app/node_modules");
      await deps.hostTree("app/node_modules", await productionDeps(b.dir, b.log));
      const app = new Layer("/app/package.json, /app/src (no *.test.ts)");
      await app.hostFile("app/package.json", join(repoRoot, "package.json"));
      await app.hostTree("app/src", join(repoRoot, "src"), notTest);
      const examples = new Layer("/app/examples (no *.test.ts)");
      await examples.hostTree("app/examples", join(repoRoot, "examples"), notTest);
      out.push({
        name: "kube-offers-examples",
        ref: EXAMPLES_IMAGE,
        layers: [runtime, bundles, deps, app, examples],
        config: { ...config, Cmd: ["examples/batch/main.ts", "--help"] },
      });
    }
  }
  return names.map((n) => out.find((s) => s.name === n)!);
}
