// batch: run N tasks of a given size to completion, retrying failed ones up to a limit.
//
// The whole scheduler is one level-based decision, re-run whenever something changes:
//   1. read every task's state from the SDK (it comes from the task Pods, so a restarted
//      process sees exactly what its predecessor launched);
//   2. work out which task indices still need an attempt;
//   3. pack those into the outstanding offers and accept; decline offers it cannot use;
//   4. suppress offers while nothing is waiting, revive when something is.
// Task ids are deterministic — t<index>-a<attempt> — so nothing is launched twice after a restart.
// The scaffold (the FrameworkClient, the decision loop, run and stop) is examples/lib/scheduler.ts;
// this file is the policy: tick() and when the batch is done.

import {
  commandTask,
  DEFAULT_TASK_IMAGE,
  OfferBin,
  OfferNotUsableError,
  type Task,
  type TaskInfoInput,
} from "kube-offers/sdk";
import pLimit from "p-limit";
import { Scheduler, type SchedulerOptions, tasksByIndex } from "../lib/scheduler.ts";

export interface BatchOptions extends SchedulerOptions {
  /** Number of tasks to run to completion. */
  tasks: number;
  cpu: string;
  memory: string;
  /** Attempts per task, including the first (1 = no retries). */
  maxAttempts: number;
  image?: string;
  shell?: string;
  /** Seconds each task runs on simulated nodes (sim.kubeoffers.io/run-seconds). */
  runSeconds?: () => number;
  /** Simulated failures: task index → how many of its first attempts exit with code 1. */
  failFirst?: ReadonlyMap<number, number>;
  /** Simulated failures: the chance that any attempt exits with code 1. */
  failRate?: number;
  /** How long a task may stay TASK_UNREACHABLE before it is killed and retried (default 0). */
  unreachableSeconds?: number;
  /** What to do when every task has finished: stop (default), or stay registered and idle. */
  onDone?: "stop" | "idle";
}

export interface BatchProgress {
  total: number;
  finished: number;
  running: number;
  waiting: number;
  /** Attempts that ended in failure so far (TASK_FAILED, _KILLED, _LOST, _ERROR, _DROPPED). */
  failedAttempts: number;
  /** Tasks that used up their attempts. */
  gaveUp: number;
  done: boolean;
}

const ID = /^t(\d+)-a(\d+)$/;

export function taskId(index: number, attempt: number): string {
  return `t${String(index).padStart(4, "0")}-a${attempt}`;
}

interface IndexState {
  index: number;
  finished: boolean;
  active: Task[];
  failed: number;
  nextAttempt: number;
}

/** Answers written at once: enough to hide the round trip, few enough not to flood the API server. */
export const ANSWER_CONCURRENCY = 16;

export class BatchFramework extends Scheduler<BatchOptions> {
  private readonly unreachableSince = new Map<string, number>();
  private readonly answerLimit = pLimit(ANSWER_CONCURRENCY);

  /** run() registers, runs every task to completion (or gives up), and resolves with an exit code. */
  constructor(opts: BatchOptions) {
    super(opts, {
      // Finished work is kept in the task Pods; give a restarted scheduler a minute to come back.
      framework: { roles: ["*"], failoverTimeoutSeconds: 120, displayName: `batch of ${opts.tasks} tasks` },
      started: ["batch started", { tasks: opts.tasks, cpu: opts.cpu, memory: opts.memory }],
      stopCode: 1,
      onDone: opts.onDone,
    });
  }

  private states(): IndexState[] {
    const byIndex = tasksByIndex(this.client.tasks(), ID);
    const out: IndexState[] = [];
    for (let i = 0; i < this.opts.tasks; i++) {
      const attempts = byIndex.get(i) ?? [];
      const maxAttempt = Math.max(0, ...attempts.map((t) => Number(ID.exec(t.id)?.[2] ?? 0)));
      out.push({
        index: i,
        finished: attempts.some((t) => t.state === "TASK_FINISHED"),
        active: attempts.filter((t) => !t.terminal),
        failed: attempts.filter((t) => t.terminal && t.state !== "TASK_FINISHED").length,
        nextAttempt: maxAttempt + 1,
      });
    }
    return out;
  }

  progress(): BatchProgress {
    const s = this.states();
    const finished = s.filter((x) => x.finished).length;
    const gaveUp = s.filter(
      (x) => !x.finished && !x.active.length && x.failed >= this.opts.maxAttempts,
    ).length;
    const running = s.filter((x) => !x.finished && x.active.length).length;
    return {
      total: this.opts.tasks,
      finished,
      running,
      waiting: this.opts.tasks - finished - gaveUp - running,
      failedAttempts: s.reduce((n, x) => n + x.failed, 0),
      gaveUp,
      done: finished + gaveUp === this.opts.tasks,
    };
  }

  private buildTask(index: number, attempt: number, resources: Record<string, unknown>): TaskInfoInput {
    const o = this.opts;
    const failFirst = o.failFirst?.get(index) ?? 0;
    const fails = attempt <= failFirst || (o.failRate !== undefined && Math.random() < o.failRate);
    return commandTask({
      id: taskId(index, attempt),
      resources: resources as TaskInfoInput["resources"],
      image: o.image ?? DEFAULT_TASK_IMAGE,
      shell: o.shell ?? `echo "task ${index} attempt ${attempt}"; sleep 5`,
      labels: { "examples.kubeoffers.io/task-index": String(index) },
      simulate: {
        runSeconds: o.runSeconds?.() ?? 3,
        ...(fails ? { exitCode: 1 } : {}),
      },
    });
  }

  protected override async tick(): Promise<void> {
    const c = this.client;
    const states = this.states();
    const now = Date.now();

    // Lost contact with a task's node: kill it (the kill is its failed attempt) and retry.
    for (const s of states) {
      for (const t of s.active) {
        if (t.state !== "TASK_UNREACHABLE") {
          this.unreachableSince.delete(t.id);
          continue;
        }
        const since = this.unreachableSince.get(t.id) ?? now;
        this.unreachableSince.set(t.id, since);
        if (now - since >= (this.opts.unreachableSeconds ?? 0) * 1000) {
          this.log("warn", "task unreachable: killing it to retry elsewhere", { task: t.id, agent: t.agent });
          await c.kill(t.id);
        }
      }
    }

    const progress = this.progress();
    if (progress.done) return this.complete(progress.gaveUp ? 1 : 0, "info", "batch done", { ...progress });

    const waiting = states.filter((s) => !s.finished && !s.active.length && s.failed < this.opts.maxAttempts);
    const offers = c.offers();
    if (!waiting.length) {
      // Everything is running: hold nothing, ask for nothing.
      if (c.suppressedRoles.length === 0) await c.suppress();
      return;
    }
    if (c.suppressedRoles.length > 0) await c.revive();

    // Pack first (pure), then answer: every answer is one write, and the answers are written
    // side by side, so a round of a thousand offers takes a few round trips, not a thousand.
    const request = { cpu: this.opts.cpu, memory: this.opts.memory };
    const answers = offers.map((offer) => {
      const bin = new OfferBin(offer.name, offer.resources);
      const launches: TaskInfoInput[] = [];
      while (waiting.length) {
        const res = bin.place(request);
        if (!res) break;
        const s = waiting.shift()!;
        launches.push(this.buildTask(s.index, s.nextAttempt, res));
      }
      return { offer, launches };
    });
    // Settled, all of them, before the tick ends: a task in an answer still being written is
    // not known to the client yet, and the next tick would pack it again.
    const settled = await Promise.allSettled(
      answers.map(({ offer, launches }) =>
        this.answerLimit(async () => {
          try {
            if (launches.length) {
              // Refuse the rest of this agent briefly: more tasks may be waiting for it soon.
              await c.launch(offer, launches, { refuseSeconds: 1 });
              this.log("info", `launched ${launches.length} task(s) on ${offer.agent}`, {
                tasks: launches.map((t) => t.id),
              });
            } else {
              await c.decline(offer, 5);
            }
          } catch (err) {
            if (!(err instanceof OfferNotUsableError)) throw err;
            this.log("info", `offer ${offer.name} went away before the answer: waiting for the next`);
          }
        }),
      ),
    );
    const failed = settled.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}
