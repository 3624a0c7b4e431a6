// The gang example: it never launches part of a group — not while capacity is short, not while
// only some of it has freed up — and launches the whole group as soon as it fits.
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GangFramework } from "../../examples/gang/gang.ts";
import { consoleLog } from "../../examples/lib/runtime.ts";
import { GROUP, LABEL_FRAMEWORK, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { commandTask, FrameworkClient, fits } from "../../src/sdk/index.ts";
import { Pool } from "./pool.ts";
import { waitFor } from "./support.ts";

let pool: Pool;
const log = process.env.LOG_LEVEL === "debug" ? consoleLog("gang", "debug") : undefined;

beforeAll(async () => {
  // 3 nodes of 4 cpu.
  pool = await Pool.start("gang", { nodes: 3 });
});
afterAll(async () => {
  await pool?.stop();
});

/** Records the number of the gang's Pods every 100 ms (generation 1, and any generation) until stopped. */
function watchGangPods(framework: string): { counts: number[]; all: number[]; stop: () => void } {
  const core = pool.kc.makeApiClient(CoreV1Api);
  const counts: number[] = [];
  const all: number[] = [];
  let on = true;
  void (async () => {
    while (on) {
      const list = await core
        .listNamespacedPod({ namespace: pool.namespace, labelSelector: `${LABEL_FRAMEWORK}=${framework}` })
        .catch(() => undefined);
      if (list) {
        const gen1 = list.items.filter(
          (p) => p.metadata?.labels?.["examples.kubeoffers.io/generation"] === "1",
        );
        counts.push(gen1.length);
        all.push(list.items.length);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { counts, all, stop: () => (on = false) };
}

describe("gang example", () => {
  it("launches all members at once when capacity frees up, and never part of the group", async () => {
    // Another framework takes 3 of each node's 4 cpu.
    const blocker = new FrameworkClient({
      kubeConfig: pool.kc,
      namespace: pool.namespace,
      name: "blocker",
      labels: pool.labels,
      liveness: false,
    });
    await blocker.start();
    const offers = await waitFor("an offer per node", async () =>
      blocker.offers().length === 3 ? blocker.offers() : undefined,
    );
    for (const o of offers)
      await blocker.launch(o, [
        commandTask({ id: `hog-${o.agent}`, resources: { cpu: "3", memory: "1Gi" } }),
      ]);
    await waitFor(
      "hogs running",
      async () => blocker.tasks().filter((t) => t.state === "TASK_RUNNING").length === 3,
    );
    await blocker.suppress();

    const seen = watchGangPods("gang");
    let before = 0;
    const gang = new GangFramework({
      kubeConfig: pool.kc,
      namespace: pool.namespace,
      name: "gang",
      labels: pool.labels,
      size: 3,
      cpu: "2",
      memory: "512Mi",
      runSeconds: () => 1,
      holdSeconds: 1,
      leaseSeconds: 3,
      ...(log ? { log } : {}),
    });
    const done = gang.run();
    try {
      // 1 cpu free per node: no member fits anywhere. It does not sit on what it cannot use:
      // offers held past holdSeconds are declined.
      await waitFor(
        "held offers declined",
        async () => {
          const list = (await pool.kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: pool.namespace,
            plural: PLURAL.resourceOffer,
            labelSelector: `${LABEL_FRAMEWORK}=gang`,
          })) as { items: ResourceOffer[] };
          return list.items.some((o) => o.status?.phase === "Declined");
        },
        30_000,
        200,
      );
      expect(gang.status()).toMatchObject({ generation: 0, phase: "Waiting" });
      // One node frees up: room for 2 of the 3 members — still not enough.
      const [n1, n2] = offers.map((o) => o.agent);
      await blocker.kill(`hog-${n1}`);
      // The gang is shown what n1 freed (an offer there with room for a member) and gives it
      // back, twice over, launching nothing.
      const freedOffered = await waitFor(
        "two offers of n1's freed cpu declined by the gang",
        async () => {
          const list = (await pool.kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: pool.namespace,
            plural: PLURAL.resourceOffer,
            labelSelector: `${LABEL_FRAMEWORK}=gang`,
          })) as { items: ResourceOffer[] };
          const declined = list.items.filter(
            (o) =>
              o.spec.agent === n1 &&
              o.status?.phase === "Declined" &&
              fits(o.spec.resources, { cpu: "2", memory: "512Mi" }),
          );
          return declined.length >= 2 ? declined : undefined;
        },
        30_000,
        200,
      );
      expect(freedOffered.every((o) => !o.status?.tasks?.length)).toBe(true);
      expect(gang.status().generation).toBe(0);
      expect(Math.max(0, ...seen.counts)).toBe(0);
      // A second node frees up: now all three fit at once.
      before = seen.all.length;
      await blocker.kill(`hog-${n2}`);
      expect(await done).toBe(0);
    } finally {
      seen.stop();
      await gang.stop({ teardown: true });
      await blocker.stop({ teardown: true });
    }
    const st = gang.status();
    expect(st).toMatchObject({ generation: 1, phase: "Finished" });
    expect(st.members.map((m) => m.state)).toEqual(["TASK_FINISHED", "TASK_FINISHED", "TASK_FINISHED"]);
    // While capacity was short (every sample until then) nothing was launched; afterwards exactly the
    // one group of 3 was (Pods are created one API call at a time, so a sample may catch 1 or 2
    // of them on the way), and no partial generation was ever started and killed.
    expect(before).toBeGreaterThan(10);
    expect(seen.all.slice(0, before).every((n) => n === 0)).toBe(true);
    expect(Math.max(...seen.all)).toBe(3);
    expect(seen.counts[seen.counts.length - 1]).toBe(3);
    expect(seen.all.every((n, i) => i === 0 || n >= (seen.all[i - 1] ?? 0))).toBe(true);
  });

  it("with --colocate, runs the whole group as one Pod on one agent (launchGroup)", async () => {
    const gang = new GangFramework({
      kubeConfig: pool.kc,
      namespace: pool.namespace,
      name: "pair",
      labels: pool.labels,
      size: 2,
      cpu: "1",
      memory: "256Mi",
      runSeconds: () => 1,
      colocate: true,
      leaseSeconds: 3,
    });
    const code = await gang.run();
    await gang.stop();
    expect(code).toBe(0);
    const pods = (
      await pool.kc
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: pool.namespace, labelSelector: `${LABEL_FRAMEWORK}=pair` })
    ).items;
    expect(pods).toHaveLength(1);
    expect(pods[0]?.spec?.containers.map((c) => c.name)).toEqual(["g1-0", "g1-1"]);
    expect(gang.status().members.map((m) => [m.id, m.state])).toEqual([
      ["g1-0", "TASK_FINISHED"],
      ["g1-1", "TASK_FINISHED"],
    ]);
  });
});
