// Child processes of the local control plane, tracked by PID so every one of them is ended:
// on stop(), on the owner's exit, and — if the owner was SIGKILLed — by the next run, which
// reaps processes listed in registry files whose owner is gone.
import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

export interface ManagedProcess {
  name: string;
  pid: number;
  command: string;
  logFile: string;
  child: ChildProcess;
  /** Resolves when the process exits, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running: boolean;
}

interface RegistryEntry {
  name: string;
  pid: number;
  command: string;
}

/**
 * Where owners record what they started (processes, node networks, real nodes), so that the
 * next run can end what an owner that died uncleanly left behind.
 */
export const REGISTRY_DIR = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"),
  "kube-offers",
  "run",
);

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;
let groupCounter = 0;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: 'exit' handlers must be synchronous, so SIGKILL whatever is still alive.
  process.on("exit", () => {
    for (const p of live) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  });
}

/** Whether a process with this PID exists (signal 0 probes without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills processes recorded by owners that no longer exist (e.g. a test runner killed with -9). */
export function reapOrphans(registryDir: string): string[] {
  const reaped: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(registryDir);
  } catch {
    return reaped;
  }
  for (const f of files) {
    // Only process groups' files (`<owner>-<n>.json`): node networks and real nodes keep their
    // own records here, for their own reapers.
    if (!/^\d+-\d+\.json$/.test(f)) continue;
    const owner = Number(f.split("-")[0]);
    if (!Number.isInteger(owner) || isAlive(owner)) continue;
    let entries: RegistryEntry[] = [];
    try {
      entries = JSON.parse(readFileSync(join(registryDir, f), "utf8")) as RegistryEntry[];
    } catch {
      /* unreadable: drop it */
    }
    for (const e of entries) {
      let cmdline = "";
      try {
        cmdline = readFileSync(`/proc/${e.pid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      // Only kill a PID that still runs the same binary: PIDs get reused.
      if (!cmdline.startsWith(e.command)) continue;
      try {
        process.kill(e.pid, "SIGKILL");
        reaped.push(`${e.name} (pid ${e.pid})`);
      } catch {
        /* gone */
      }
    }
    // A temporary state directory the dead owner would have removed (`<registry>.dir`).
    const dirFile = join(registryDir, f.replace(/\.json$/, ".dir"));
    try {
      const dir = readFileSync(dirFile, "utf8").trim();
      if (dir.startsWith(tmpdir()) && /kube-offers-/.test(dir)) {
        // Never through a mount (a real node's that its reaper could not remove): keep both
        // records, a later run retries.
        if (mountedUnder(dir)) continue;
        rmSync(dir, { recursive: true, force: true });
      }
    } catch {
      /* none recorded */
    }
    rmSync(join(registryDir, f), { force: true });
    rmSync(dirFile, { force: true });
  }
  return reaped;
}

function mountedUnder(dir: string): boolean {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .some((l) => {
        const point = l.split(" ")[4] ?? "";
        return point === dir || point.startsWith(`${dir}/`);
      });
  } catch {
    return false; // no mountinfo (not Linux): no real nodes either
  }
}

export class ProcessGroup extends EventEmitter {
  readonly processes = new Map<string, ManagedProcess>();
  private readonly registryFile: string;
  private stopping = false;

  private readonly logDir: string;

  constructor(logDir: string, registryDir: string) {
    super();
    this.logDir = logDir;
    mkdirSync(logDir, { recursive: true });
    mkdirSync(registryDir, { recursive: true });
    this.registryFile = join(registryDir, `${process.pid}-${++groupCounter}.json`);
    installExitHook();
  }

  /**
   * `execs`: the program the process ends up running, when `command` is a wrapper that execs
   * it (nsenter): what a later run checks before it reaps this PID.
   */
  spawn(
    name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
    execs = command,
  ): ManagedProcess {
    const logFile = join(this.logDir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: "a" });
    // Own process group: a terminal's Ctrl-C goes to the owner, which stops these in order,
    // instead of killing them under it (they are still ended by PID on every path).
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    const proc: ManagedProcess = {
      name,
      pid: child.pid,
      command: execs,
      logFile,
      child,
      running: true,
      exited: new Promise((resolve) => {
        child.once("exit", (code, signal) => {
          proc.running = false;
          live.delete(proc);
          this.writeRegistry();
          resolve({ code, signal });
          if (!this.stopping) this.emit("exit", name, code, signal);
        });
      }),
    };
    child.once("error", (err) => this.emit("error", new Error(`${name}: ${err.message}`)));
    this.processes.set(name, proc);
    live.add(proc);
    this.writeRegistry();
    return proc;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(name: string, graceMs = 5000): Promise<void> {
    const p = this.processes.get(name);
    if (!p?.running) return;
    p.child.kill("SIGTERM");
    const timer = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
    await p.exited;
    clearTimeout(timer);
  }

  /** Hard kill without grace, for fault-injection tests. */
  kill(name: string): void {
    const p = this.processes.get(name);
    if (p?.running) p.child.kill("SIGKILL");
  }

  async stopAll(graceMs = 5000): Promise<void> {
    this.stopping = true;
    for (const name of [...this.processes.keys()].reverse()) await this.stop(name, graceMs);
    rmSync(this.registryFile, { force: true });
    rmSync(this.registryFile.replace(/\.json$/, ".dir"), { force: true });
  }

  /** Records a temporary directory for the next run to remove if this owner dies uncleanly. */
  ownsDirectory(dir: string): void {
    writeFileSync(this.registryFile.replace(/\.json$/, ".dir"), dir);
  }

  private writeRegistry(): void {
    const entries: RegistryEntry[] = [...this.processes.values()]
      .filter((p) => p.running)
      .map((p) => ({ name: p.name, pid: p.pid, command: p.command }));
    writeFileSync(this.registryFile, JSON.stringify(entries));
  }
}
