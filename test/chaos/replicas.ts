// Two operator replicas as real processes (node src/controller/main.ts) with leader election on
// a Lease, talking to the API server through the delay proxy. A supervisor restarts any replica
// that dies (a failpoint's SIGKILL, a lost lease's exit) unless a fault holds its slot; a sampler
// reads each live replica's /metrics (leader gauge, allocation cycle count) into the history.
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { CoordinationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { repoRoot } from "../../src/local/binaries.ts";
import type { Recorder } from "./recorder.ts";

export const SLOTS = ["a", "b"] as const;
export type Slot = (typeof SLOTS)[number];

export interface ReplicaTimings {
  leaseMs: number;
  renewMs: number;
  retryMs: number;
}

export class Replica {
  readonly child: ChildProcess;
  readonly identity: string;
  readonly logFile: string;
  url = "";
  synced = false;
  exited: { code: number | null; signal: string | null } | undefined;
  readonly exit: Promise<{ code: number | null; signal: string | null }>;
  mesosUrl = "";
  /** Its last log lines on leading and leases, and its warnings (newest last). */
  readonly recent: string[] = [];

  constructor(identity: string, logDir: string, args: string[], env: Record<string, string>) {
    this.identity = identity;
    this.logFile = join(logDir, `${identity}.log`);
    const log = createWriteStream(this.logFile);
    this.child = spawn(process.execPath, [join(repoRoot, "src/controller/main.ts"), ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buf = "";
    this.child.stdout?.on("data", (d: Buffer) => {
      log.write(d);
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        this.line(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    this.child.stderr?.on("data", (d: Buffer) => log.write(d));
    this.exit = new Promise((resolve) =>
      this.child.on("exit", (code, signal) => {
        this.exited = { code, signal };
        log.end();
        resolve(this.exited);
      }),
    );
  }

  private line(l: string): void {
    try {
      const j = JSON.parse(l) as { msg?: string; http?: string; url?: string; level?: number };
      // What a failed fault reports: the last words on its election and its warnings.
      if ((j.level ?? 0) >= 40 || /lead|lease/i.test(j.msg ?? "")) {
        this.recent.push(l.length > 400 ? `${l.slice(0, 400)}…` : l);
        if (this.recent.length > 8) this.recent.shift();
      }
      if (j.msg === "controller starting") this.url = String(j.http);
      if (j.msg === "caches synced") this.synced = true;
      if (j.msg === "Mesos v1 scheduler API serving") this.mesosUrl = String(j.url);
    } catch {
      // not a log line
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.exited && this.child.pid) process.kill(this.child.pid, sig);
  }
}

export interface ReplicasOptions {
  /** Kubeconfig the replicas use (through the proxy). */
  kubeconfig: string;
  configFile: string;
  pool: string;
  agentLeaseNamespace: string;
  leaseNamespace: string;
  leaseName: string;
  timings: ReplicaTimings;
  logDir: string;
  recorder: Recorder;
  /** Each replica's pid is appended here, so the global teardown can end any a dead worker left. */
  pidFile: string;
  /** Direct client for reading the leader Lease. */
  kc: KubeConfig;
}

export class Replicas {
  readonly live = new Map<Slot, Replica>();
  /** Slots a fault is driving: the supervisor leaves them alone. */
  readonly held = new Set<Slot>();
  private readonly incarnations = new Map<Slot, number>();
  private stopped = false;
  private sampler: NodeJS.Timeout | undefined;
  /** Unplanned exits seen (code/signal), for the report. */
  readonly unplannedExits: string[] = [];
  private readonly planned = new WeakSet<Replica>();

  readonly o: ReplicasOptions;

  constructor(o: ReplicasOptions) {
    this.o = o;
    mkdirSync(o.logDir, { recursive: true });
  }

  async start(): Promise<void> {
    for (const s of SLOTS) this.spawn(s);
    await Promise.all(SLOTS.map((s) => this.waitSynced(s)));
    this.sampler = setInterval(() => void this.sample(), 500);
  }

  spawn(slot: Slot, env: Record<string, string> = {}): Replica {
    const n = (this.incarnations.get(slot) ?? 0) + 1;
    this.incarnations.set(slot, n);
    const t = this.o.timings;
    const r = new Replica(
      `chaos-${slot}-${n}`,
      this.o.logDir,
      [
        "--http-port",
        "0",
        "--http-host",
        "127.0.0.1",
        "--identity",
        `chaos-${slot}-${n}`,
        "--pool",
        this.o.pool,
        "--agent-lease-namespace",
        this.o.agentLeaseNamespace,
        "--leader-election-namespace",
        this.o.leaseNamespace,
        "--leader-election-id",
        this.o.leaseName,
        "--lease-duration",
        `${t.leaseMs}ms`,
        "--renew-deadline",
        `${t.renewMs}ms`,
        "--retry-period",
        `${t.retryMs}ms`,
      ],
      { KUBECONFIG: this.o.kubeconfig, CONFIG_FILE: this.o.configFile, LOG_LEVEL: "info", ...env },
    );
    this.live.set(slot, r);
    if (r.child.pid) appendFileSync(this.o.pidFile, `${r.child.pid}\n`);
    void r.exit.then((x) => {
      if (this.stopped || this.planned.has(r)) return;
      this.unplannedExits.push(`${r.identity}: code ${x.code} signal ${x.signal}`);
      this.o.recorder.note("Fault", r.identity, {
        fault: "replica-exit",
        detail: `code ${x.code} signal ${x.signal}; log ${r.logFile}`,
      });
      if (this.held.has(slot) || this.live.get(slot) !== r) return;
      setTimeout(() => {
        if (!this.stopped && !this.held.has(slot) && this.live.get(slot) === r) this.spawn(slot);
      }, 200);
    });
    return r;
  }

  /** Marks the replica's coming exit as the suite's doing (a fault, a graceful stop). */
  expectExit(r: Replica): void {
    this.planned.add(r);
  }

  async waitSynced(slot: Slot, timeoutMs = 60_000): Promise<Replica> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.live.get(slot);
      if (r?.synced && r.url) return r;
      if (Date.now() > deadline)
        throw new Error(`replica ${slot} did not sync in ${timeoutMs} ms (${r?.logFile})`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** SIGTERM and wait: the leader releases its Lease, so the other replica takes over at once. */
  async stopGracefully(slot: Slot): Promise<void> {
    const r = this.live.get(slot);
    if (!r || r.exited) return;
    this.expectExit(r);
    r.signal("SIGTERM");
    const t = setTimeout(() => r.signal("SIGKILL"), 30_000);
    await r.exit;
    clearTimeout(t);
  }

  /** The Lease's holder identity ("" when none, unreadable, or not read within 5 s). */
  async holder(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const read = this.o.kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name: this.o.leaseName, namespace: this.o.leaseNamespace });
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out")), 5000);
      });
      const l = await Promise.race([read, late]);
      return l.spec?.holderIdentity ?? "";
    } catch {
      return "";
    } finally {
      clearTimeout(timer);
    }
  }

  /** A replica's last lines on its election, for a fault's report. */
  electionLog(r: Replica): string {
    return `${r.exited ? `exited ${JSON.stringify(r.exited)}; ` : ""}last lines:\n${r.recent.join("\n")}`;
  }

  /** The slot whose live replica holds the Lease, waiting (bounded) for one. */
  async leader(timeoutMs = 60_000): Promise<Slot> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const h = await this.holder();
      for (const s of SLOTS) {
        const r = this.live.get(s);
        if (r && !r.exited && r.identity === h && (await this.leads(r))) return s;
      }
      if (Date.now() > deadline)
        throw new Error(`no live leader within ${timeoutMs} ms (holder ${h || "none"})`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  private async metrics(r: Replica): Promise<{ leader: boolean; cycles: number } | undefined> {
    if (!r.url || r.exited) return undefined;
    try {
      const res = await fetch(`${r.url}/metrics`, { signal: AbortSignal.timeout(1500) });
      const text = await res.text();
      const val = (name: string) => {
        const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)$`, "m").exec(text);
        return m ? Number(m[1]) : 0;
      };
      return {
        leader: val("kubeoffers_leader_election_master_status") === 1,
        cycles: val("kubeoffers_allocation_cycle_duration_seconds_count"),
      };
    } catch {
      return undefined;
    }
  }

  private async leads(r: Replica): Promise<boolean> {
    return (await this.metrics(r))?.leader ?? false;
  }

  private async sample(): Promise<void> {
    await Promise.all(
      [...this.live.values()].map(async (r) => {
        if (!r.url || r.exited) return;
        const m = await this.metrics(r);
        this.o.recorder.note("Metrics", r.identity, {
          replica: r.identity,
          reachable: m !== undefined,
          leader: m?.leader ?? false,
          cycles: m?.cycles ?? 0,
        });
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sampler);
    await Promise.all(
      [...this.live.values()].map(async (r) => {
        r.signal("SIGCONT");
        r.signal("SIGTERM");
        const t = setTimeout(() => r.signal("SIGKILL"), 20_000);
        await r.exit;
        clearTimeout(t);
      }),
    );
  }
}
