// Fault injectors, each with a kind name. An injection returns what it did (for the history and
// the report) or throws when the fault could not be brought about; every wait is bounded.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { FAILPOINTS, type Failpoint } from "../../src/controller/failpoints.ts";
import { repoRoot } from "../../src/local/binaries.ts";
import type { Recorder } from "./recorder.ts";
import { type Replicas, SLOTS, type Slot } from "./replicas.ts";
import type { Workload } from "./workload.ts";

export interface FaultContext {
  kc: KubeConfig;
  replicas: Replicas;
  workload: Workload;
  recorder: Recorder;
  rng: () => number;
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
  const files = ["src/controller/offer-reconciler.ts", "src/controller/framework-lifecycle.ts"];
  const text = files.map((f) => readFileSync(join(repoRoot, f), "utf8")).join("\n");
  return FAILPOINTS.filter((n) => text.includes(`failpoint("${n}")`));
}

/**
 * SIGKILL at a failpoint: the standby is restarted armed (KUBE_OFFERS_FAILPOINT=<name>:<n>) and
 * made leader by a graceful stop of the current one (which releases the Lease); the workload is
 * nudged towards the point (a teardown for the teardown points); the armed replica kills itself
 * at its n-th hit and is restarted unarmed, the other replica taking over when its Lease lapses.
 */
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
          const armed = replicas.spawn(armedSlot, { KUBE_OFFERS_FAILPOINT: `${name}:${hit}` });
          replicas.expectExit(armed);
          await replicas.waitSynced(armedSlot);
          await replicas.stopGracefully(leader);
          replicas.spawn(leader);
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
