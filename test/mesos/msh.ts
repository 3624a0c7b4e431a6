// mesos-go's `msh` — a small, unmodified protobuf scheduler from github.com/mesos/mesos-go —
// built from the Go module proxy at test time, once per machine, into a cache outside the repo
// keyed by the versions, the Go version and this recipe (as src/local/binaries.ts and
// hack/controlplane/build.sh build the control plane): built in a temporary directory and
// renamed into place, so a half-built binary is never used. Fails loudly when Go, a C compiler
// (msh's tty support uses cgo) or the proxy is missing: the msh test must not pass by skipping.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const MESOS_GO_MODULE = "github.com/mesos/mesos-go";
export const MESOS_GO_VERSION = "v0.0.11";
// mesos-go v0.0.11 has no go.mod, so its imports resolve to their latest versions; client_golang
// after v0.9.4 no longer builds with its metrics code.
export const CLIENT_GOLANG_VERSION = "v0.9.4";
const MSH_PACKAGE = `${MESOS_GO_MODULE}/api/v1/cmd/msh`;
const BUILD_TIMEOUT_MS = 15 * 60_000;

/** The steps of the build, in order; part of the cache key, so changing one rebuilds. */
function recipe(out: string): [string, string[]][] {
  return [
    ["go", ["mod", "init", "kubeoffers.local/msh"]],
    [
      "go",
      [
        "get",
        `${MESOS_GO_MODULE}@${MESOS_GO_VERSION}`,
        `github.com/prometheus/client_golang@${CLIENT_GOLANG_VERSION}`,
      ],
    ],
    ["go", ["build", "-trimpath", "-ldflags", "-s -w", "-o", out, MSH_PACKAGE]],
  ];
}

function cacheRoot(): string {
  return (
    process.env.KUBE_OFFERS_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kube-offers")
  );
}

function goEnv(root: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // Shared with the control-plane build: modules and compiled packages are reused.
    GOMODCACHE: join(root, "go", "mod"),
    GOCACHE: join(root, "go", "build"),
    GOFLAGS: "-mod=mod",
    GOTOOLCHAIN: "local",
    CGO_ENABLED: "1",
  };
}

function goVersion(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("go", ["env", "GOVERSION"], { timeout: 30_000 }, (err, stdout, stderr) =>
      err
        ? reject(
            new Error(`the msh test builds mesos-go's msh and needs Go on PATH: ${stderr || err.message}`),
          )
        : resolve(stdout.trim()),
    );
  });
}

/** Runs one build step in `cwd`, its output going to stderr as progress; rejects with the tail of it. */
function step(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  deadline: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const keep = (d: Buffer) => {
      process.stderr.write(`[msh build] ${d}`);
      tail = (tail + d.toString()).slice(-4000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => child.kill("SIGKILL"), Math.max(1, deadline - Date.now()));
    // Compiling prints nothing for minutes: say it is still going, so it never looks hung.
    const started = Date.now();
    const heartbeat = setInterval(
      () =>
        process.stderr.write(
          `[msh build] still running ${cmd} ${args[0]} (${Math.round((Date.now() - started) / 1000)} s)\n`,
        ),
      30_000,
    );
    const done = () => {
      clearTimeout(timer);
      clearInterval(heartbeat);
    };
    child.on("error", (err) => {
      done();
      reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}`));
    });
    child.on("exit", (code, signal) => {
      done();
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}

async function build(): Promise<string> {
  const root = cacheRoot();
  const gover = await goVersion();
  const hash = createHash("sha256")
    .update(JSON.stringify(recipe("<out>")))
    .update(gover)
    .digest("hex")
    .slice(0, 12);
  const dir = join(
    root,
    "msh",
    `mesos-go-${MESOS_GO_VERSION}_client_golang-${CLIENT_GOLANG_VERSION}_${gover}_${hash}`,
  );
  const bin = join(dir, "msh");
  if (existsSync(bin)) return bin;

  mkdirSync(join(root, "msh"), { recursive: true });
  const tmp = mkdtempSync(join(root, "msh", ".tmp-"));
  try {
    const work = join(tmp, "work");
    mkdirSync(work);
    mkdirSync(join(tmp, "out"));
    const env = goEnv(root);
    const deadline = Date.now() + BUILD_TIMEOUT_MS;
    process.stderr.write(`[msh build] building ${MSH_PACKAGE}@${MESOS_GO_VERSION} into ${dir}\n`);
    for (const [cmd, args] of recipe(join(tmp, "out", "msh"))) await step(cmd, args, work, env, deadline);
    rmSync(work, { recursive: true, force: true });
    try {
      renameSync(join(tmp, "out"), dir);
    } catch (err) {
      // Another run published it first: use that one.
      if (!existsSync(bin)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

let built: Promise<string> | undefined;

/** The path of the msh binary, building it first when this machine has none. */
export function ensureMsh(): Promise<string> {
  built ??= build();
  return built;
}
