// Offer lifecycle end to end: refusal filters, DRF between frameworks, node loss, framework
// teardown, and crash safety of launches.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { repoRoot } from "../../src/local/binaries.ts";
import { accept, FrameworkSide, task } from "./offers.ts";
import { LEASE_NAMESPACE, Pool } from "./pool.ts";
import { waitFor } from "./support.ts";

describe("refusal filters", () => {
  let pool: Pool;
  beforeAll(async () => {
    pool = await Pool.start("filters", { nodes: 2 });
  });
  afterAll(async () => pool?.stop());

  it("a declined agent is not re-offered to that framework until refuseSeconds lapse; others get it", async () => {
    const fw = new FrameworkSide(pool.kc, pool.namespace);
    await fw.createFramework("a", pool.labels);
    const offersA = await waitFor("offers for a on both agents", async () => {
      const os = await fw.offers("a", "Offered");
      return os.length === 2 ? os : undefined;
    });
    await fw.createFramework("b", pool.labels);
    const target = offersA[0]!;
    const agent = target.spec.agent;
    await fw.answer(target.metadata.name ?? "", { action: "Decline", filters: { refuseSeconds: 4 } });
    const declinedAt = Date.now();
    const forB = await waitFor("b offered the declined agent", async () =>
      (await fw.offers("b", "Offered")).find((o) => o.spec.agent === agent),
    );
    // b returns it for a long time: now only a's filter keeps it from a.
    await fw.answer(forB.metadata.name ?? "", { action: "Decline", filters: { refuseSeconds: 300 } });
    const again = await waitFor(
      "a offered the agent again",
      async () =>
        (await fw.offers("a", "Offered")).find(
          (o) => o.spec.agent === agent && o.metadata.name !== target.metadata.name,
        ),
      20_000,
      50,
    );
    const waited = Date.now() - declinedAt;
    expect(again).toBeDefined();
    expect(waited).toBeGreaterThanOrEqual(3900);
  });
});

describe("DRF between frameworks", () => {
  let pool: Pool;
  beforeAll(async () => {
    pool = await Pool.start("drf", { nodes: 3 });
  });
  afterAll(async () => pool?.stop());

  /** A greedy framework: one 1-cpu task per offer, until the pool is full. */
  let largestOffer = 0; // cpu cores of the largest offer either framework saw
  async function greedy(fw: FrameworkSide, name: string, stop: () => boolean): Promise<number> {
    let launched = 0;
    const seen = new Set<string>();
    while (!stop()) {
      for (const o of await fw.offers(name, "Offered")) {
        const key = o.metadata.name ?? "";
        if (seen.has(key)) continue;
        seen.add(key);
        const cpu = String(o.spec.resources.cpu ?? "0");
        const cores = cpu.endsWith("m") ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
        largestOffer = Math.max(largestOffer, cores);
        const fits = cores >= 1;
        if (fits) {
          await fw.answer(key, accept([task(`${name}-${++launched}`, { cpu: "1", memory: "1Gi" })], 0));
        } else {
          await fw.answer(key, { action: "Decline", filters: { refuseSeconds: 300 } });
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return launched;
  }

  it("two frameworks with identical demand end with equal dominant shares (± one offer)", async () => {
    const fw = new FrameworkSide(pool.kc, pool.namespace);
    await fw.createFramework("c", pool.labels);
    await fw.createFramework("d", pool.labels);
    let done = false;
    const runs = [greedy(fw, "c", () => done), greedy(fw, "d", () => done)];
    await waitFor("12 tasks on 12 cpus", async () => (await fw.pods()).length === 12, 60_000, 200);
    done = true;
    await Promise.all(runs);
    const pods = await fw.pods();
    const c = pods.filter((p) => p.metadata?.labels?.["kubeoffers.io/framework"] === "c").length;
    const d = pods.length - c;
    // DRF's guarantee: dominant shares within one offer's worth. Each task is 1 cpu of 12 (the
    // dominant resource), so the task counts may differ by at most the largest offer's cores.
    expect(largestOffer).toBeGreaterThan(0);
    expect(Math.abs(c - d)).toBeLessThanOrEqual(Math.floor(largestOffer));
    // Counts and shares are written at most every STATUS_WRITE_INTERVAL_MS, the last change
    // always: c's status must come to show that it holds about half the pool.
    const statusC = await waitFor("c's status to show its share", async () => {
      const f = await fw.framework("c");
      return (f.status?.dominantShare ?? 0) > 0.4 ? f : undefined;
    });
    expect(statusC.status?.dominantShare).toBeLessThanOrEqual(1);
  });
});

describe("node loss and teardown", () => {
  let pool: Pool;
  beforeAll(async () => {
    pool = await Pool.start("loss", { nodes: 2 });
  });
  afterAll(async () => pool?.stop());

  it("rescinds offers on a lost node and reports its tasks unreachable, then lost", async () => {
    const fw = new FrameworkSide(pool.kc, pool.namespace);
    await fw.createFramework("e", pool.labels);
    const first = await waitFor("an offer", async () => (await fw.offers("e", "Offered"))[0]);
    const node = first.spec.agent;
    await fw.answer(first.metadata.name ?? "", accept([task("svc", { cpu: "1", memory: "1Gi" })], 0));
    await waitFor("task running", async () => (await fw.framework("e")).status?.tasks?.TASK_RUNNING === 1);
    const held = await waitFor("a new offer on the same node", async () =>
      (await fw.offers("e", "Offered")).find((o) => o.spec.agent === node),
    );
    await pool.sim.nodeDown(node);
    await pool.stopAgent(node);
    const rescinded = await waitFor("offer rescinded", async () => {
      const o = await fw.offer(held.metadata.name ?? "");
      return o?.status?.phase === "Rescinded" ? o : undefined;
    });
    expect(rescinded.status?.reason).toMatch(/NotReady|AgentLost/);
    await waitFor(
      "task unreachable",
      async () => (await fw.framework("e")).status?.tasks?.TASK_UNREACHABLE === 1,
      30_000,
    );
    await pool.sim.removeNode(node);
    await waitFor("task lost", async () => (await fw.framework("e")).status?.tasks?.TASK_LOST === 1, 30_000);
    const pod = (await fw.pods("e"))[0];
    expect(pod?.metadata?.annotations?.["kubeoffers.io/node-state"]).toBe("lost");
    // Give the pool back for the next test.
    await fw.deleteFramework("e");
    await waitFor("e's offers released", async () => (await fw.offers("e", "Offered")).length === 0);
  });

  it("deleting a Framework rescinds its offers and kills its tasks", async () => {
    const fw = new FrameworkSide(pool.kc, pool.namespace);
    await fw.createFramework("f", pool.labels);
    const o = await waitFor("an offer for f", async () => {
      const os = (await fw.offers("f", "Offered")).filter((x) =>
        pool.agents.some((a) => a.nodeName === x.spec.agent),
      );
      return os[0];
    });
    await fw.answer(
      o.metadata.name ?? "",
      accept([task("t1", { cpu: "500m" }), task("t2", { cpu: "500m" })], 0),
    );
    await waitFor(
      "two tasks running",
      async () => (await fw.framework("f")).status?.tasks?.TASK_RUNNING === 2,
    );
    await fw.deleteFramework("f");
    await waitFor("pods gone", async () => (await fw.pods("f")).length === 0, 30_000);
    await waitFor("offers gone or rescinded", async () =>
      (await fw.offers("f")).every((x: ResourceOffer) => x.status?.phase !== "Offered"),
    );
    await waitFor("framework gone", async () => !(await fw.framework("f").catch(() => undefined)));
  });
});

describe("crash safety", () => {
  let pool: Pool;
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    pool = await Pool.start("crash", { nodes: 2, operator: false });
  });
  afterAll(async () => {
    for (const p of procs) p.kill("SIGKILL");
    await pool?.stop();
  });

  function operatorProcess(env: Record<string, string>): Promise<ChildProcess> {
    const child = spawn(process.execPath, [join(repoRoot, "test/e2e/operator-process.ts")], {
      env: { ...process.env, KUBECONFIG: inject("kubeconfig"), POOL: pool.name, LEASE_NAMESPACE, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    procs.push(child);
    return new Promise((resolve, reject) => {
      child.stdout?.on("data", (d: Buffer) => {
        if (d.toString().includes("operator started")) resolve(child);
      });
      child.once("exit", (code) => reject(new Error(`operator exited early (${code})`)));
    });
  }

  it("an operator killed between launch and status write relaunches nothing twice", async () => {
    const crashing = await operatorProcess({ KUBE_OFFERS_FAILPOINT: "after-launch-before-status" });
    const exited = new Promise((r) => crashing.once("exit", r));
    const fw = new FrameworkSide(pool.kc, pool.namespace);
    await fw.createFramework("g", pool.labels);
    const offer = await waitFor("an offer for g", async () => (await fw.offers("g", "Offered"))[0]);
    await fw.answer(
      offer.metadata.name ?? "",
      accept([task("a", { cpu: "100m" }), task("b", { cpu: "100m" }), task("c", { cpu: "100m" })]),
    );
    await exited; // the failpoint killed it after the Pods, before the status
    expect((await fw.pods("g")).length).toBe(3);
    expect((await fw.offer(offer.metadata.name ?? ""))?.status?.phase).toBe("Offered");

    await operatorProcess({});
    const accepted = await waitFor("offer Accepted after restart", async () => {
      const o = await fw.offer(offer.metadata.name ?? "");
      return o?.status?.phase === "Accepted" ? o : undefined;
    });
    expect(accepted.status?.tasks?.map((t) => t.id).sort()).toEqual(["a", "b", "c"]);
    expect(accepted.status?.tasks?.every((t) => t.state !== "TASK_ERROR")).toBe(true);
    const pods = await fw.pods("g");
    expect(pods.map((p) => p.metadata?.name).sort()).toEqual(["g-a", "g-b", "g-c"]);
    await removeFramework(fw, "g");
  });

  /** Tears a framework down (the running operator does it), so the next test gets the agents. */
  async function removeFramework(fw: FrameworkSide, name: string) {
    await fw.deleteFramework(name);
    await waitFor(
      `framework ${name} gone`,
      async () => !(await fw.framework(name).catch(() => undefined)),
      30_000,
    );
  }

  /** Starts an operator armed at `failpoint`, answers one offer of framework `name` with a, b, c. */
  async function crashWhileLaunching(name: string, failpoint: string) {
    // Only the armed operator may run: stop the ones earlier tests restarted.
    await Promise.all(
      procs.splice(0).map((p) =>
        p.exitCode !== null || p.signalCode !== null
          ? undefined
          : new Promise((r) => {
              p.once("exit", r);
              p.kill("SIGKILL");
            }),
      ),
    );
    const crashing = await operatorProcess({ KUBE_OFFERS_FAILPOINT: failpoint });
    const exited = new Promise((r) => crashing.once("exit", r));
    const fw = new FrameworkSide(pool.kc, pool.namespace);
    await fw.createFramework(name, pool.labels);
    const offer = await waitFor(`an offer for ${name}`, async () => (await fw.offers(name, "Offered"))[0]);
    const offerName = offer.metadata.name ?? "";
    await fw.answer(
      offerName,
      accept([task("a", { cpu: "100m" }), task("b", { cpu: "100m" }), task("c", { cpu: "100m" })]),
    );
    await exited;
    return { fw, offerName };
  }

  async function acceptedAfterRestart(
    fw: FrameworkSide,
    offerName: string,
    settled: (s: Record<string, string>) => boolean,
  ) {
    await operatorProcess({});
    return waitFor(
      "the offer Accepted with its tasks settled",
      async () => {
        const o = await fw.offer(offerName);
        if (o?.status?.phase !== "Accepted") return undefined;
        const states = Object.fromEntries((o.status.tasks ?? []).map((t) => [t.id, t.state]));
        return settled(states) ? states : undefined;
      },
      30_000,
    );
  }

  it("a task killed while its launch was interrupted never comes back", async () => {
    const { fw, offerName } = await crashWhileLaunching("k", "after-launch-before-status");
    expect((await fw.pods("k")).length).toBe(3);
    // The framework kills task b while no operator runs: it deletes b's Pod.
    await fw.deletePod("k-b");
    await waitFor("k-b gone", async () => !(await fw.pods("k")).some((p) => p.metadata?.name === "k-b"));
    const states = await acceptedAfterRestart(fw, offerName, (s) => s.b === "TASK_DROPPED");
    expect(states.a).not.toBe("TASK_DROPPED");
    expect(states.c).not.toBe("TASK_DROPPED");
    const pods = (await fw.pods("k")).map((p) => p.metadata?.name).sort();
    expect(pods).toEqual(["k-a", "k-c"]);
    await removeFramework(fw, "k");
  });

  it("a launch interrupted after its record creates no Pod on replay: every task ends TASK_DROPPED", async () => {
    const { fw, offerName } = await crashWhileLaunching("r", "after-launch-record");
    expect((await fw.pods("r")).length).toBe(0);
    expect((await fw.offer(offerName))?.status?.answeredAt).toBeDefined(); // the record
    const states = await acceptedAfterRestart(fw, offerName, (s) =>
      ["a", "b", "c"].every((id) => s[id] === "TASK_DROPPED"),
    );
    expect(Object.keys(states).sort()).toEqual(["a", "b", "c"]);
    expect((await fw.pods("r")).length).toBe(0);
    await removeFramework(fw, "r");
  });
});
