// Bad answers: each ends with a clear reason naming the problem, no Pod where none belongs,
// and the offered resources back in the pool (the agent is offered again).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { accept, FrameworkSide, task } from "./offers.ts";
import { Pool } from "./pool.ts";
import { kubectl, waitFor } from "./support.ts";

let pool: Pool;
let fw: FrameworkSide;
let n = 0;

beforeAll(async () => {
  pool = await Pool.start("answers", { nodes: 2 });
  fw = new FrameworkSide(pool.kc, pool.namespace);
});
afterAll(async () => {
  await pool?.stop();
});
// Each test's framework holds the pool's offers until it is torn down.
afterEach(async () => {
  await fw.deleteFramework(`fw${n}`);
  await waitFor("offers released", async () => (await fw.offers(`fw${n}`, "Offered")).length === 0);
});

/** A fresh framework and one of its open offers. */
async function freshOffer(
  spec: Record<string, unknown> = {},
): Promise<{ name: string; offer: ResourceOffer }> {
  const name = `fw${++n}`;
  await fw.createFramework(name, pool.labels, spec);
  const offer = await waitFor(`an offer for ${name}`, async () => (await fw.offers(name, "Offered"))[0]);
  return { name, offer };
}

async function finalOf(name: string): Promise<ResourceOffer> {
  return waitFor(`offer ${name} to finish`, async () => {
    const o = await fw.offer(name);
    return o?.status?.phase && o.status.phase !== "Offered" ? o : undefined;
  });
}

/** After a rejected answer, the same agent is offered to the framework again. */
async function reoffered(framework: string, agent: string, except: string): Promise<void> {
  await waitFor(`${agent} re-offered to ${framework}`, async () =>
    (await fw.offers(framework, "Offered")).some((o) => o.spec.agent === agent && o.metadata.name !== except),
  );
}

describe("invalid answers", () => {
  it("more than offered → Invalid InsufficientResources, no Pod, resources back", async () => {
    const { name, offer } = await freshOffer();
    await fw.answer(offer.metadata.name ?? "", accept([task("big", { cpu: "64", memory: "1Gi" })]));
    const done = await finalOf(offer.metadata.name ?? "");
    expect(done.status?.phase).toBe("Invalid");
    expect(done.status?.reason).toBe("InsufficientResources");
    expect(done.status?.message).toMatch(/task big asks cpu 64/);
    expect(done.status?.tasks?.[0]?.state).toBe("TASK_ERROR");
    expect(await fw.pods(name)).toHaveLength(0);
    await reoffered(name, offer.spec.agent, offer.metadata.name ?? "");
  });

  it("a port outside the offer → Invalid UnknownPorts", async () => {
    const { name, offer } = await freshOffer();
    await fw.answer(
      offer.metadata.name ?? "",
      accept([task("p", { cpu: "100m", ports: [{ begin: 80, end: 80 }] })]),
    );
    const done = await finalOf(offer.metadata.name ?? "");
    expect(done.status?.phase).toBe("Invalid");
    expect(done.status?.reason).toBe("UnknownPorts");
    expect(done.status?.message).toContain("80");
    expect(await fw.pods(name)).toHaveLength(0);
    await reoffered(name, offer.spec.agent, offer.metadata.name ?? "");
  });

  it("a duplicate task id: within an answer rejected at admission, across offers Invalid DuplicateTaskId", async () => {
    const { name, offer } = await freshOffer();
    const err = await fw
      .answer(
        offer.metadata.name ?? "",
        accept([task("same", { cpu: "100m" }), task("same", { cpu: "100m" })]),
      )
      .then(() => "admitted")
      .catch((e: { body?: string }) => String(e.body));
    expect(err).toMatch(/Duplicate value.*same/);
    expect(await fw.pods(name)).toHaveLength(0);

    const next = offer;
    await fw.answer(next.metadata.name ?? "", accept([task("t1", { cpu: "100m" })], 0));
    expect((await finalOf(next.metadata.name ?? "")).status?.phase).toBe("Accepted");
    const third = await waitFor("a third offer", async () => (await fw.offers(name, "Offered"))[0]);
    await fw.answer(third.metadata.name ?? "", accept([task("t1", { cpu: "100m" })]));
    const done = await finalOf(third.metadata.name ?? "");
    expect(done.status?.reason).toBe("DuplicateTaskId");
    expect(done.status?.message).toContain("t1");
    expect(await fw.pods(name)).toHaveLength(1);
  });

  it("a Pod template the API server rejects → TASK_ERROR with its message", async () => {
    const { name, offer } = await freshOffer();
    const bad = task("bad", { cpu: "100m" }, { spec: { containers: [{ name: "main" }] } }); // no image
    await fw.answer(offer.metadata.name ?? "", accept([bad]));
    const done = await finalOf(offer.metadata.name ?? "");
    expect(done.status?.tasks?.[0]?.state).toBe("TASK_ERROR");
    expect(done.status?.tasks?.[0]?.reason).toBe("PodRejected");
    expect(done.status?.tasks?.[0]?.message).toMatch(/image/);
    expect(await fw.pods(name)).toHaveLength(0);
    await reoffered(name, offer.spec.agent, offer.metadata.name ?? "");
  });

  it("an answer on an expired offer launches nothing and says why", async () => {
    const { name, offer } = await freshOffer({ offerTimeoutSeconds: 1 });
    const expired = await finalOf(offer.metadata.name ?? "");
    expect(expired.status?.phase).toBe("Expired");
    await fw.answer(offer.metadata.name ?? "", accept([task("late", { cpu: "100m" })]));
    const after = await waitFor("the late answer noted", async () => {
      const o = await fw.offer(offer.metadata.name ?? "");
      return o?.status?.message?.includes("ignored") ? o : undefined;
    });
    expect(after.status?.phase).toBe("Expired");
    expect(await fw.pods(name)).toHaveLength(0);
  });

  it("rejects schema violations at admission, naming the field", async () => {
    const { offer } = await freshOffer();
    const err = await kubectl([
      "patch",
      "resourceoffer",
      offer.metadata.name ?? "",
      "-n",
      pool.namespace,
      "--type",
      "merge",
      "-p",
      JSON.stringify({ spec: { response: { action: "Maybe" } } }),
    ]).catch((e: Error) => e.message);
    expect(err).toMatch(/spec\.response\.action/);
  });

  it("rejects a second write of the response (write-once)", async () => {
    const { offer } = await freshOffer();
    await fw.answer(offer.metadata.name ?? "", { action: "Decline", filters: { refuseSeconds: 1 } });
    const err = await fw
      .answer(offer.metadata.name ?? "", accept([task("x", { cpu: "100m" })]))
      .then(() => "accepted")
      .catch((e: { body?: string }) => String(e.body));
    expect(err).toMatch(/write-once/);
    expect((await finalOf(offer.metadata.name ?? "")).status?.phase).toBe("Declined");
  });

  it("rejects a change to an operator-owned field of the offer", async () => {
    const { offer } = await freshOffer();
    const err = await kubectl([
      "patch",
      "resourceoffer",
      offer.metadata.name ?? "",
      "-n",
      pool.namespace,
      "--type",
      "merge",
      "-p",
      JSON.stringify({ spec: { agent: "elsewhere" } }),
    ]).catch((e: Error) => e.message);
    expect(err).toMatch(/spec\.agent.*immutable/);
  });
});
