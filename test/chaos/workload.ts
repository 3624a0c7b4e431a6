// The workload that runs while faults are injected: a few SDK frameworks on the simulated nodes
// that keep launching short and long tasks, decline what they can't use, reserve now and then,
// kill long tasks (deleting the Pod, as a framework does, and recording which Pod it deleted),
// and are torn down and replaced by a fresh framework. Every failure of a call is expected under
// chaos: it is counted, never fatal; the invariants judge the outcome from the history.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { LABEL_FRAMEWORK, LABEL_TASK_ID, SIM_RUN_SECONDS } from "../../src/crds/contract.ts";
import { parseQuantity } from "../../src/resources/quantity.ts";
import { commandTask, FrameworkClient, type Offer, type Operation } from "../../src/sdk/index.ts";
import type { Recorder } from "./recorder.ts";

export interface WorkloadStats {
  frameworks: number;
  teardowns: number;
  answers: number;
  launchedTasks: number;
  declines: number;
  reserves: number;
  kills: number;
  callErrors: number;
}

interface Runner {
  client: FrameworkClient;
  name: string;
  reserving: boolean;
  reserved: number;
  seq: number;
}

const TASK = { cpu: "250m", memory: "32Mi" };
/** The role the reserving framework registers with (reservations are per role, not for "*"). */
export const RESERVE_ROLE = "chaos-res";

export class Workload {
  readonly stats: WorkloadStats = {
    frameworks: 0,
    teardowns: 0,
    answers: 0,
    launchedTasks: 0,
    declines: 0,
    reserves: 0,
    kills: 0,
    callErrors: 0,
  };
  private readonly runners = new Map<string, Runner>();
  private generation = 0;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly busy = new Set<Promise<unknown>>();

  private readonly kc: KubeConfig;
  private readonly namespace: string;
  private readonly labels: Record<string, string>;
  private readonly recorder: Recorder;
  private readonly opts: { frameworks: number; teardownEveryMs: number; killEveryMs: number };

  constructor(
    kc: KubeConfig,
    namespace: string,
    labels: Record<string, string>,
    recorder: Recorder,
    opts: { frameworks: number; teardownEveryMs: number; killEveryMs: number },
  ) {
    this.kc = kc;
    this.namespace = namespace;
    this.labels = labels;
    this.recorder = recorder;
    this.opts = opts;
  }

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.opts.frameworks }, (_, i) => this.spawn(i === 0)));
    this.timers.push(setInterval(() => this.track(this.killOne()), this.opts.killEveryMs));
    this.timers.push(setInterval(() => this.track(this.teardownOne()), this.opts.teardownEveryMs));
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => {
      this.stats.callErrors++;
    });
    this.busy.add(q);
    void q.finally(() => this.busy.delete(q));
  }

  private async spawn(reserving: boolean): Promise<void> {
    if (this.stopped) return;
    const name = `w${++this.generation}`;
    const client = new FrameworkClient({
      kubeConfig: this.kc,
      namespace: this.namespace,
      name,
      labels: this.labels,
      framework: { roles: reserving ? [RESERVE_ROLE] : ["*"], failoverTimeoutSeconds: 120 },
      liveness: { leaseSeconds: 20 },
      retryForMs: 15_000,
    });
    const r: Runner = { client, name, reserving, reserved: 0, seq: 0 };
    client.on("offer", (e) => this.track(this.answer(r, e.offer)));
    await client.start();
    this.runners.set(name, r);
    this.stats.frameworks++;
  }

  private async answer(r: Runner, offer: Offer): Promise<void> {
    if (this.stopped || !this.runners.has(r.name)) return;
    const cpu = parseQuantity("cpu", String(offer.resources.cpu ?? "0"));
    const mem = parseQuantity("memory", String(offer.resources.memory ?? "0"));
    const fit = Math.min(Math.floor(cpu / 250), Math.floor(mem / (32 * 1024 * 1024)), 3);
    if (fit < 1 || Math.random() < 0.15) {
      this.stats.declines++;
      await r.client.decline(offer, 1);
      return;
    }
    const n = 1 + Math.floor(Math.random() * fit);
    const tasks = Array.from({ length: n }, () => {
      const long = Math.random() < 0.5;
      return commandTask({
        id: `t${++r.seq}`,
        resources: TASK,
        command: ["sleep", "3600"],
        simulate: long ? {} : { runSeconds: 1 + Math.floor(Math.random() * 3) },
      });
    });
    const ops: Operation[] = [];
    if (r.reserving && r.reserved < 2 && cpu >= (n + 1) * 250) {
      r.reserved++;
      this.stats.reserves++;
      ops.push({ reserve: { resources: { cpu: "100m" } } });
    }
    ops.push({ launch: { tasks } });
    this.stats.answers++;
    await r.client.accept(offer, ops, { refuseSeconds: 0 });
    this.stats.launchedTasks += n;
  }

  /** Kills a running long task of some framework: deletes its Pod, recording the uid it removed. */
  async killOne(): Promise<boolean> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const pods = (await core.listNamespacedPod({ namespace: this.namespace, labelSelector: LABEL_FRAMEWORK }))
      .items;
    const live = pods.filter(
      (p: V1Pod) =>
        p.status?.phase === "Running" &&
        !p.metadata?.deletionTimestamp &&
        !p.metadata?.annotations?.[SIM_RUN_SECONDS] &&
        this.runners.has(p.metadata?.labels?.[LABEL_FRAMEWORK] ?? ""),
    );
    const p = live[Math.floor(Math.random() * live.length)];
    if (!p?.metadata?.name) return false;
    const deleted = await core.deleteNamespacedPod({
      name: p.metadata.name,
      namespace: this.namespace,
      body: { preconditions: { uid: p.metadata.uid ?? "" } },
    });
    this.stats.kills++;
    this.recorder.note(
      "Kill",
      `${this.namespace}/${p.metadata.name}`,
      {
        framework: p.metadata.labels?.[LABEL_FRAMEWORK] ?? "",
        taskId: p.metadata.labels?.[LABEL_TASK_ID] ?? "",
        podUid: p.metadata.uid ?? "",
      },
      { uid: p.metadata.uid ?? "", rv: String(deleted.metadata?.resourceVersion ?? "") },
    );
    return true;
  }

  /** Tears down one framework (Mesos TEARDOWN: delete the Framework) and starts a fresh one. */
  async teardownOne(): Promise<void> {
    const names = [...this.runners.keys()];
    const name = names[Math.floor(Math.random() * names.length)];
    const r = name ? this.runners.get(name) : undefined;
    if (!r || this.stopped) return;
    this.runners.delete(r.name);
    this.stats.teardowns++;
    await r.client.stop({ teardown: true });
    await this.spawn(r.reserving);
  }

  /** Stops answering; frameworks stay registered (their tasks run on) so the end state can settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled([...this.busy]);
    await Promise.allSettled([...this.runners.values()].map((r) => r.client.stop({ release: true })));
  }
}
