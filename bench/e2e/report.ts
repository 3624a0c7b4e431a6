// bench:e2e's tables: one row per way of running the workload, the ratios the targets
// are stated in (computed from this run's rows only), API writes per task by resource, and CPU
// seconds per process, so a reader can see what each way cost and what bounded it.
import { isLeaseWrite, quantile, sumCounts, type WriteCounts } from "./measure.ts";

export interface WayResult {
  key: string;
  title: string;
  tasks: number;
  /** Set when the way did not complete; the other figures are then partial. */
  error?: string;
  /** From the submission (t0) until the last task was seen Running. */
  toRunningMs: number;
  /** Per task: t0 → seen Running (the whole workload is submitted at t0). */
  submitToRunningMs: number[];
  /** Per task: its Pod first seen → seen Running (scheduling, binding and the kubelet; not queueing before the Pod). */
  podToRunningMs: number[];
  failed: number;
  /** From t0 until every task ended: the window the write and CPU figures cover. */
  windowMs: number;
  /** API server writes in the window, every client's. */
  writes: WriteCounts;
  /** API server reads (GET, LIST, WATCH opened) in the window, every client's. */
  reads: WriteCounts;
  /** Events the API server sent down watches in the window, by resource. */
  watchEvents: WriteCounts;
  operatorWrites?: number;
  operatorCpuSeconds?: number;
  operatorPeakRssMiB?: number;
  /** CPU seconds in the window by process (kube-apiserver, etcd, simulator, …). */
  cpu: Record<string, number>;
}

const s1 = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : "—");
const f1 = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(1) : "—");
const f2 = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(2) : "—");

export const throughput = (w: WayResult): number =>
  w.error || !w.toRunningMs ? Number.NaN : w.tasks / (w.toRunningMs / 1000);
/** API writes per task, Lease renewals left out (they grow with time and nodes, not tasks). */
export const writesPerTask = (w: WayResult): number => sumCounts(w.writes, (k) => !isLeaseWrite(k)) / w.tasks;
export const operatorWritesPerTask = (w: WayResult): number | undefined =>
  w.operatorWrites === undefined ? undefined : w.operatorWrites / w.tasks;

function table(head: string[], rows: string[][], right: boolean[]): string {
  const out = [`| ${head.join(" | ")} |`, `|${right.map((r) => (r ? " ---: " : " --- ")).join("|")}|`];
  for (const r of rows) out.push(`| ${r.join(" | ")} |`);
  return `${out.join("\n")}\n`;
}

export function mainTable(ways: WayResult[]): string {
  const rows = ways.map((w) => [
    w.title + (w.error ? ` (FAILED: ${w.error})` : ""),
    f1(throughput(w)),
    `${s1(quantile(w.submitToRunningMs, 0.5))} / ${s1(quantile(w.submitToRunningMs, 0.99))}`,
    `${s1(quantile(w.podToRunningMs, 0.5))} / ${s1(quantile(w.podToRunningMs, 0.99))}`,
    String(w.failed),
    f2(writesPerTask(w)),
    f2(operatorWritesPerTask(w)),
    f1(sumCounts(w.writes, isLeaseWrite) / (w.windowMs / 1000)),
    f1(w.operatorCpuSeconds),
    w.operatorPeakRssMiB === undefined ? "—" : String(Math.round(w.operatorPeakRssMiB)),
  ]);
  return table(
    [
      "way",
      "tasks/s to Running",
      "submit→Running p50 / p99 s",
      "Pod→Running p50 / p99 s",
      "failed",
      "API writes/task",
      "operator writes/task",
      "Lease writes/s",
      "operator CPU s",
      "operator peak RSS MiB",
    ],
    rows,
    [false, true, true, true, true, true, true, true, true, true],
  );
}

export interface Ratio {
  what: string;
  value: number;
  target: string;
  met: boolean | undefined;
}

/** The targets, from this run's rows: `kubeOffers` are the framework ways, `b`, `c`, `e` the plain-Pod ones. */
export function ratios(ways: Map<string, WayResult>): Ratio[] {
  const out: Ratio[] = [];
  const b = ways.get("b");
  const c = ways.get("c");
  const e = ways.get("e");
  const check = (what: string, value: number, target: string, ok: (v: number) => boolean) =>
    out.push({ what, value, target, met: Number.isFinite(value) ? ok(value) : undefined });
  for (const d of [...ways.values()].filter((w) => w.key.startsWith("d"))) {
    if (b) check(`${d.title} ÷ ${b.title}, tasks/s`, throughput(d) / throughput(b), "≥ 1.2", (v) => v >= 1.2);
    if (e) check(`${d.title} ÷ ${e.title}, tasks/s`, throughput(d) / throughput(e), "≥ 0.9", (v) => v >= 0.9);
    check(
      `${d.title}: operator writes per task`,
      operatorWritesPerTask(d) ?? Number.NaN,
      "≤ 1.5",
      (v) => v <= 1.5,
    );
  }
  if (b && c) {
    check(
      "plain Pods with ÷ without kube-offers, tasks/s",
      throughput(c) / throughput(b),
      "≥ 0.9",
      (v) => v >= 0.9,
    );
    check(
      "plain Pods with ÷ without kube-offers, API writes/task",
      writesPerTask(c) / writesPerTask(b),
      "≤ 1.1",
      (v) => v <= 1.1,
    );
  }
  return out;
}

export function ratioTable(rs: Ratio[]): string {
  return table(
    ["ratio (this run)", "value", "target", "met"],
    rs.map((r) => [r.what, f2(r.value), r.target, r.met === undefined ? "—" : r.met ? "yes" : "no"]),
    [false, true, false, false],
  );
}

/** Writes per task by verb and resource, for the resources that matter in any way. */
export function writesTable(ways: WayResult[], rowsMax = 14): string {
  return perTaskTable(
    "writes per task",
    ways,
    (w) => w.writes,
    rowsMax,
    (k) => (isLeaseWrite(k) ? " (renewals)" : ""),
  );
}

/** Counts per task by key, the largest first (over every way), one column per way. */
export function perTaskTable(
  heading: string,
  ways: WayResult[],
  counts: (w: WayResult) => WriteCounts,
  rowsMax = 14,
  note: (key: string) => string = () => "",
): string {
  const total = new Map<string, number>();
  for (const w of ways) for (const [k, v] of counts(w)) total.set(k, (total.get(k) ?? 0) + v / w.tasks);
  const keys = [...total]
    .sort((a, b) => b[1] - a[1])
    .slice(0, rowsMax)
    .map(([k]) => k);
  return table(
    [heading, ...ways.map((w) => w.key)],
    keys.map((k) => [k + note(k), ...ways.map((w) => f2((counts(w).get(k) ?? 0) / w.tasks))]),
    [false, ...ways.map(() => true)],
  );
}

/** CPU seconds in each way's window by process, and how many cores that kept busy. */
export function cpuTable(ways: WayResult[]): string {
  const names = [...new Set(ways.flatMap((w) => Object.keys(w.cpu)))].sort();
  const rows = names.map((n) => [n, ...ways.map((w) => f1(w.cpu[n]))]);
  rows.push([
    "all ÷ window (busy cores)",
    ...ways.map((w) =>
      f2(Object.values(w.cpu).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) / (w.windowMs / 1000)),
    ),
  ]);
  rows.push(["window s (t0 → every task ended)", ...ways.map((w) => s1(w.windowMs))]);
  return table(["CPU s", ...ways.map((w) => w.key)], rows, [false, ...ways.map(() => true)]);
}
