// Fault injectors, each with a kind name. An injection returns what it did (for the history and
// the report) or throws when the fault could not be brought about; every wait is bounded.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoordinationV1Api, CustomObjectsApi, type KubeConfig, V1MicroTime } from "@kubernetes/client-node";
import { FAILPOINTS, type Failpoint } from "../../src/controller/failpoints.ts";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { repoRoot } from "../../src/local/binaries.ts";
import { accept, FrameworkSide, task } from "../e2e/offers.ts";
import { commandTask, Subscription, scalarOf } from "../mesos/client.ts";
import type { DelayProxy } from "./proxy.ts";
import type { Recorder } from "./recorder.ts";
import { type Replicas, SLOTS, type Slot } from "./replicas.ts";
import type { Workload } from "./workload.ts";

export interface FaultContext {
  kc: KubeConfig;
  replicas: Replicas;
  workload: Workload;
  recorder: Recorder;
  rng: () => number;
  /** The run's temp dir (its history and logs): scratch files go here. */
  dir: string;
}

export interface Fault {
  kind: string;
  inject(ctx: FaultContext): Promise<string>;
}

export type Outcome = "injected" | "unreached";

export class FaultUnreached extends Error {
  override name = "FaultUnreached";
}

function other(s: Slot): Slot {
  return SLOTS.find((x) => x !== s)!;
}

/** The failpoints some code under src/ actually calls (the others are declared but not wired yet). */
export function wiredFailpoints(): Failpoint[] {
  const files = ["src/controller/offer-answer.ts", "src/controller/framework-lifecycle.ts"];
  const text = files.map((f) => readFileSync(join(repoRoot, f), "utf8")).join("\n");
  return FAILPOINTS.filter((n) => text.includes(`failpoint("${n}")`));
}

/**
 * SIGKILL at a failpoint: the standby is restarted armed (KUBE_OFFERS_FAILPOINT=<name>:<n>) and
 * made leader by a graceful stop of the current one (which releases the Lease); the workload is
 * nudged towards the point (a teardown for the teardown points); the armed replica kills itself
 * at its n-th hit and is restarted unarmed, the other replica taking over when its Lease lapses.
 */
let gates = 0;

export function failpointFault(name: Failpoint, timeoutMs: number): Fault {
  return {
    kind: `failpoint:${name}`,
    async inject(ctx) {
      const { replicas } = ctx;
      const hit = 1 + Math.floor(ctx.rng() * 3);
      const deadline = Date.now() + timeoutMs;
      const teardown = name.startsWith("teardown-");
      let lastExit = "";
      // Under load a replica may lose its lease and exit by itself before the point is reached:
      // then it is armed again, until the deadline.
      while (Date.now() < deadline) {
        const leader = await replicas.leader();
        const armedSlot = other(leader);
        replicas.held.add(armedSlot);
        replicas.held.add(leader);
        try {
          await replicas.stopGracefully(armedSlot);
          // Hits count only once the other slot is back and synced: a standby is ready when it dies.
          const gate = join(ctx.dir, `failpoint-gate-${++gates}`);
          const armed = replicas.spawn(armedSlot, {
            KUBE_OFFERS_FAILPOINT: `${name}:${hit}`,
            KUBE_OFFERS_FAILPOINT_GATE: gate,
          });
          replicas.expectExit(armed);
          await replicas.waitSynced(armedSlot);
          await replicas.stopGracefully(leader);
          // The released Lease goes to the armed replica before the other slot competes again.
          await until(async () => (await replicas.holder()) === armed.identity || !!armed.exited, 30_000);
          replicas.spawn(leader);
          await replicas.waitSynced(leader);
          writeFileSync(gate, "");
          replicas.held.delete(leader);
          let nudged = 0;
          while (!armed.exited && Date.now() < deadline) {
            if (teardown && Date.now() > nudged + 3000) {
              nudged = Date.now();
              void ctx.workload.teardownOne().catch(() => {});
            }
            await Promise.race([armed.exit, new Promise((r) => setTimeout(r, 250))]);
          }
          if (armed.exited?.signal === "SIGKILL")
            return `${armed.identity} killed itself at hit ${hit} of ${name}`;
          if (armed.exited) lastExit = `${armed.identity} exited ${JSON.stringify(armed.exited)} first`;
          else await replicas.stopGracefully(armedSlot);
        } finally {
          replicas.held.delete(armedSlot);
          replicas.held.delete(leader);
          const r = replicas.live.get(armedSlot);
          if (!r || r.exited) replicas.spawn(armedSlot);
          await replicas.waitSynced(armedSlot);
        }
      }
      throw new FaultUnreached(
        `${name}:${hit} not reached within ${timeoutMs} ms${lastExit ? ` (${lastExit})` : ""}`,
      );
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` until truthy; false when `timeoutMs` passed first. It looks once more at the
 * deadline: a slow look (a loaded machine) must not end the wait without a last answer.
 */
async function until(
  fn: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await sleep(everyMs);
  }
  return !!(await fn());
}

/**
 * The leader frozen (SIGSTOP) until the standby has taken its lapsed Lease, then thawed
 * (SIGCONT): it must notice it lost the lease and stop acting (it exits), not act on stale state.
 */
export function freezeLeaderFault(leaseMs: number): Fault {
  return {
    kind: "leader-freeze",
    async inject(ctx) {
      const { replicas } = ctx;
      const slot = await replicas.leader();
      const r = replicas.live.get(slot)!;
      replicas.held.add(slot);
      try {
        replicas.expectExit(r);
        const t0 = Date.now();
        r.signal("SIGSTOP");
        const other = replicas.live.get(SLOTS.find((s) => s !== slot)!);
        const replaced = await until(async () => {
          const h = await replicas.holder();
          return h !== "" && h !== r.identity && h === other?.identity;
        }, leaseMs * 4);
        const frozenMs = Date.now() - t0;
        r.signal("SIGCONT");
        if (!replaced)
          throw new Error(
            `the standby did not take over within ${leaseMs * 4} ms (holder now "${await replicas.holder()}"; ${other?.identity ?? "no standby"}: ${other ? replicas.electionLog(other) : ""})`,
          );
        // Thawed, it finds its lease gone: it exits (main.ts) instead of acting beside the new leader.
        const exited = await until(() => r.exited !== undefined, leaseMs * 2);
        return `${r.identity} frozen ${frozenMs} ms; ${other?.identity} took over; thawed, it ${exited ? `exited (${JSON.stringify(r.exited)})` : "kept running"}`;
      } finally {
        r.signal("SIGCONT");
        replicas.held.delete(slot);
        if (r.exited || replicas.live.get(slot) !== r) replicas.spawn(slot);
        else {
          await replicas.stopGracefully(slot);
          replicas.spawn(slot);
        }
        await replicas.waitSynced(slot);
      }
    },
  };
}

/** kube-apiserver killed (as a crash) and started again on the same port, after 0–3 s down. */
export function apiserverRestartFault(restart: (downMs: number) => Promise<unknown>): Fault {
  return {
    kind: "apiserver-restart",
    async inject(ctx) {
      const downMs = Math.floor(ctx.rng() * 3000);
      const t0 = Date.now();
      await restart(downMs);
      await ctx.replicas.leader(90_000);
      return `down ${downMs} ms; serving again and a leader after ${Date.now() - t0} ms`;
    },
  };
}

/** The operator's API traffic delayed 2–9 s per chunk (the proxy) for a while, then fast again. */
export function slowApiFault(proxy: DelayProxy, forMs: number): Fault {
  return {
    kind: "apiserver-slow",
    async inject(ctx) {
      proxy.slow({ minMs: 2000, maxMs: 9000 });
      try {
        await sleep(forMs); // the fault's duration: the workload runs on meanwhile
      } finally {
        proxy.slow(undefined);
      }
      const t0 = Date.now();
      await ctx.replicas.leader(90_000);
      return `slow for ${forMs} ms; a leader ${Date.now() - t0} ms after`;
    },
  };
}

export interface NodeControl {
  names(): string[];
  /** Stops the node's agent and deletes its Node (a vanished machine). */
  lose(name: string): Promise<void>;
  /** The machine back: its Node registered again and an agent on it. */
  restore(name: string): Promise<void>;
  /** The node's outstanding offers, as the recorder last saw them. */
  openOffers(name: string): number;
}

/** An agent's Node lost: its offers must be rescinded; then it comes back. */
export function nodeLostFault(nodes: NodeControl, boundMs: number): Fault {
  return {
    kind: "node-lost",
    async inject(ctx) {
      const all = nodes.names();
      const name = all[Math.floor(ctx.rng() * all.length)]!;
      await nodes.lose(name);
      const t0 = Date.now();
      try {
        const rescinded = await until(() => nodes.openOffers(name) === 0, boundMs);
        if (!rescinded) throw new Error(`offers of lost node ${name} still outstanding after ${boundMs} ms`);
        return `${name} lost; its offers gone after ${Date.now() - t0} ms`;
      } finally {
        await nodes.restore(name);
      }
    },
  };
}

/**
 * A framework whose scheduler's clock is ±120 s off: it renews its liveness Lease with renewTime
 * written that far from the truth, and launches short tasks. The operator judges Leases by when it
 * saw them change, so the framework must stay connected and its tasks must run; the other
 * frameworks must not notice. Returns what the operator made of it.
 */
export function clockSkewFault(o: {
  namespace: string;
  labels: Record<string, string>;
  forMs: number;
}): Fault {
  let seq = 0;
  return {
    kind: "clock-skew",
    async inject(ctx) {
      const skewMs = (ctx.rng() < 0.5 ? -1 : 1) * 120_000;
      const name = `skew${++seq}`;
      const lease = `${name}-scheduler`;
      const co = ctx.kc.makeApiClient(CustomObjectsApi);
      const coord = ctx.kc.makeApiClient(CoordinationV1Api);
      const side = new FrameworkSide(ctx.kc, o.namespace);
      const renew = async () => {
        const spec = {
          holderIdentity: name,
          leaseDurationSeconds: 10,
          renewTime: new V1MicroTime(Date.now() + skewMs),
        };
        try {
          const cur = await coord.readNamespacedLease({ name: lease, namespace: o.namespace });
          await coord.replaceNamespacedLease({
            name: lease,
            namespace: o.namespace,
            body: { ...cur, spec: { ...cur.spec, ...spec } },
          });
        } catch {
          await coord
            .createNamespacedLease({ namespace: o.namespace, body: { metadata: { name: lease }, spec } })
            .catch(() => {});
        }
      };
      await renew();
      await side.createFramework(name, o.labels, {
        roles: ["*"],
        liveness: { leaseName: lease },
        failoverTimeoutSeconds: 5,
      });
      const stopAt = Date.now() + o.forMs;
      let launched = 0;
      let n = 0;
      try {
        while (Date.now() < stopAt) {
          await renew();
          for (const offer of await side.offers(name, "Offered").catch(() => [])) {
            if (offer.spec.response || launched >= 4) continue;
            const id = `s${++n}`;
            await side
              .answer(
                offer.metadata.name ?? "",
                accept([task(id, { cpu: "250m", memory: "32Mi" }, { runSeconds: 2 })], 0),
              )
              .then(() => launched++)
              .catch(() => {});
          }
          await sleep(2000); // the scheduler's renew interval
        }
        const fw = await side.framework(name);
        const connected = fw.status?.conditions?.find((c) => c.type === "Connected");
        return `${name}: Lease renewTime ${skewMs > 0 ? "+" : ""}${skewMs / 1000} s; ${launched} launches; Connected=${connected?.status ?? "?"} (${connected?.reason ?? ""})`;
      } finally {
        await side.deleteFramework(name);
        await co
          .deleteNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: o.namespace,
            plural: PLURAL.framework,
            name,
          })
          .catch(() => {});
        await coord.deleteNamespacedLease({ name: lease, namespace: o.namespace }).catch(() => {});
      }
    },
  };
}

/**
 * A rolling restart of both replicas while a Mesos scheduler (the raw HTTP client) is subscribed
 * and has a task running: its stream ends with its replica, it re-subscribes with its framework
 * id to a restarted one and must get its task's state and offers again.
 */
export function mesosRollingRestartFault(): Fault {
  let seq = 0;
  return {
    kind: "mesos-rolling-restart",
    async inject(ctx) {
      const { replicas } = ctx;
      const url = () => [...replicas.live.values()].find((r) => !r.exited && r.mesosUrl)?.mesosUrl ?? "";
      if (!(await until(() => url() !== "", 30_000))) throw new Error("no replica serves the Mesos API");
      const info = { user: "root", name: `mesos-chaos-${++seq}`, principal: "chaos", failover_timeout: 300 };
      let sub = await Subscription.open(url(), info);
      const frameworkId = sub.frameworkId;
      if (!frameworkId) throw new Error(`SUBSCRIBE failed: ${sub.status} ${sub.body}`);
      // An offer the task fits: an agent whose CPU other tenants took is offered its memory
      // alone, and a task launched there ends TASK_ERROR, an update that is not retried.
      const need = { cpus: 0.25, mem: 32 };
      const fits = (o: { resources: { name: string; scalar?: { value: number } }[] }) =>
        scalarOf(o.resources, "cpus") >= need.cpus && scalarOf(o.resources, "mem") >= need.mem;
      const offers = await sub.next((e) => e.type === "OFFERS" && e.offers.offers.some(fits), 60_000);
      const offer = offers.offers.offers.find(fits);
      const taskId = `m${seq}`;
      await sub.call("ACCEPT", {
        accept: {
          offer_ids: [offer.id],
          operations: [
            {
              type: "LAUNCH",
              launch: { task_infos: [commandTask(taskId, offer.agent_id.value, need)] },
            },
          ],
        },
      });
      await sub.next((e) => e.type === "UPDATE" && e.update.status.task_id.value === taskId, 60_000);
      try {
        for (const slot of SLOTS) {
          replicas.held.add(slot);
          try {
            await replicas.stopGracefully(slot);
            replicas.spawn(slot);
            await replicas.waitSynced(slot);
          } finally {
            replicas.held.delete(slot);
          }
        }
        await sub.closed(30_000).catch(() => sub.disconnect());
        // A restarted replica serves the Mesos API a moment after its caches synced.
        if (!(await until(() => url() !== "", 30_000)))
          throw new Error("no restarted replica serves the Mesos API");
        sub = await Subscription.open(url(), { ...info, id: { value: frameworkId } }, { followRedirects: 2 });
        if (sub.frameworkId !== frameworkId)
          throw new Error(`re-SUBSCRIBE failed: ${sub.status} ${sub.body}`);
        await sub.call("RECONCILE", { reconcile: { tasks: [] } });
        const update = await sub.next(
          (e) => e.type === "UPDATE" && e.update.status.task_id.value === taskId,
          60_000,
        );
        return `${info.name} re-subscribed after the rolling restart; ${taskId} is ${update.update.status.state}`;
      } finally {
        await sub.call("TEARDOWN").catch(() => {});
        sub.disconnect();
      }
    },
  };
}
