// Roles end to end: static and dynamic reservations (persisted across an operator restart,
// released on teardown), quota limits, and ResourceRole status.
import { CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent } from "../../src/crds/agent.ts";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { ResourceRole } from "../../src/crds/role.ts";
import { accept, FrameworkSide, task } from "./offers.ts";
import { Pool } from "./pool.ts";
import { waitFor } from "./support.ts";

let pool: Pool;
let fw: FrameworkSide;
const co = () => pool.kc.makeApiClient(CustomObjectsApi);
const roleObjects: string[] = [];

beforeAll(async () => {
  pool = await Pool.start("roles", { nodes: 1, staticReservations: { ops: { cpu: "1" } } });
  fw = new FrameworkSide(pool.kc, pool.namespace);
});
afterAll(async () => {
  for (const name of roleObjects) {
    await co()
      .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.resourceRole, name })
      .catch(() => {});
  }
  await pool?.stop();
});

async function agent(): Promise<Agent> {
  return (await co().getClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL.agent,
    name: pool.nodes[0]!.name,
  })) as Agent;
}

async function release(name: string): Promise<void> {
  await fw.deleteFramework(name);
  await waitFor(`${name} released`, async () => (await fw.offers(name, "Offered")).length === 0);
}

describe("reservations", () => {
  it("offers statically reserved resources only to their role", async () => {
    await fw.createFramework("other", pool.labels, { roles: ["web"] });
    const o = await waitFor("offer for web", async () => (await fw.offers("other", "Offered"))[0]);
    expect(o.spec.resources.cpu).toBe("3");
    expect(o.spec.reservations).toBeUndefined();
    await release("other");
    await fw.createFramework("ops", pool.labels, { roles: ["ops"] });
    const r = await waitFor(
      "offer for the reserved role",
      async () => (await fw.offers("ops", "Offered"))[0],
    );
    expect(r.spec.resources.cpu).toBe("4");
    expect(r.spec.reservations).toEqual([{ resources: { cpu: "1" } }]);
    await release("ops");
  });

  it("reserves dynamically, keeps the reservation across an operator restart, unreserves, and releases on teardown", async () => {
    await fw.createFramework("dyn", pool.labels, { roles: ["eng"] });
    const first = await waitFor("offer", async () => (await fw.offers("dyn", "Offered"))[0]);
    await fw.answer(first.metadata.name ?? "", {
      action: "Accept",
      operations: [{ reserve: { resources: { cpu: "2" } } }],
      filters: { refuseSeconds: 0 },
    });
    const reserved = await waitFor(
      "persisted on the Agent",
      async () => (await agent()).spec?.dynamicReservations?.[0],
    );
    expect(reserved).toMatchObject({
      role: "eng",
      resources: { cpu: "2" },
      framework: `${pool.namespace}/dyn`,
    });

    await pool.stopOperator();
    await pool.startOperator();
    const second = await waitFor("offer carrying the reservation after a restart", async () =>
      (await fw.offers("dyn", "Offered")).find((o) => o.spec.reservations?.some((x) => x.id === reserved.id)),
    );
    expect(second.spec.reservations?.find((x) => x.id === reserved.id)?.resources).toEqual({ cpu: "2" });

    // Another role cannot get the reserved cpu.
    await fw.createFramework("web", pool.labels, { roles: ["web"] });
    await fw.answer(second.metadata.name ?? "", { action: "Decline", filters: { refuseSeconds: 300 } });
    const forWeb = await waitFor("offer for web", async () => (await fw.offers("web", "Offered"))[0]);
    expect(forWeb.spec.resources.cpu).toBe("1"); // 4 - 1 static (ops.static) - 2 reserved for eng
    await release("web");

    await fw.deleteFramework("dyn");
    await waitFor(
      "released on teardown",
      async () => ((await agent()).spec?.dynamicReservations ?? []).length === 0,
    );
  });

  it("unreserves a dynamic reservation", async () => {
    await fw.createFramework("un", pool.labels, { roles: ["eng"] });
    const a = await waitFor("offer", async () => (await fw.offers("un", "Offered"))[0]);
    await fw.answer(a.metadata.name ?? "", {
      action: "Accept",
      operations: [{ reserve: { resources: { cpu: "1" } } }],
      filters: { refuseSeconds: 0 },
    });
    const id = (await waitFor("reserved", async () => (await agent()).spec?.dynamicReservations?.[0]))?.id;
    const b = await waitFor("offer with it", async () =>
      (await fw.offers("un", "Offered")).find((o) => o.spec.reservations?.some((x) => x.id === id)),
    );
    await fw.answer(b.metadata.name ?? "", {
      action: "Accept",
      operations: [{ unreserve: { id, resources: { cpu: "1" } } }],
    });
    await waitFor("unreserved", async () => ((await agent()).spec?.dynamicReservations ?? []).length === 0);
    await release("un");
  });
});

describe("quota", () => {
  it("never offers a role more than its limit, and reports consumption in the role's status", async () => {
    const name = `capped-${pool.name}`;
    roleObjects.push(name);
    await co().createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL.resourceRole,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "ResourceRole",
        // Its status is written by the operator of its pool (every pool applies its quota).
        metadata: { name, labels: pool.labels },
        spec: { weight: 2, limits: { cpu: "1500m" }, namespaces: [pool.namespace] },
      },
    });
    await fw.createFramework("q", pool.labels, { roles: [name] });
    const o = await waitFor("offer within the limit", async () => (await fw.offers("q", "Offered"))[0]);
    expect(o.spec.resources.cpu).toBe("1500m");
    await fw.answer(o.metadata.name ?? "", accept([task("t1", { cpu: "1" })], 0));
    const next = await waitFor("the rest of the quota", async () =>
      (await fw.offers("q", "Offered")).find((x) => x.metadata.name !== o.metadata.name),
    );
    expect(next.spec.resources.cpu).toBe("500m");
    const st = await waitFor("role status", async () => {
      const r = (await co().getClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL.resourceRole,
        name,
      })) as ResourceRole;
      // The status is a roll-up that converges: wait for the task and the new offer in it.
      return r.status?.allocated?.cpu === "1" && r.status?.offered?.cpu === "500m" ? r : undefined;
    });
    expect(st.status?.offered?.cpu).toBe("500m");
    expect(st.status?.frameworks).toBe(1);
    await release("q");
  });
});
