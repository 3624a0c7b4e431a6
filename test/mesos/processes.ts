// Client processes a test starts (msh, the Mesos CLI, a mesoshttp framework): their output is
// kept for failure messages, a run is bounded, and stopAll() ends whatever is still running by
// its PID — also when the test failed half-way. Each child leads its own process group, so a
// wrapper script (mesos-cli is bash running python) is ended with what it started.
import { type ChildProcess, spawn } from "node:child_process";

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  readonly pid: number;
  /** Everything it printed so far. */
  output(): { stdout: string; stderr: string };
  /** How it ended, once it has. */
  ended(): Exited | undefined;
  readonly exited: Promise<Exited>;
}

export class Processes {
  private readonly running = new Map<number, ChildProcess>();

  start(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Started {
    const child = spawn(cmd, args, { ...opts, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let ended: Exited | undefined;
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<Exited>((resolve) => {
      child.on("error", (err) => {
        stderr += `\n${cmd}: ${err.message}`;
      });
      child.on("close", (code, signal) => {
        if (child.pid !== undefined) this.running.delete(child.pid);
        ended = { code, signal, stdout, stderr };
        resolve(ended);
      });
    });
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    this.running.set(child.pid, child);
    return { pid: child.pid, output: () => ({ stdout, stderr }), ended: () => ended, exited };
  }

  /** Runs to the end within timeoutMs; a run that takes longer is ended and rejected with its output. */
  async run(
    cmd: string,
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number },
  ): Promise<Exited> {
    const p = this.start(cmd, args, opts);
    return this.waitExit(p, opts.timeoutMs, `${cmd} ${args.join(" ")}`);
  }

  /** Waits for a started process to exit within timeoutMs; past that it is ended and this rejects. */
  async waitExit(p: Started, timeoutMs: number, what: string): Promise<Exited> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    const r = await Promise.race([p.exited, late]);
    clearTimeout(timer);
    if (r !== "late") return r;
    await this.stop(p.pid);
    const out = p.output();
    throw new Error(
      `${what} did not exit within ${timeoutMs} ms (ended)\nstdout:\n${out.stdout.slice(-3000)}\nstderr:\n${out.stderr.slice(-6000)}`,
    );
  }

  /** Ends one process (its group): SIGTERM, then SIGKILL if it is still there after 5 s. */
  async stop(pid: number): Promise<void> {
    const child = this.running.get(pid);
    if (!child) return;
    const gone = new Promise<void>((resolve) => child.once("close", () => resolve()));
    signal(pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), 5000);
    });
    if ((await Promise.race([gone, late])) === "late") {
      signal(pid, "SIGKILL");
      await gone;
    }
    clearTimeout(timer);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((pid) => this.stop(pid)));
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // The group is gone already.
  }
}
