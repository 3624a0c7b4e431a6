// The chaos run's table: runs, faults per kind, invariant checks and their violations; and each
// violation with the events that show it.
import type { HistoryEvent } from "./history.ts";
import type { CheckResult } from "./invariants.ts";

export interface FaultTally {
  injected: number;
  unreached: number;
  failed: number;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ")).join("\n");
}

export function formatReport(o: {
  runs: number;
  seconds: number;
  events: number;
  faults: Map<string, FaultTally>;
  results: CheckResult[];
  notes: string[];
}): string {
  const faultRows = [["fault", "injected", "unreached", "failed"]];
  for (const [kind, t] of [...o.faults].sort(([a], [b]) => a.localeCompare(b)))
    faultRows.push([kind, String(t.injected), String(t.unreached), String(t.failed)]);
  const checkRows = [["invariant", "checked", "violations"]];
  for (const r of o.results) checkRows.push([r.invariant, String(r.checked), String(r.violations.length)]);
  const total = o.results.reduce((n, r) => n + r.violations.length, 0);
  return [
    `chaos: ${o.runs} run(s), ${o.seconds} s, ${o.events} history events, ${total} violation(s)`,
    "",
    table(faultRows),
    "",
    table(checkRows),
    ...(o.notes.length ? ["", ...o.notes] : []),
  ].join("\n");
}

function brief(e: HistoryEvent): string {
  return `#${e.seq} ${e.type} ${e.kind} ${e.key} uid=${e.uid} rv=${e.rv} ${JSON.stringify(e.fields)}`;
}

export function formatViolations(results: CheckResult[]): string {
  const out: string[] = [];
  for (const r of results)
    for (const v of r.violations)
      out.push(`[${v.invariant}] ${v.message}`, ...v.events.map((e) => `    ${brief(e)}`));
  return out.join("\n");
}
