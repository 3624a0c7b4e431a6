// Installs the Mesos clients of test/mesos/requirements.txt (mesoshttp, the Mesos CLI) from PyPI
// into a venv cached outside the repository (~/.cache/kube-offers/mesos-venv/<hash>), the way the
// control plane binaries are cached. Fails loudly when Python or PyPI is unreachable: the client
// tests must not pass by skipping.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const REQUIREMENTS = join(here, "requirements.txt");

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, out: `${stdout}${stderr}${err && code === 1 && !stderr ? String(err) : ""}` });
    });
  });
}

/** The venv's python, installing it first if needed. */
export async function mesosVenv(python = process.env.PYTHON ?? "python3"): Promise<string> {
  const version = await run(python, ["-c", "import sys; print(sys.version)"], 30_000);
  if (version.code !== 0)
    throw new Error(`the Mesos client tests need Python 3 (${python}): ${version.out.trim()}`);
  const reqs = readFileSync(REQUIREMENTS, "utf8");
  const hash = createHash("sha256").update(reqs).update(version.out).digest("hex").slice(0, 12);
  const root = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kube-offers", "mesos-venv");
  const dir = join(root, hash);
  const bin = join(dir, "bin", "python");
  if (existsSync(join(dir, ".complete"))) return bin;
  mkdirSync(root, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const mk = await run(python, ["-m", "venv", tmp], 120_000);
  if (mk.code !== 0) throw new Error(`python3 -m venv failed: ${mk.out.slice(-2000)}`);
  const pip = await run(
    join(tmp, "bin", "python"),
    ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", REQUIREMENTS],
    300_000,
  );
  if (pip.code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(
      `could not install the Mesos clients (${REQUIREMENTS}) from PyPI with pip; the client tests cannot run without them:\n${pip.out.slice(-3000)}`,
    );
  }
  writeFileSync(join(tmp, ".complete"), `${new Date().toISOString()}\n`);
  try {
    renameSync(tmp, dir);
  } catch {
    // Another run finished first: use its venv.
    rmSync(tmp, { recursive: true, force: true });
  }
  // The venv's python is a symlink to the interpreter; paths inside it refer to tmp no more than
  // its scripts do, and `python -m` works from the renamed folder.
  return bin;
}

/**
 * The venv's bin directory, to put first on a client's PATH: console scripts whose shebang names
 * the venv's temporary path break once it is renamed, but `mesos-cli` is a shell script that
 * runs `python -m …`, which finds the venv's python on PATH.
 */
export function venvBinDir(python: string): string {
  return dirname(python);
}
