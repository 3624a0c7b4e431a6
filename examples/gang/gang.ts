// gang: launch a group of M tasks only when every one of them can be placed at the same time —
// never some of them. Plain Kubernetes schedules Pods one at a time and needs a co-scheduling
// plugin for this; with offers the framework sees the capacity before it commits, so it can:
//   * hold the offers it receives while they are not enough (up to --hold-seconds),
//   * launch the whole group the moment the held offers can place all M tasks (one accept per
//     offer, all answered together),
//   * otherwise decline everything it holds, so others can use it, and wait for more offers.
// If the group still ends up partial (an offer rescinded between the accepts, or a scheduler
// restart in the middle of them) it kills the members that did launch and starts over under
// the next generation: tasks are g<generation>-<member>, so a restart never launches twice.
// The scaffold (the FrameworkClient, the decision loop, run and stop) is examples/lib/scheduler.ts;
// this file is the policy: tick() and when the gang is done.
import {
  commandTask,
  DEFAULT_TASK_IMAGE,
  OfferBin,
  OfferNotUsableError,
  packAll,
  type Task,
  type TaskInfoInput,
} from "kube-offers/sdk";
import { Scheduler, type SchedulerOptions, tasksByIndex } from "../lib/scheduler.ts";

export interface GangOptions extends SchedulerOptions {
  /** Members of the group (M). */
  size: number;
  cpu: string;
  memory: string;
  /** Seconds each member runs on simulated nodes. */
  runSeconds?: () => number;
  image?: string;
  shell?: string;
  /** How long to hold offers that are not enough before declining them all (default 10). */
  holdSeconds?: number;
  /** Refuse filter for declined offers (default 1 s: come back soon with fresh offers). */
  refuseSeconds?: number;
  /** Attempts at running the group (default 3). */
  maxGenerations?: number;
  /** Put the whole group in one Pod on one agent (Mesos LAUNCH_GROUP) instead of spreading it. */
  colocate?: boolean;
  onDone?: "stop" | "idle";
}

const ID = /^g(\d+)-(\d+)$/;

export function memberId(generation: number, member: number): string {
  return `g${generation}-${member}`;
}

export interface GangStatus {
  generation: number;
  phase: "Waiting" | "Running" | "Finished" | "Failed";
  members: { id: string; state: string; agent?: string }[];
  /** Offers held right now while waiting for enough capacity. */
  holding: number;
}

export class GangFramework extends Scheduler<GangOptions> {
  private holdingSince: number | undefined;

  /** run() registers, runs the group to the end (or gives up), and resolves with an exit code. */
  constructor(opts: GangOptions) {
    super(opts, {
      framework: { roles: ["*"], failoverTimeoutSeconds: 120, displayName: `gang of ${opts.size}` },
      started: ["gang started", { size: opts.size, cpu: opts.cpu, memory: opts.memory }],
      stopCode: 1,
      onDone: opts.onDone,
      everyMs: 1000,
    });
  }

  /** Tasks by generation, members of the group only. */
  private generations(): Map<number, Task[]> {
    const members = this.client.tasks().filter((t) => Number(ID.exec(t.id)?.[2]) < this.opts.size);
    return tasksByIndex(members, ID);
  }

  status(): GangStatus {
    const gens = this.generations();
    const generation = Math.max(0, ...gens.keys());
    const members = gens.get(generation) ?? [];
    const finished = members.filter((t) => t.state === "TASK_FINISHED").length;
    const live = members.filter((t) => !t.terminal).length;
    return {
      generation,
      phase:
        finished === this.opts.size
          ? "Finished"
          : live > 0
            ? "Running"
            : generation >= (this.opts.maxGenerations ?? 3)
              ? "Failed"
              : "Waiting",
      members: members.map((t) => ({ id: t.id, state: t.state, ...(t.agent ? { agent: t.agent } : {}) })),
      holding: this.holdingSince === undefined ? 0 : this.client.offers().length,
    };
  }

  protected override async tick(): Promise<void> {
    const c = this.client;
    const M = this.opts.size;
    const gens = this.generations();
    const current = Math.max(0, ...gens.keys());
    const members = gens.get(current) ?? [];
    const live = members.filter((t) => !t.terminal);
    const finished = members.filter((t) => t.state === "TASK_FINISHED").length;

    if (current > 0 && finished === M) return this.complete(0, "info", `gang generation ${current} finished`);
    if (live.length) {
      const failed = members.filter((t) => t.terminal && t.state !== "TASK_FINISHED");
      if (members.length < M || failed.length) {
        // A partial group must not run on: kill what is left and start over.
        this.log(
          "warn",
          `gang generation ${current} is incomplete: killing its ${live.length} live member(s)`,
          {
            members: members.length,
            failed: failed.map((t) => `${t.id}:${t.state}`),
          },
        );
        for (const t of live) await c.kill(t.id);
        return;
      }
      // Running: hold nothing, ask for nothing.
      for (const o of c.offers()) await c.decline(o, 30);
      if (c.suppressedRoles.length === 0) await c.suppress();
      return;
    }
    const next = current + 1;
    if (next > (this.opts.maxGenerations ?? 3))
      return this.complete(1, "error", `gang gave up after ${current} generation(s)`);
    if (c.suppressedRoles.length > 0) await c.revive();
    await this.place(next);
  }

  private member(gen: number, i: number, resources: Record<string, unknown>): TaskInfoInput {
    return commandTask({
      id: memberId(gen, i),
      resources: resources as TaskInfoInput["resources"],
      image: this.opts.image ?? DEFAULT_TASK_IMAGE,
      shell: this.opts.shell ?? `echo "member ${i} of ${this.opts.size}"; sleep 10`,
      labels: {
        "examples.kubeoffers.io/generation": String(gen),
        "examples.kubeoffers.io/member": String(i),
      },
      env: { GANG_SIZE: String(this.opts.size), GANG_MEMBER: String(i) },
      simulate: { runSeconds: this.opts.runSeconds?.() ?? 5 },
    });
  }

  private async place(gen: number): Promise<void> {
    const c = this.client;
    const M = this.opts.size;
    const offers = c.offers();
    const request = { cpu: this.opts.cpu, memory: this.opts.memory };
    let plan: { offer: (typeof offers)[number]; tasks: TaskInfoInput[]; group: boolean }[] | undefined;
    if (this.opts.colocate) {
      for (const offer of offers) {
        const bin = new OfferBin(offer.name, offer.resources);
        const placed = Array.from({ length: M }, () => bin.place(request));
        if (placed.every((r) => r !== undefined)) {
          plan = [{ offer, tasks: placed.map((r, i) => this.member(gen, i, r!)), group: true }];
          break;
        }
      }
    } else {
      const packed = packAll(
        offers,
        Array.from({ length: M }, (_, i) => ({ item: i, request })),
      );
      if (packed)
        plan = offers
          .filter((o) => packed.has(o.name))
          .map((offer) => ({
            offer,
            tasks: (packed.get(offer.name) ?? []).map((p) => this.member(gen, p.item, p.resources)),
            group: false,
          }));
    }

    if (!plan) {
      if (!offers.length) return;
      this.holdingSince ??= Date.now();
      const held = Date.now() - this.holdingSince;
      if (held >= (this.opts.holdSeconds ?? 10) * 1000) {
        this.log(
          "info",
          `held ${offers.length} offer(s) for ${Math.round(held / 1000)} s without room for all ${M}: declining them`,
        );
        await Promise.all(offers.map((o) => c.decline(o, this.opts.refuseSeconds ?? 1)));
        this.holdingSince = undefined;
      }
      return;
    }

    // Enough at once: answer every offer of the plan together.
    this.holdingSince = undefined;
    const results = await Promise.allSettled(
      plan.map((p) =>
        p.group ? c.launchGroup(p.offer, p.tasks) : c.launch(p.offer, p.tasks, { refuseSeconds: 1 }),
      ),
    );
    const used = new Set(plan.map((p) => p.offer.name));
    await Promise.all(
      offers.filter((o) => !used.has(o.name)).map((o) => c.decline(o, this.opts.refuseSeconds ?? 1)),
    );
    const failed = results.filter((r) => r.status === "rejected");
    if (!failed.length) {
      this.log("info", `launched gang generation ${gen}: ${M} member(s) on ${plan.length} agent(s)`, {
        agents: plan.map((p) => p.offer.agent),
      });
      return;
    }
    const launched = plan.filter((_, i) => results[i]?.status === "fulfilled").flatMap((p) => p.tasks);
    this.log(
      "warn",
      `gang generation ${gen} could not launch whole (${String((failed[0] as PromiseRejectedResult).reason)}): killing ${launched.length} launched member(s)`,
    );
    for (const t of launched) await c.kill(t.id);
    for (const r of failed) {
      const reason = (r as PromiseRejectedResult).reason;
      if (!(reason instanceof OfferNotUsableError)) throw reason;
    }
  }
}
