// The SDK against the real control plane: registration, offers in, answers out, task updates,
// the errors a framework author meets, suppress/revive, kill, reconcile, and the liveness Lease.
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { Framework } from "../../src/crds/framework.ts";
import {
  commandTask,
  FrameworkClient,
  type FrameworkClientOptions,
  InvalidLaunchError,
  NotConnectedError,
  OfferAlreadyAnsweredError,
  OfferBin,
  OfferNotUsableError,
  type SchedulerEvent,
  type TaskUpdate,
} from "../../src/sdk/index.ts";
import { FrameworkSide } from "./offers.ts";
import { Pool } from "./pool.ts";
import { afterCycles, waitFor } from "./support.ts";

let pool: Pool;
const clients: FrameworkClient[] = [];

beforeAll(async () => {
  pool = await Pool.start("sdk", { nodes: 2 });
});
afterAll(async () => {
  for (const c of clients) await c.stop().catch(() => {});
  await pool?.stop();
});

function client(name: string, extra: Partial<FrameworkClientOptions> = {}): FrameworkClient {
  const c = new FrameworkClient({
    kubeConfig: pool.kc,
    namespace: pool.namespace,
    name,
    labels: pool.labels,
    liveness: { leaseSeconds: 3 },
    ...extra,
  });
  clients.push(c);
  return c;
}

function record(c: FrameworkClient): SchedulerEvent[] {
  const events: SchedulerEvent[] = [];
  c.onAny((e) => events.push(e));
  return events;
}

const updatesOf = (events: SchedulerEvent[], id: string): TaskUpdate[] =>
  events.flatMap((e) => (e.type === "update" && e.task.id === id ? [e.task] : []));

describe("FrameworkClient", () => {
  it("registers, gets offers, launches, and reports each task state once", async () => {
    const c = client("alpha");
    const events = record(c);
    // The same events as an async stream.
    const streamed: string[] = [];
    const consumer = (async () => {
      for await (const e of c.events()) {
        streamed.push(e.type);
        if (e.type === "connected") break;
      }
    })();
    await c.start();
    await consumer;
    expect(streamed).toEqual(events.slice(0, streamed.length).map((e) => e.type));
    expect(streamed[streamed.length - 1]).toBe("connected");
    expect(c.connected).toBe(true);
    expect(events[events.length - 1]?.type).toBe("connected");
    const fw = (await pool.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: pool.namespace,
      plural: PLURAL.framework,
      name: "alpha",
    })) as Framework;
    expect(fw.spec.liveness?.leaseName).toBe("alpha-scheduler");
    expect(fw.metadata.labels).toMatchObject(pool.labels);

    const offers = await waitFor("an offer per agent", async () =>
      c.offers().length === 2 ? c.offers() : undefined,
    );
    expect(events.filter((e) => e.type === "offer")).toHaveLength(2);
    const [o1, o2] = offers as [(typeof offers)[0], (typeof offers)[0]];
    const bin = new OfferBin(o1.name, o1.resources);
    const res = bin.place({ cpu: "1", memory: "512Mi", ports: 1 })!;
    const r = await c.launch(o1, [commandTask({ id: "t1", resources: res, simulate: { runSeconds: 1 } })]);
    expect(r).toEqual({ offer: o1.name, tasks: ["t1"] });
    expect(c.task("t1")).toMatchObject({ state: "TASK_STAGING", source: "launching" });
    expect(c.offers().map((o) => o.name)).not.toContain(o1.name);
    const outcome = await c.outcome(o1);
    expect(outcome.phase).toBe("Accepted");
    await waitFor("TASK_FINISHED", async () => c.task("t1")?.state === "TASK_FINISHED", 20_000);
    expect(updatesOf(events, "t1").map((u) => u.state)).toEqual([
      "TASK_STAGING",
      "TASK_RUNNING",
      "TASK_FINISHED",
    ]);
    expect(c.task("t1")).toMatchObject({ agent: o1.agent, offer: o1.name, pod: "alpha-t1", terminal: true });
    expect(events.some((e) => e.type === "answered" && e.outcome.offer === o1.name)).toBe(true);

    // Declining works once; a second answer to the same offer is refused, clearly.
    expect(await c.decline(o2, 1)).toBe(true);
    await expect(c.launch(o2.name, [commandTask({ id: "t2", resources: { cpu: "1" } })])).rejects.toThrow(
      OfferAlreadyAnsweredError,
    );
    expect((await c.outcome(o2)).phase).toBe("Declined");
    await c.stop({ teardown: true });
  });

  it("refuses bad answers before writing them, naming the problem", async () => {
    const c = client("bravo");
    await c.start();
    const o = await waitFor("an offer", async () => c.offers()[0]);
    await expect(c.launch(o, [commandTask({ id: "big", resources: { cpu: "64" } })])).rejects.toThrow(
      /task big asks cpu 64, more than the .* left of offer/,
    );
    await expect(c.launch(o, [commandTask({ id: "Not_A_Label", resources: { cpu: "1" } })])).rejects.toThrow(
      /spec\.response\.operations\[0\]\.launch\.tasks\[0\]\.id: must be a lowercase RFC 1123 label/,
    );
    await expect(
      c.launch(o, [
        commandTask({ id: "d", resources: { cpu: "1" } }),
        commandTask({ id: "d", resources: { cpu: "1" } }),
      ]),
    ).rejects.toThrow(InvalidLaunchError);
    // Nothing was written: the offer is still usable.
    const r = await c.launch(o, [commandTask({ id: "ok", resources: { cpu: "1" } })]);
    expect(r.tasks).toEqual(["ok"]);
    await waitFor("ok running", async () => c.task("ok")?.state === "TASK_RUNNING");
    // Reusing a live task's id from another offer is refused.
    const o2 = await waitFor("another offer", async () => c.offers()[0]);
    await expect(c.launch(o2, [commandTask({ id: "ok", resources: { cpu: "1" } })])).rejects.toThrow(
      /task id ok is already in use/,
    );
    await c.stop({ teardown: true });
  });

  it("says so when an offer was rescinded, and reports the rescind once", async () => {
    const c = client("charlie");
    const events = record(c);
    await c.start();
    const o = await waitFor("an offer", async () => c.offers()[0]);
    await pool.sim.nodeDown(o.agent); // the agent reports NotReady: the offer is rescinded
    await waitFor("rescinded event", async () => events.some((e) => e.type === "rescinded"), 20_000);
    const ev = events.filter((e) => e.type === "rescinded");
    expect(ev).toHaveLength(1);
    expect(c.offers().map((x) => x.name)).not.toContain(o.name);
    const err = await c
      .launch(o, [commandTask({ id: "late", resources: { cpu: "1" } })])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OfferNotUsableError);
    expect(String(err)).toMatch(new RegExp(`offer ${o.name} is Rescinded .*wait for the next offer`, "i"));
    expect(await c.decline(o)).toBe(false);
    await pool.sim.nodeUp(o.agent);
    await c.stop({ teardown: true });
  });

  it("suppresses and revives, kills, launches groups, and reconciles after a restart", async () => {
    const c = client("delta");
    await c.start();
    const o = await waitFor("an offer", async () => c.offers()[0]);
    await c.launchGroup(o, [
      commandTask({ id: "g-0", resources: { cpu: "500m", memory: "128Mi" } }),
      commandTask({ id: "g-1", resources: { cpu: "500m", memory: "128Mi" } }),
    ]);
    await waitFor("group running", async () =>
      ["g-0", "g-1"].every((id) => c.task(id)?.state === "TASK_RUNNING"),
    );
    expect(c.task("g-1")).toMatchObject({ pod: "delta-g-0", group: ["g-0", "g-1"] });

    await c.suppress();
    await waitFor("no outstanding offers", async () => c.offers().length === 0, 20_000);
    // Three more allocation cycles while suppressed: none made an offer, on the API server or
    // in the client's view.
    await afterCycles(pool.operator, 3);
    expect(await new FrameworkSide(pool.kc, pool.namespace).offers("delta", "Offered")).toEqual([]);
    expect(c.offers()).toEqual([]);
    await c.revive();
    await waitFor("offers again after revive", async () => c.offers().length > 0, 20_000);

    // A second process takes over (the first "crashed": its Lease is not released).
    await c.stop({ release: false });
    const d = client("delta");
    const events = record(d);
    const t0 = Date.now();
    await d.start();
    expect(Date.now() - t0).toBeGreaterThan(1000); // it waited for the old Lease to lapse
    const tasks = await d.reconcile();
    expect(
      tasks
        .filter((t) => t.state === "TASK_RUNNING")
        .map((t) => t.id)
        .sort(),
    ).toEqual(["g-0", "g-1"]);
    // Implicit reconciliation during start: one update per known task, no more.
    expect(updatesOf(events, "g-0")).toHaveLength(1);

    expect(await d.kill("g-1")).toBe(true);
    await waitFor("group killed", async () =>
      ["g-0", "g-1"].every((id) => ["TASK_KILLED"].includes(d.task(id)?.state ?? "")),
    );
    expect(await d.kill("no-such-task")).toBe(false);
    await d.stop({ teardown: true });
  });

  it("elects one active instance: a standby takes over when the active one stops", async () => {
    const a = client("echo");
    await a.start();
    const bSaid: string[] = [];
    const b = client("echo", { liveness: { leaseSeconds: 3 }, log: (_level, msg) => bSaid.push(msg) });
    const bEvents = record(b);
    const bStarted = b.start();
    // b has looked at the Lease, found a holding it, and stands by.
    await waitFor("b standing by", async () => bSaid.some((m) => /is held by .*; standing by/.test(m)));
    expect(b.connected).toBe(false);
    expect(bEvents).toEqual([]);
    const o = await waitFor("an offer for the active instance", async () => a.offers()[0]);
    await a.stop(); // releases the Lease
    await bStarted;
    expect(b.connected).toBe(true);
    await expect(a.decline(o)).rejects.toThrow(/before start\(\) completed or after stop\(\)/);
    const lease = await pool.kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: "echo-scheduler", namespace: pool.namespace });
    expect(lease.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);
    await b.stop({ teardown: true });
    await waitFor("Framework gone", async () => {
      const list = await pool.kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: pool.namespace,
        plural: PLURAL.framework,
      });
      return !(list as { items: Framework[] }).items.some((f) => f.metadata.name === "echo");
    });
    void NotConnectedError;
    void CoreV1Api;
  });

  it("lets event handlers answer offers delivered during start(), and turns handler failures into warnings", async () => {
    const a = client("foxtrot", { liveness: false });
    await a.start();
    await waitFor("offers outstanding", async () => a.offers().length === 2);
    await a.stop();
    // A new process: the two outstanding offers arrive during start()'s initial sync.
    const b = client("foxtrot", { liveness: false });
    const warnings: string[] = [];
    b.on("warning", ({ message }) => warnings.push(message));
    let n = 0;
    b.on("offer", async ({ offer }) => {
      if (n++ === 0) throw new Error("handler bug");
      await b.launch(offer, [commandTask({ id: "from-handler", resources: { cpu: "1" } })]);
    });
    await b.start();
    await waitFor(
      "the task launched from the handler",
      async () => b.task("from-handler")?.state === "TASK_RUNNING",
    );
    expect(warnings).toContain("a 'offer' handler failed");
    await b.stop({ teardown: true });
  });

  it("reports an offer that timed out as expired, once, and refuses to answer it", async () => {
    const c = client("golf", { framework: { offerTimeoutSeconds: 1 } });
    const events = record(c);
    await c.start();
    const o = await waitFor("an offer", async () => c.offers()[0]);
    expect(o.expiresAt).toBeInstanceOf(Date);
    await waitFor(
      "expired",
      async () => events.some((e) => e.type === "expired" && e.offer.name === o.name),
      15_000,
    );
    const err = await c
      .launch(o, [commandTask({ id: "late", resources: { cpu: "1" } })])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OfferNotUsableError);
    expect((err as OfferNotUsableError).phase).toBe("Expired");
    expect(events.filter((e) => e.type === "expired" && e.offer.name === o.name)).toHaveLength(1);
    await c.stop({ teardown: true });
  });
});
