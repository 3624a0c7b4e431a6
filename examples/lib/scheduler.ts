// The scaffold every example scheduler stands on, so that examples/{batch,service,gang} keep
// only their policy: what to launch, and when they are done.
//
//   class MyFramework extends Scheduler<MyOptions> {
//     constructor(opts: MyOptions) {
//       super(opts, { framework: { roles: ["*"] }, started: ["my started", {}], stopCode: 0 });
//     }
//     protected override async tick() { … look at this.client.offers() and .tasks(), answer … }
//   }
//
// It registers a FrameworkClient, re-runs tick() (one at a time, see DecisionLoop) on every
// offer, task update, rescind, answer and reconnection and every couple of seconds, and gives
// run() and stop(). tick() is only called while the client is connected and until complete().
import type { KubeConfig } from "@kubernetes/client-node";
import {
  FrameworkClient,
  type FrameworkRegistration,
  type LogFn,
  type LogLevel,
  type Task,
} from "kube-offers/sdk";
import { DecisionLoop } from "./runtime.ts";

/** What every example is given: where to register, as what, and where to log. */
export interface SchedulerOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  leaseSeconds?: number;
  log?: LogFn;
}

/** What an example tells the scaffold about itself. */
export interface SchedulerSetup {
  /** The Framework spec to register (roles, failover timeout, display name, constraints…). */
  framework: FrameworkRegistration;
  /** The line run() logs once registered: message and fields. */
  started: [message: string, fields: Record<string, unknown>];
  /** The exit code run() resolves with when stop() comes first. */
  stopCode: number;
  /** After complete(): resolve run() ("stop", the default), or stay registered and idle. */
  onDone?: "stop" | "idle";
  /** How often tick() runs without any event (default 2000 ms). */
  everyMs?: number;
}

export abstract class Scheduler<O extends SchedulerOptions = SchedulerOptions> {
  readonly client: FrameworkClient;
  protected readonly opts: O;
  protected readonly log: LogFn;
  private readonly setup: SchedulerSetup;
  private readonly loop: DecisionLoop;
  private finish: ((code: number) => void) | undefined;
  private readonly finished: Promise<number>;
  private completed = false;

  constructor(opts: O, setup: SchedulerSetup) {
    this.opts = opts;
    this.setup = setup;
    this.log = opts.log ?? (() => {});
    this.client = new FrameworkClient({
      kubeConfig: opts.kubeConfig,
      namespace: opts.namespace,
      name: opts.name,
      labels: opts.labels ?? {},
      framework: setup.framework,
      liveness: { leaseSeconds: opts.leaseSeconds ?? 10 },
      log: this.log,
    });
    this.finished = new Promise((resolve) => {
      this.finish = resolve;
    });
    this.loop = new DecisionLoop(
      async () => {
        if (this.client.connected && !this.completed) await this.tick();
      },
      (err) => this.log("warn", `decision failed: ${err instanceof Error ? err.message : String(err)}`),
      setup.everyMs,
    );
    for (const ev of ["offer", "update", "rescinded", "answered", "connected"] as const)
      this.client.on(ev, () => this.loop.poke());
  }

  /** One decision on the offers and tasks as they are now. */
  protected abstract tick(): Promise<void>;

  /** Registers and schedules; resolves with an exit code when done (see complete) or stopped. */
  async run(): Promise<number> {
    await this.client.start();
    this.log("info", ...this.setup.started);
    this.loop.poke();
    return this.finished;
  }

  async stop(opts: { teardown?: boolean } = {}): Promise<void> {
    // Client first: a decision in flight that is waiting on the API gives up at once.
    this.loop.halt();
    await this.client.stop(opts);
    await this.loop.stop();
    this.finish?.(this.setup.stopCode);
  }

  /** Done for good: no more ticks, no more offers; logs why and resolves run() with `code`. */
  protected async complete(
    code: number,
    level: LogLevel,
    message: string,
    fields?: Record<string, unknown>,
  ): Promise<void> {
    this.completed = true;
    await this.client.suppress();
    this.log(level, message, fields);
    if (this.setup.onDone !== "idle") this.finish?.(code);
  }
}

/**
 * Tasks grouped by the number their id starts with — the first capture group of `idPattern`
 * (a task index, an instance, a generation). Tasks whose id does not match are left out.
 */
export function tasksByIndex(tasks: Iterable<Task>, idPattern: RegExp): Map<number, Task[]> {
  const out = new Map<number, Task[]>();
  for (const t of tasks) {
    const m = idPattern.exec(t.id);
    if (!m) continue;
    const i = Number(m[1]);
    out.set(i, [...(out.get(i) ?? []), t]);
  }
  return out;
}
