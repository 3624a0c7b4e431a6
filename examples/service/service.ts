// service: keep N instances running, at most one per value of an agent attribute (e.g. one per
// rack or zone), and replace instances that are lost — the Marathon pattern.
//
// Instance i's tasks are i<i>-g<generation>: a replacement gets the next generation, so ids
// never repeat and a restarted scheduler recognises every instance from its Pod. The attribute
// value an instance was placed on travels in a Pod label, so spreading survives restarts too.
// The scaffold (the FrameworkClient, the decision loop, run and stop) is examples/lib/scheduler.ts;
// this file is the policy: tick().
import {
  commandTask,
  DEFAULT_TASK_IMAGE,
  type Offer,
  OfferBin,
  OfferNotUsableError,
  type Task,
  type TaskInfoInput,
} from "kube-offers/sdk";
import { Scheduler, type SchedulerOptions, tasksByIndex } from "../lib/scheduler.ts";

export const SPREAD_LABEL = "examples.kubeoffers.io/spread-value";

export interface ServiceOptions extends SchedulerOptions {
  instances: number;
  cpu: string;
  memory: string;
  /** Host ports per instance, taken from the offer (default 1). */
  ports?: number;
  /** Agent attribute to spread over ("" for no spreading), default "rack". */
  spreadBy?: string;
  /** Instances allowed per attribute value (default 1). */
  maxPerValue?: number;
  image?: string;
  shell?: string;
  /** How long an instance may be TASK_UNREACHABLE before it is replaced (default 0). */
  unreachableSeconds?: number;
}

const ID = /^i(\d+)-g(\d+)$/;

/** How long a replacement keeps away from an agent an instance became unreachable on. */
const TROUBLED_MS = 30_000;

export function instanceTaskId(instance: number, generation: number): string {
  return `i${instance}-g${generation}`;
}

export interface ServiceStatus {
  wanted: number;
  running: number;
  /** Live instances (launching, staging, running or unreachable), by instance number. */
  instances: { instance: number; task: string; state: string; agent?: string; spread?: string }[];
  /** Instances replaced so far (their task ended or was lost). */
  replaced: number;
}

interface Slot {
  instance: number;
  live: Task | undefined;
  extra: Task[];
  nextGeneration: number;
}

export class ServiceFramework extends Scheduler<ServiceOptions> {
  private readonly unreachableSince = new Map<string, number>();
  /**
   * Agents an instance became unreachable on, until when a replacement must not go there: an
   * offer made there before the operator noticed can still arrive after the instance is killed.
   */
  private readonly troubledUntil = new Map<string, number>();

  /** run() registers and keeps the instances running until stop(); resolves with exit code 0. */
  constructor(opts: ServiceOptions) {
    const spreadBy = opts.spreadBy ?? "rack";
    super(opts, {
      framework: {
        roles: ["*"],
        failoverTimeoutSeconds: 300,
        displayName: `service of ${opts.instances} instances`,
        // Agents without the attribute cannot take part in spreading: do not offer them at all.
        ...(spreadBy ? { constraints: [{ attribute: spreadBy, operator: "Exists" as const }] } : {}),
      },
      started: ["service started", { instances: opts.instances, spreadBy }],
      stopCode: 0,
    });
  }

  private get spreadBy(): string {
    return this.opts.spreadBy ?? "rack";
  }

  private slots(): Slot[] {
    const byInstance = tasksByIndex(this.client.tasks(), ID);
    const n = Math.max(this.opts.instances, ...[...byInstance.keys()].map((i) => i + 1));
    const gen = (t: Task) => Number(ID.exec(t.id)?.[2] ?? 0);
    const out: Slot[] = [];
    for (let i = 0; i < n; i++) {
      const tasks = byInstance.get(i) ?? [];
      const live = tasks.filter((t) => !t.terminal).sort((a, b) => gen(b) - gen(a));
      out.push({
        instance: i,
        live: live[0],
        extra: live.slice(1),
        nextGeneration: Math.max(0, ...tasks.map(gen)) + 1,
      });
    }
    return out;
  }

  status(): ServiceStatus {
    const slots = this.slots().filter((s) => s.instance < this.opts.instances);
    return {
      wanted: this.opts.instances,
      running: slots.filter((s) => s.live?.state === "TASK_RUNNING").length,
      instances: slots.flatMap((s) =>
        s.live
          ? [
              {
                instance: s.instance,
                task: s.live.id,
                state: s.live.state,
                ...(s.live.agent ? { agent: s.live.agent } : {}),
                ...(s.live.labels[SPREAD_LABEL] ? { spread: s.live.labels[SPREAD_LABEL] } : {}),
              },
            ]
          : [],
      ),
      // Generation g of an instance replaced generation g-1.
      replaced: slots.reduce((n, s) => n + Math.max(0, s.nextGeneration - 2), 0),
    };
  }

  protected override async tick(): Promise<void> {
    const c = this.client;
    const now = Date.now();
    const slots = this.slots();
    for (const [agent, until] of this.troubledUntil) if (until <= now) this.troubledUntil.delete(agent);

    for (const s of slots) {
      // Scaled down, or a duplicate (can only come from an outside launch): kill.
      const surplus = s.instance >= this.opts.instances ? [s.live, ...s.extra] : s.extra;
      for (const t of surplus) if (t && t.source === "pod") await c.kill(t.id);
      const t = s.live;
      if (!t) continue;
      if (t.state === "TASK_UNREACHABLE") {
        if (t.agent) this.troubledUntil.set(t.agent, now + TROUBLED_MS);
        const since = this.unreachableSince.get(t.id) ?? now;
        this.unreachableSince.set(t.id, since);
        if (now - since >= (this.opts.unreachableSeconds ?? 0) * 1000) {
          this.log("warn", "instance unreachable: replacing it", { task: t.id, agent: t.agent });
          await c.kill(t.id);
          s.live = undefined; // killed: terminal from now on
        }
      } else {
        this.unreachableSince.delete(t.id);
      }
    }

    const missing = slots.filter((s) => s.instance < this.opts.instances && !s.live);
    const offers = c.offers();
    if (!missing.length) {
      if (c.suppressedRoles.length === 0) await c.suppress();
      return;
    }
    if (c.suppressedRoles.length > 0) await c.revive();

    // Attribute values in use by live instances (including ones still launching).
    const used = new Map<string, number>();
    for (const s of slots) {
      const v = s.live?.labels[SPREAD_LABEL];
      if (s.live && v !== undefined) used.set(v, (used.get(v) ?? 0) + 1);
    }
    const max = this.opts.maxPerValue ?? 1;
    const plan = new Map<Offer, TaskInfoInput[]>();
    const bins = new Map<Offer, OfferBin>();
    for (const s of missing) {
      for (const offer of offers) {
        if (this.troubledUntil.has(offer.agent)) continue;
        const value = this.spreadBy ? offer.attributes[this.spreadBy] : "";
        if (value === undefined) continue;
        if (this.spreadBy && (used.get(value) ?? 0) >= max) continue;
        const bin = bins.get(offer) ?? new OfferBin(offer.name, offer.resources);
        bins.set(offer, bin);
        const res = bin.place({ cpu: this.opts.cpu, memory: this.opts.memory, ports: this.opts.ports ?? 1 });
        if (!res) continue;
        used.set(value, (used.get(value) ?? 0) + 1);
        plan.set(offer, [
          ...(plan.get(offer) ?? []),
          commandTask({
            id: instanceTaskId(s.instance, s.nextGeneration),
            resources: res,
            image: this.opts.image ?? DEFAULT_TASK_IMAGE,
            shell: this.opts.shell ?? 'echo "serving on port $PORT0"; while true; do sleep 3600; done',
            labels: {
              "examples.kubeoffers.io/instance": String(s.instance),
              ...(this.spreadBy ? { [SPREAD_LABEL]: value } : {}),
            },
          }),
        ]);
        break;
      }
    }
    for (const offer of offers) {
      const tasks = plan.get(offer);
      try {
        if (tasks) {
          await c.launch(offer, tasks, { refuseSeconds: 1 });
          this.log("info", `launched ${tasks.map((t) => t.id).join(", ")} on ${offer.agent}`, {
            [this.spreadBy || "agent"]: this.spreadBy ? offer.attributes[this.spreadBy] : offer.agent,
          });
        } else {
          // Unusable (its attribute value is taken, or too small): decline for a while.
          await c.decline(offer, 5);
        }
      } catch (err) {
        if (!(err instanceof OfferNotUsableError)) throw err;
      }
    }
  }
}
