// Role authorisation end to end: a ResourceRole admits the namespaces in spec.namespaces. A
// framework elsewhere asking for the role is told so in its status (a RolesAuthorized condition
// naming spec.roles[i]) and by an Event, and gets no offers for it — not the role's static
// reservation either — while the admitted team gets them; taking a namespace off the role
// rescinds its outstanding offers.
import { CustomObjectsApi, EventsV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONDITION_ROLES_AUTHORIZED, GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { FrameworkSide } from "./offers.ts";
import { Pool } from "./pool.ts";
import { createNamespace, deleteNamespace, uniqueName, waitFor } from "./support.ts";

const ROLE = uniqueName("authz");
let pool: Pool;
let other: string;
let owner: FrameworkSide;
let thief: FrameworkSide;
const co = () => pool.kc.makeApiClient(CustomObjectsApi);

beforeAll(async () => {
  pool = await Pool.start("authz", { nodes: 1, staticReservations: { [ROLE]: { cpu: "1" } } });
  other = await createNamespace(pool.kc, "authz-other");
  owner = new FrameworkSide(pool.kc, pool.namespace);
  thief = new FrameworkSide(pool.kc, other);
  await co().createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL.resourceRole,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "ResourceRole",
      metadata: { name: ROLE, labels: pool.labels },
      spec: { weight: 1, namespaces: [pool.namespace] },
    },
  });
});

afterAll(async () => {
  await thief?.deleteFramework("thief");
  await owner?.deleteFramework("owner");
  await co()
    .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.resourceRole, name: ROLE })
    .catch(() => {});
  if (other) await deleteNamespace(pool.kc, other);
  await pool?.stop();
});

describe("ResourceRole spec.namespaces", () => {
  it("refuses another team the role, its reservation and its offers; the admitted team gets them", {
    timeout: 120_000,
  }, async () => {
    await thief.createFramework("thief", pool.labels, { roles: ["*", ROLE] });
    const cond = await waitFor("the thief's RolesAuthorized condition", async () => {
      const c = (await thief.framework("thief")).status?.conditions?.find(
        (x) => x.type === CONDITION_ROLES_AUTHORIZED,
      );
      return c?.status === "False" ? c : undefined;
    });
    expect(cond.reason).toBe("RoleNotAuthorized");
    expect(cond.message).toContain(`spec.roles[1]: role ${ROLE}: namespace ${other} is not admitted`);
    const events = pool.kc.makeApiClient(EventsV1Api);
    const ev = await waitFor("a RoleNotAuthorized Event on the thief", async () =>
      (await events.listNamespacedEvent({ namespace: other })).items.find(
        (e) => e.regarding?.name === "thief" && e.reason === "RoleNotAuthorized",
      ),
    );
    expect(ev.type).toBe("Warning");
    expect(ev.note).toContain("spec.roles[1]");

    // Its other role still gets offers: the unreserved part of the node only.
    const star = await waitFor(
      "the thief's offer for *",
      async () => (await thief.offers("thief", "Offered"))[0],
    );
    expect(star.spec.role).toBe("*");
    expect(star.spec.reservations ?? []).toEqual([]);
    expect(star.spec.resources.cpu).toBe("3");

    // The admitted team gets the role's reservation.
    await owner.createFramework("owner", pool.labels, { roles: [ROLE] });
    const mine = await waitFor("the owner's offer for the role", async () =>
      (await owner.offers("owner", "Offered")).find((o) => o.spec.role === ROLE),
    );
    expect(mine.spec.resources.cpu).toBe("1");
    expect(mine.spec.reservations?.length).toBe(1);
    const ownerCond = (await owner.framework("owner")).status?.conditions?.find(
      (x) => x.type === CONDITION_ROLES_AUTHORIZED,
    );
    expect(ownerCond?.status).toBe("True");

    // Taking the namespace off the role takes back the outstanding offer.
    await co().patchClusterCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL.resourceRole,
        name: ROLE,
        body: { spec: { namespaces: [] } },
      },
      mergePatch,
    );
    const gone = await waitFor("the owner's offer rescinded", async () => {
      const o = await owner.offer(mine.metadata.name ?? "");
      return o?.status?.phase === "Rescinded" ? o : undefined;
    });
    expect(gone.status?.reason).toBe("RoleNotAuthorized");
    await waitFor("the owner's condition turns False", async () => {
      const c = (await owner.framework("owner")).status?.conditions?.find(
        (x) => x.type === CONDITION_ROLES_AUTHORIZED,
      );
      return c?.status === "False";
    });

    // Throughout, the thief was never offered the role.
    expect((await thief.offers("thief")).filter((o) => o.spec.role === ROLE)).toEqual([]);
  });
});
