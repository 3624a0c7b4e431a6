// `npm start` end to end: it comes up on its own control plane, shows tasks running within a
// minute, points at a working kubeconfig, and Ctrl-C (SIGINT to its process group, as a
// terminal sends it) stops everything with no process left behind.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { repoRoot } from "../../src/local/binaries.ts";
import { waitFor } from "./support.ts";

const registryDir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kube-offers", "run");
let child: ChildProcess | undefined;

afterAll(() => {
  // Only if the test failed half-way: never leave a demo running.
  if (child?.pid && child.exitCode === null) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("npm start", () => {
  it("comes up, runs tasks within a minute, and stops cleanly on Ctrl-C", { timeout: 150_000 }, async () => {
    const started = Date.now();
    // What `npm start` runs, in its own process group like a shell job.
    child = spawn(process.execPath, ["src/cli/start.ts"], {
      cwd: repoRoot,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const pid = child.pid!;
    let out = "";
    let err = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((r) => child?.once("exit", (code) => r(code)));

    const running = await waitFor(
      "the summary to show running tasks",
      async () => {
        const m = [...out.matchAll(/^TASKS .*running (\d+)/gm)].pop();
        return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
      },
      90_000,
      200,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nstdout:\n${out}\nstderr:\n${err}`);
    });
    expect(running).toBeGreaterThan(0);
    // Within a minute of the control plane being up (the binaries are cached by global setup).
    expect(Date.now() - started).toBeLessThan(75_000);
    // Where the machine runs containers (the global setup found out), a real node joins the five.
    const real = inject("realNode") !== "";
    expect(out).toMatch(real ? /^AGENTS\s+6\/6 ready/m : /^AGENTS\s+5\/5 ready/m);
    expect(out).toMatch(/^\s+web\s+Active/m);
    expect(out).toMatch(/^\s+batch-1\s+Active/m);
    const kubeconfig = /^kubeconfig\s+(\S+)$/m.exec(out)?.[1] ?? "";
    expect(kubeconfig).not.toBe("");
    expect(existsSync(kubeconfig)).toBe(true);
    expect(out).toMatch(/kubectl --kubeconfig \S+ -n demo get resourceoffers -w/);
    // The printed command works: offers of the demo frameworks, as kubectl shows them.
    const table = execFileSync(
      join(inject("binDir"), "kubectl"),
      ["--kubeconfig", kubeconfig, "-n", "demo", "get", "resourceoffers"],
      {
        encoding: "utf8",
      },
    );
    expect(table).toMatch(/FRAMEWORK\s+AGENT\s+ROLE/);
    if (real) {
      // The printed `kubectl logs` line works: the service's instance on the real node printed.
      const line = /^logs\s+(.*kubectl .* logs \$\(.*\))$/m.exec(out)?.[1] ?? "";
      expect(line).not.toBe("");
      const logs = await waitFor(
        "the real node's service instance to print",
        async () => {
          const o = execFileSync("bash", ["-c", line], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
          });
          return /serving on port \d+/.test(o) ? o : undefined;
        },
        60_000,
        1000,
      );
      expect(logs).toMatch(/^serving on port \d+$/m);
    }

    // The processes it started, from the harness's PID registry.
    const registry = JSON.parse(readFileSync(join(registryDir, `${pid}-1.json`), "utf8")) as {
      name: string;
      pid: number;
    }[];
    expect(registry.map((p) => p.name).sort()).toEqual(["etcd", "kube-apiserver", "kube-controller-manager"]);
    expect(registry.every((p) => alive(p.pid))).toBe(true);
    const nodeProcesses = real
      ? (JSON.parse(readFileSync(join(registryDir, `${pid}-2.json`), "utf8")) as {
          name: string;
          pid: number;
        }[])
      : [];
    if (real)
      expect(nodeProcesses.map((p) => p.name.replace(/-[0-9a-f]+-n\d+$/, "")).sort()).toEqual([
        "containerd",
        "kube-proxy",
        "kubelet",
      ]);

    process.kill(-pid, "SIGINT");
    const code = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r("still running"), 30_000)),
    ]);
    expect(code, err).toBe(0);
    expect(err).toMatch(/stopped; no process left behind/);
    for (const p of [...registry, ...nodeProcesses])
      expect(alive(p.pid), `${p.name} (pid ${p.pid})`).toBe(false);
    expect(alive(-pid) || alive(pid)).toBe(false);
    expect(existsSync(kubeconfig)).toBe(false); // its state directory is gone too
    expect(existsSync(join(registryDir, `${pid}-1.json`))).toBe(false);
  });
});
