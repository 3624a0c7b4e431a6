// What every example framework shares: command-line options, a kubeconfig, a logger, and a
// serialized decision loop (the scheduler scaffold on top of it is ./scheduler.ts). Nothing here is kube-offers specific; the frameworks are in
// examples/{batch,service,gang}/<name>.ts.
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import type { LogFn, LogLevel } from "kube-offers/sdk";

export interface CommonOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  leaseSeconds: number;
  log: LogFn;
}

type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; multiple?: boolean; default?: string | boolean }
>;

const COMMON: OptionSpec = {
  kubeconfig: { type: "string" },
  namespace: { type: "string" },
  name: { type: "string" },
  label: { type: "string", multiple: true },
  "lease-seconds": { type: "string" },
  "log-level": { type: "string" },
  help: { type: "boolean" },
};

/** Every example's tasks: their size and what they run (each example's usage lists them). */
const TASK: OptionSpec = {
  cpu: { type: "string" },
  memory: { type: "string" },
  image: { type: "string" },
  shell: { type: "string" },
};

/** The values of TASK: size, image and command line (image and shell only when given). */
export interface TaskOptions {
  cpu: string;
  memory: string;
  image?: string;
  shell?: string;
}

const COMMON_HELP = `  --kubeconfig PATH     kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespace NS        namespace of the Framework, its offers and tasks (default: $NAMESPACE or "default")
  --name NAME           the Framework's name (default: the example's)
  --label KEY=VALUE     a label for the Framework, repeatable (e.g. kubeoffers.io/pool=p1)
  --lease-seconds N     liveness Lease duration (default 10)
  --log-level LEVEL     debug, info, warn or error (default info)`;

/**
 * Parses the common options, the task options (--cpu, --memory: default `taskSize`; --image,
 * --shell) and the example's own; prints usage and exits on --help or bad input.
 */
export function parseOptions(
  argv: string[],
  example: { name: string; usage: string; taskSize: { cpu: string; memory: string }; options: OptionSpec },
): {
  common: CommonOptions;
  task: TaskOptions;
  values: Record<string, string | boolean | string[] | undefined>;
} {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    values = parseArgs({ args: argv, options: { ...COMMON, ...TASK, ...example.options }, strict: true })
      .values as Record<string, string | boolean | string[] | undefined>;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${example.usage}\n${COMMON_HELP}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${example.usage}\n${COMMON_HELP}\n`);
    process.exit(0);
  }
  const kc = new KubeConfig();
  if (typeof values.kubeconfig === "string") kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  const labels: Record<string, string> = {};
  for (const l of (values.label as string[] | undefined) ?? []) {
    const i = l.indexOf("=");
    if (i <= 0) fail(`--label ${l}: expected KEY=VALUE`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  const level = (values["log-level"] as LogLevel | undefined) ?? "info";
  const name = (values.name as string | undefined) ?? example.name;
  return {
    common: {
      kubeConfig: kc,
      namespace: (values.namespace as string | undefined) ?? process.env.NAMESPACE ?? "default",
      name,
      labels,
      leaseSeconds: num(values["lease-seconds"], 10, "--lease-seconds"),
      log: consoleLog(name, level),
    },
    task: {
      cpu: (values.cpu as string | undefined) ?? example.taskSize.cpu,
      memory: (values.memory as string | undefined) ?? example.taskSize.memory,
      ...(values.image ? { image: values.image as string } : {}),
      ...(values.shell ? { shell: values.shell as string } : {}),
    },
    values,
  };
}

/** --on-done stop|idle (default stop). */
export function onDoneOption(v: unknown): "stop" | "idle" {
  const onDone = (v as string | undefined) ?? "stop";
  if (onDone !== "stop" && onDone !== "idle") fail(`--on-done ${onDone}: expected stop or idle`);
  return onDone;
}

export function fail(msg: string): never {
  process.stderr.write(`${msg}\n`);
  process.exit(2);
}

export function num(v: unknown, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`${what}: expected a non-negative number, got ${String(v)}`);
  return n;
}

/** "5" or "3-9": a fixed number of seconds, or a random whole number in the range per task. */
export function secondsRange(v: unknown, fallback: string): () => number {
  const s = String(v ?? fallback);
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(s);
  if (!m) fail(`expected SECONDS or MIN-MAX, got ${s}`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return () => (hi > lo ? Math.round(lo + Math.random() * (hi - lo)) : lo);
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Human-readable log lines on stderr: time, framework, level, message, fields. */
export function consoleLog(
  name: string,
  level: LogLevel = "info",
  write = (s: string) => process.stderr.write(s),
): LogFn {
  const min = RANK[level] ?? 20;
  return (lvl, msg, fields) => {
    if ((RANK[lvl] ?? 20) < min) return;
    const t = new Date().toISOString().slice(11, 19);
    const f = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : "";
    write(`${t} ${name} ${lvl.padEnd(5)} ${msg}${f}\n`);
  };
}

/**
 * Runs `tick` one at a time: poke() asks for a run soon (coalescing bursts of events), and it
 * also runs every `everyMs`. A level-based scheduler needs nothing more: each run looks at the
 * offers and tasks as they are now and acts on the difference.
 */
export class DecisionLoop {
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly tick: () => Promise<void>;
  private readonly onError: (err: unknown) => void;

  constructor(tick: () => Promise<void>, onError: (err: unknown) => void, everyMs = 2000) {
    this.tick = tick;
    this.onError = onError;
    this.timer = setInterval(() => this.poke(), everyMs);
  }

  poke(delayMs = 20): void {
    if (this.stopped || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.run();
    }, delayMs);
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        if (this.stopped) return;
        try {
          await this.tick();
        } catch (err) {
          this.onError(err);
        }
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  /** Stops ticking, without waiting. */
  halt(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
  }

  /** Stops ticking and waits for a tick in progress. */
  async stop(): Promise<void> {
    this.halt();
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs a framework until it is done or SIGINT/SIGTERM; exits with its exit code. */
export async function runMain(fw: { run(): Promise<number>; stop(): Promise<void> }): Promise<void> {
  let signalled = false;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      signalled = true;
      void fw.stop().then(() => process.exit(0));
    });
  }
  try {
    const code = await fw.run();
    if (!signalled) {
      await fw.stop();
      process.exit(code);
    }
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    await fw.stop().catch(() => {});
    process.exit(1);
  }
}
