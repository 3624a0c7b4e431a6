// Generated offers and answers against planLaunch (src/controller/launch-plan.ts). The inputs are
// what the API server can hand the operator: typed fields hold hostile values of their type
// (the CRD's pattern checks are mirrored by the operator's schema), while the subtrees the CRD
// preserves unknown — a task's Pod template spec and its extended resources — may hold anything
// (wrong types, prototype keys, thousands of levels of nesting). Oracle: planLaunch never throws;
// a refusal has a reason, names the field (a spec.… path, or the task and resource) and gives
// every task of the answer TASK_ERROR; a plan keeps every Pod inside the offer — effective
// requests (containers, sidecars, init containers, overhead) summed over the Pods fit the offered
// resources, host ports inside the offered ports under the strict policy — and carries the
// operator's labels, node and owner whatever the template said.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { planLaunch } from "../../src/controller/launch-plan.ts";
import type { PlanContext } from "../../src/controller/launch-types.ts";
import { STRICT_POD_POLICY } from "../../src/controller/pod-policy.ts";
import { LABEL_FRAMEWORK, LABEL_OFFER, LABEL_TASK_ID } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { dnsLabel, dnsSubdomain } from "./arbitraries.ts";
import { answerTaskIds, hostileResponse, namesField, PORT_BASE, taskId } from "./offer-arbitraries.ts";
import { podsBreakOffer } from "./pod-oracle.ts";
import { fuzz, type Outcome, report, show, type Tally, tallyIn } from "./support.ts";

const FILE = "test/fuzz/launch-plan.fuzz.test.ts";
const tallies: Tally[] = [];

/** Refusals by reason, printed with FUZZ_DEBUG to see what the generators reach. */
const reasons = new Map<string, number>();

const offerArb = fc.record({
  name: fc.oneof(dnsLabel, fc.constant("o".repeat(63))),
  framework: dnsLabel,
  role: fc.constantFrom("batch", "*", "eng/frontend"),
  agent: dnsSubdomain,
  cpu: fc.integer({ min: 0, max: 16_000 }),
  memoryMi: fc.integer({ min: 0, max: 32_768 }),
  gpus: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
  ports: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
  reserved: fc.option(
    fc.record({ id: fc.option(dnsLabel, { nil: undefined }), cpu: fc.integer({ min: 1, max: 1000 }) }),
    {
      nil: undefined,
    },
  ),
  response: hostileResponse,
  policy: fc.boolean(),
  existing: fc.array(fc.tuple(taskId, dnsLabel), { maxLength: 3 }),
});

type Generated = typeof offerArb extends fc.Arbitrary<infer T> ? T : never;

function build(g: Generated): { offer: ResourceOffer; ctx: PlanContext } {
  const resources: Record<string, unknown> = { cpu: `${g.cpu}m`, memory: `${g.memoryMi}Mi` };
  if (g.gpus !== undefined) resources["nvidia.com/gpu"] = g.gpus;
  if (g.ports !== undefined) resources.ports = [{ begin: PORT_BASE, end: PORT_BASE + g.ports }];
  const offer = {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "ResourceOffer",
    metadata: { name: g.name, namespace: "team-a", uid: "offer-uid" },
    spec: {
      framework: g.framework,
      role: g.role,
      agent: g.agent,
      resources,
      attributes: {},
      ...(g.reserved
        ? {
            reservations: [
              { ...(g.reserved.id ? { id: g.reserved.id } : {}), resources: { cpu: `${g.reserved.cpu}m` } },
            ],
          }
        : {}),
      response: g.response,
    },
  } as unknown as ResourceOffer;
  const ctx: PlanContext = {
    frameworkUid: "fw-uid",
    existingPods: new Map(g.existing.map(([id, o]) => [`${g.framework}-${id}`, o])),
    policy: g.policy ? STRICT_POD_POLICY : undefined,
  };
  return { offer, ctx };
}

function check(g: Generated): Outcome {
  const { offer, ctx } = build(g);
  let plan: ReturnType<typeof planLaunch>;
  try {
    plan = planLaunch(offer, ctx);
  } catch (err) {
    if (process.env.FUZZ_DEBUG) console.error((err as Error).stack?.split("\n").slice(0, 12).join("\n"));
    throw err;
  }
  if (!plan.ok) {
    expect(plan.reason, plan.message).toMatch(/^[A-Z][A-Za-z]+$/);
    if (plan.reason === "NotAccepted") {
      expect(offer.spec.response?.action).not.toBe("Accept");
      return "rejected";
    }
    expect(namesField(plan.message, offer), `${plan.reason}: "${plan.message}" names no field`).toBe(true);
    const why = `${plan.reason} ${plan.message.replace(/\[\d+\]/g, "[]").replace(/[:,(].*$/, "")}`;
    reasons.set(why, (reasons.get(why) ?? 0) + 1);
    // (A task without an id cannot pass admission: only string ids are compared.)
    // One status per task id, in order: status.tasks is a list keyed by id (the API server
    // refuses a duplicate, and the offer would never end).
    expect(plan.tasks.map((t) => t.id).filter((id) => typeof id === "string")).toEqual([
      ...new Set(answerTaskIds(offer)),
    ]);
    for (const t of plan.tasks) expect([t.state, t.reason]).toEqual(["TASK_ERROR", plan.reason]);
    return "invalid";
  }
  const ids = answerTaskIds(offer);
  expect(plan.tasks.map((t) => t.id).sort()).toEqual([...ids].sort());
  expect(new Set(plan.pods.map((p) => p.name)).size).toBe(plan.pods.length);
  for (const p of plan.pods) {
    const md = p.pod.metadata;
    expect(p.pod.spec?.nodeName).toBe(offer.spec.agent);
    expect(p.pod.spec?.restartPolicy).toBe("Never");
    expect(md?.labels?.[LABEL_FRAMEWORK]).toBe(offer.spec.framework);
    expect(md?.labels?.[LABEL_TASK_ID]).toBe(p.taskIds[0]);
    expect(md?.labels?.[LABEL_OFFER]).toBe(offer.metadata.name);
    expect(md?.ownerReferences?.[0]?.uid).toBe(ctx.frameworkUid);
  }
  const violation = podsBreakOffer(
    offer,
    plan.pods.map((p) => p.pod),
    ctx.policy !== undefined,
  );
  if (violation)
    expect.fail(`accepted plan breaks the offer: ${violation} (answer ${show(offer.spec.response)})`);
  return "accepted";
}

describe("planLaunch (generated offers and answers)", () => {
  it("never throws; refuses naming the field, or plans Pods inside the offer", () => {
    fuzz(tallyIn(tallies, "controller.planLaunch"), FILE, offerArb, check);
  });
});

afterAll(() => {
  if (process.env.FUZZ_DEBUG) console.log([...reasons].sort((a, b) => b[1] - a[1]).slice(0, 25));
  report(tallies);
});
