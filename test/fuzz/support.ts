// Shared machinery of the generated bad-input suite: sizes and seeds from the environment, one
// outcome tally per surface, and the table printed at the end of a run. A failing property says
// its seed and the command that replays it; a run's rows go to KUBE_OFFERS_FUZZ_DIR (set by
// report.ts) so that one table covers the unit and e2e files of the run.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";

/** Generated cases per unit surface: FUZZ_RUNS (the full run sets 10,000), else the CI slice. */
export function unitRuns(): number {
  return positive(process.env.FUZZ_RUNS, 500);
}

/** Generated mutations for the whole e2e fuzz file: FUZZ_E2E_RUNS (full run 1,500), else the CI slice. */
export function e2eRuns(): number {
  return positive(process.env.FUZZ_E2E_RUNS, 100);
}

function positive(v: string | undefined, fallback: number): number {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** A fixed seed per surface (FUZZ_SEED overrides all), so a failure replays exactly. */
export function seedFor(surface: string): number {
  const fixed = Number(process.env.FUZZ_SEED);
  if (Number.isInteger(fixed)) return fixed;
  let h = 2166136261;
  for (const ch of surface) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h | 0;
}

export const OUTCOMES = ["rejected", "invalid", "taskError", "accepted"] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface Row {
  surface: string;
  level: "unit" | "e2e";
  cases: number;
  counts: Record<Outcome, number>;
  failures: number;
  seed: number;
}

export class Tally {
  readonly row: Row;
  constructor(surface: string, level: Row["level"], seed: number) {
    this.row = {
      surface,
      level,
      cases: 0,
      counts: { rejected: 0, invalid: 0, taskError: 0, accepted: 0 },
      failures: 0,
      seed,
    };
  }

  count(outcome: Outcome, n = 1): void {
    this.row.counts[outcome] += n;
  }

  /** One generated case: its outcome. */
  record(outcome: Outcome): void {
    this.row.cases++;
    this.count(outcome);
  }

  /** Writes the row for the end-of-run table (report.ts), and returns it. */
  save(): Row {
    const dir = process.env.KUBE_OFFERS_FUZZ_DIR;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      const file = `${this.row.level}-${this.row.surface.replace(/[^a-z0-9]+/gi, "_")}.json`;
      writeFileSync(join(dir, file), JSON.stringify(this.row));
    }
    return this.row;
  }
}

/**
 * Saves the rows of a file's surfaces for the end-of-run table; prints them as well when no
 * report collects them (a file run outside the fuzz project, e.g. only the e2e project).
 */
export function report(tallies: Tally[]): void {
  const rows = tallies.map((t) => t.save());
  if (!process.env.KUBE_OFFERS_FUZZ_DIR) console.log(`\n${formatTable(rows)}`);
}

/** The table: one line per surface, outcome counts and failures, plus a total. */
export function formatTable(rows: Row[]): string {
  const head = [
    "level",
    "surface",
    "cases",
    "rejected",
    "Invalid",
    "TASK_ERROR",
    "accepted",
    "failures",
    "seed",
  ];
  const total: Row = {
    surface: "total",
    level: "unit",
    cases: 0,
    counts: { rejected: 0, invalid: 0, taskError: 0, accepted: 0 },
    failures: 0,
    seed: 0,
  };
  for (const r of rows) {
    total.cases += r.cases;
    total.failures += r.failures;
    for (const o of OUTCOMES) total.counts[o] += r.counts[o];
  }
  const line = (r: Row, level: string, seed: string) => [
    level,
    r.surface,
    String(r.cases),
    String(r.counts.rejected),
    String(r.counts.invalid),
    String(r.counts.taskError),
    String(r.counts.accepted),
    String(r.failures),
    seed,
  ];
  const body = [...rows.map((r) => line(r, r.level, String(r.seed))), line(total, "", "")];
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [fmt(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(fmt)].join("\n");
}

/**
 * Runs a property `runs` times from the surface's fixed seed; `check` throws when the oracle
 * fails and otherwise says the case's outcome, which is counted (not while fast-check shrinks a
 * failure). On a failure the error says the seed and the command that replays it (fast-check
 * adds the path and the shrunk counterexample).
 */
export function fuzz<T>(
  tally: Tally,
  file: string,
  arb: fc.Arbitrary<T>,
  check: (input: T) => Outcome,
  runs = unitRuns(),
): void {
  const seed = tally.row.seed;
  let failed = false;
  try {
    fc.assert(
      fc.property(arb, (input) => {
        try {
          const outcome = check(input);
          if (!failed) tally.record(outcome);
        } catch (err) {
          if (process.env.FUZZ_DEBUG && !failed)
            console.error((err as Error).stack?.split("\n").slice(0, 14).join("\n"));
          failed = true;
          throw err;
        }
      }),
      { numRuns: runs, seed },
    );
  } catch (err) {
    tally.row.failures++;
    const replay = `FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npx vitest run ${file}`;
    const cause = (err as { cause?: unknown }).cause;
    const why = cause instanceof Error ? `\nOracle: ${cause.message}` : "";
    throw new Error(
      `${tally.row.surface}: failed (seed ${seed}; replay: ${replay})\n${(err as Error).message}${why}`,
    );
  }
}

/** A short printable form of any generated value (some have no prototype, or nest thousands deep). */
export function show(v: unknown): string {
  try {
    const s = typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return "<unprintable>";
  }
}

/** A new tally for `surface`, from its fixed seed, added to a file's list. */
export function tallyIn(list: Tally[], surface: string, level: Row["level"] = "unit"): Tally {
  const t = new Tally(surface, level, seedFor(surface));
  list.push(t);
  return t;
}
