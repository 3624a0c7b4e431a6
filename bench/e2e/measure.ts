// What bench:e2e measures, apart from the cluster it runs on: API writes as the API server
// counts them (apiserver_request_total), the operator's own writes (its /metrics counter), CPU
// seconds and peak RSS of a process from /proc, and when each Pod was first seen and seen Running.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";

/** The verbs that change state, as apiserver_request_total names them (APPLY: server-side apply PATCH). */
const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "APPLY", "DELETE"]);
/** The verbs that only read. */
const READ_VERBS = new Set(["GET", "LIST", "WATCH"]);

/** Requests by "<VERB> <group/>resource</subresource>" (or events by resource), from one scrape of the API server. */
export type WriteCounts = Map<string, number>;

/** `name{a="x",b="y"} 12` → labels and value; undefined for comments and other metrics. */
export function parseSample(
  line: string,
  name: string,
): { labels: Record<string, string>; value: number } | undefined {
  if (!line.startsWith(name)) return undefined;
  const rest = line.slice(name.length);
  if (rest[0] !== "{" && rest[0] !== " ") return undefined;
  const labels: Record<string, string> = {};
  let body = rest;
  if (rest[0] === "{") {
    const end = rest.lastIndexOf("}");
    for (const m of rest.slice(1, end).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[m[1] ?? ""] = (m[2] ?? "").replace(/\\(.)/g, "$1");
    body = rest.slice(end + 1);
  }
  const value = Number(body.trim().split(/\s+/)[0]);
  return Number.isFinite(value) ? { labels, value } : undefined;
}

/** The API server's request counters for `verbs` (every client's), keyed by verb and resource. */
function requestCounts(metricsText: string, verbs: ReadonlySet<string>): WriteCounts {
  const out: WriteCounts = new Map();
  for (const line of metricsText.split("\n")) {
    const s = parseSample(line, "apiserver_request_total");
    if (!s || !verbs.has(s.labels.verb ?? "")) continue;
    const { group, resource, subresource } = s.labels;
    // Refused requests (conflicts, gone, throttled) cost the API server too: counted, and named by their code.
    const code = s.labels.code ?? "";
    const refused = code.startsWith("2") ? "" : ` (${code})`;
    const key = `${s.labels.verb} ${group ? `${group}/` : ""}${resource ?? "?"}${subresource ? `/${subresource}` : ""}${refused}`;
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** The API server's write counters (every client's), keyed by verb and resource. */
export const writeCounts = (metricsText: string): WriteCounts => requestCounts(metricsText, WRITE_VERBS);

/** Reads: GETs, LISTs and WATCH requests opened (every client's), keyed by verb and resource. */
export const readCounts = (metricsText: string): WriteCounts => requestCounts(metricsText, READ_VERBS);

/**
 * Events the API server sent down watches, by resource (apiserver_watch_events_total): each is
 * serialised for its watcher, so this is the fan-out a new watcher adds to every change.
 */
export function watchEventCounts(metricsText: string): WriteCounts {
  const out: WriteCounts = new Map();
  for (const line of metricsText.split("\n")) {
    const s = parseSample(line, "apiserver_watch_events_total");
    if (!s) continue;
    const { group } = s.labels;
    const what = s.labels.resource ?? s.labels.kind ?? "?";
    const key = `${group ? `${group}/` : ""}${what}`;
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

export function diffCounts(after: WriteCounts, before: WriteCounts): WriteCounts {
  const out: WriteCounts = new Map();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.set(k, d);
  }
  return out;
}

/** Lease renewals (nodes, agents, leader election, framework liveness) grow with time, not tasks. */
export const isLeaseWrite = (key: string): boolean => / coordination\.k8s\.io\/leases( \(\d+\))?$/.test(key);

export function sumCounts(c: WriteCounts, keep: (key: string) => boolean = () => true): number {
  let n = 0;
  for (const [k, v] of c) if (keep(k)) n += v;
  return n;
}

/** GET the API server's /metrics with the kubeconfig's client certificate (an admin's). */
export async function fetchApiserverMetrics(kc: KubeConfig): Promise<string> {
  return (await fetchApiserver(kc, "/metrics", 30_000)).toString();
}

/** GET a path of the API server with the kubeconfig's client certificate (an admin's). */
export function fetchApiserver(kc: KubeConfig, path: string, timeoutMs: number): Promise<Buffer> {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  return new Promise((resolve, reject) => {
    const req = request(
      `${cluster?.server}${path}`,
      {
        ca: Buffer.from(cluster?.caData ?? "", "base64"),
        cert: Buffer.from(user?.certData ?? "", "base64"),
        key: Buffer.from(user?.keyData ?? "", "base64"),
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          if (res.statusCode === 200) resolve(body);
          else
            reject(new Error(`API server ${path}: HTTP ${res.statusCode}: ${body.toString().slice(0, 200)}`));
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`API server ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** The sum of a metric's samples whose labels include `match`, from a plain-HTTP /metrics; NaN if it is not exported. */
export async function scrapeSum(
  port: number,
  name: string,
  match: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let sum = 0;
  // A counter with labels has no sample before its first increment: exported still means 0.
  let found = text.includes(`# TYPE ${name} `);
  for (const line of text.split("\n")) {
    const s = parseSample(line, name);
    if (!s || !Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    sum += s.value;
    found = true;
  }
  return found ? sum : Number.NaN;
}

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds a process has used so far (NaN once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/** Resets the process's peak RSS (VmHWM) so the next peakRssMiB is this window's; false if the kernel refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Peak resident set size (VmHWM) in MiB. */
export function peakRssMiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Nearest-rank quantile. */
export function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
}

/**
 * When each Pod of one way was first seen (by this process's watch) and first seen Running (or
 * past it: a Pod that ran and finished between two looks counts as Running when it was seen so).
 */
export class PodTimes {
  readonly seen = new Map<string, number>();
  readonly running = new Map<string, number>();
  readonly succeeded = new Set<string>();
  /** Pods that failed (a kubelet refusal, a task that exited non-zero). */
  readonly failed = new Set<string>();

  observe(p: V1Pod, now = Date.now()): void {
    const name = p.metadata?.name ?? "";
    if (!this.seen.has(name)) this.seen.set(name, now);
    const phase = p.status?.phase;
    if (phase === "Failed") {
      this.failed.add(name);
      return;
    }
    if ((phase === "Running" || phase === "Succeeded") && !this.running.has(name))
      this.running.set(name, now);
    if (phase === "Succeeded") this.succeeded.add(name);
  }

  /** Pods that reached Running or failed before it. */
  get settled(): number {
    let neverRan = 0;
    for (const n of this.failed) if (!this.running.has(n)) neverRan++;
    return this.running.size + neverRan;
  }

  /** Pods that ended (Succeeded or Failed). */
  get ended(): number {
    return this.succeeded.size + this.failed.size;
  }
}

export interface OperatorMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  oldSpaceUsed: number;
  newSpaceTotal: number;
  external: number;
}

/** The operator's memory as its /metrics has it (prom-client's process metrics), in MiB: where its RSS goes. */
export async function operatorMemory(port: number): Promise<OperatorMemory> {
  const mib = async (name: string, match: Record<string, string> = {}) =>
    (await scrapeSum(port, `kubeoffers_${name}`, match).catch(() => Number.NaN)) / 2 ** 20;
  return {
    rss: await mib("process_resident_memory_bytes"),
    heapUsed: await mib("nodejs_heap_size_used_bytes"),
    heapTotal: await mib("nodejs_heap_size_total_bytes"),
    oldSpaceUsed: await mib("nodejs_heap_space_size_used_bytes", { space: "old" }),
    newSpaceTotal: await mib("nodejs_heap_space_size_total_bytes", { space: "new" }),
    external: await mib("nodejs_external_memory_bytes"),
  };
}
