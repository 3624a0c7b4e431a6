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
import { type PlanContext, planLaunch } from "../../src/controller/launch-plan.ts";
import { STRICT_POD_POLICY } from "../../src/controller/pod-policy.ts";
import { LABEL_FRAMEWORK, LABEL_OFFER, LABEL_TASK_ID } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import {
  dnsLabel,
  dnsSubdomain,
  hostileNumber,
  hostileString,
  mutated,
  PROTO_KEYS,
  quantityValue,
  resourceName,
  sameType,
  smallQuantity,
  withOwnKey,
  word,
  wrongType,
} from "./arbitraries.ts";
import { podsBreakOffer } from "./pod-oracle.ts";
import { fuzz, type Outcome, report, show, type Tally, tallyIn } from "./support.ts";

const FILE = "test/fuzz/launch-plan.fuzz.test.ts";
const tallies: Tally[] = [];

const PORT_BASE = 31000;
/** Refusals by reason, printed with FUZZ_DEBUG to see what the generators reach. */
const reasons = new Map<string, number>();

const taskId = fc.oneof(
  { weight: 8, arbitrary: word(4, false).map((w) => `t${w}`) },
  { weight: 1, arbitrary: fc.constantFrom("t".repeat(63), "t".repeat(64), "T1", "t_1", "-t", ...PROTO_KEYS) },
);

/** Task resources: mostly small asks of the offer, sometimes extended, hostile or wrongly typed ones. */
const taskResources = fc
  .tuple(
    fc.record(
      {
        cpu: smallQuantity("cpu"),
        memory: smallQuantity("memory"),
        "nvidia.com/gpu": smallQuantity("nvidia.com/gpu"),
      },
      { requiredKeys: [] },
    ),
    fc.option(
      fc.array(
        fc
          .integer({ min: 0, max: 40 })
          .chain((b) =>
            fc.integer({ min: b, max: b + 3 }).map((e) => ({ begin: PORT_BASE + b, end: PORT_BASE + e })),
          ),
        { maxLength: 2 },
      ),
      { nil: undefined },
    ),
    fc.oneof(
      { weight: 4, arbitrary: fc.constant([]) },
      {
        weight: 1,
        arbitrary: fc.array(fc.tuple(resourceName, quantityValue), { minLength: 1, maxLength: 2 }),
      },
    ),
  )
  .map(([known, ports, extra]) => {
    const r: Record<string, unknown> = { ...known };
    if (ports) r.ports = ports;
    for (const [k, v] of extra) if (k !== "ports") withOwnKey(r, k, v);
    return r;
  });

const container = fc.record(
  {
    name: dnsLabel,
    image: fc.constantFrom("busybox", "registry.example.com/app:1"),
    resources: fc.record(
      {
        requests: fc.record(
          { cpu: smallQuantity("cpu"), memory: smallQuantity("memory") },
          { requiredKeys: [] },
        ),
        limits: fc.record({ cpu: smallQuantity("cpu") }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
    ports: fc.array(
      fc.record(
        { containerPort: fc.integer({ min: 1, max: 65535 }), hostPort: fc.integer({ min: 1, max: 65535 }) },
        { requiredKeys: ["containerPort"] },
      ),
      { maxLength: 2 },
    ),
    env: fc.array(
      fc.record({ name: fc.constantFrom("A", "PORT0", "KUBEOFFERS_TASK_ID"), value: hostileString }),
      {
        maxLength: 2,
      },
    ),
    securityContext: fc.record({ privileged: fc.boolean() }, { requiredKeys: [] }),
    restartPolicy: fc.constant("Always"),
  },
  { requiredKeys: ["name"] },
);

const podSpec = fc.record(
  {
    containers: fc.array(container, { maxLength: 3 }),
    initContainers: fc.array(container, { maxLength: 2 }),
    hostNetwork: fc.boolean(),
    hostPID: fc.boolean(),
    volumes: fc.array(
      fc.record(
        { name: dnsLabel, hostPath: fc.record({ path: fc.constantFrom("/", "/var/run") }) },
        { requiredKeys: ["name"] },
      ),
      { maxLength: 2 },
    ),
    overhead: fc.record({ cpu: smallQuantity("cpu") }),
    nodeName: dnsSubdomain,
    restartPolicy: fc.constantFrom("Always", "OnFailure"),
  },
  { requiredKeys: ["containers"] },
);

const template = fc.record(
  {
    metadata: fc.record(
      {
        labels: fc.dictionary(
          fc.constantFrom(LABEL_FRAMEWORK, LABEL_TASK_ID, LABEL_OFFER, "app", "a/b", "__proto__"),
          fc.oneof({ weight: 6, arbitrary: dnsLabel }, { weight: 1, arbitrary: hostileString }),
          { maxKeys: 3 },
        ),
        annotations: fc.dictionary(fc.constantFrom("note", "kubeoffers.io/resources", "x/y"), hostileString, {
          maxKeys: 2,
        }),
      },
      { requiredKeys: [] },
    ),
    spec: podSpec,
  },
  { requiredKeys: ["spec"] },
);

const task = fc.record({ id: taskId, resources: taskResources, template });

const tasks = fc.oneof(
  { weight: 80, arbitrary: fc.uniqueArray(task, { minLength: 1, maxLength: 4, selector: (t) => t.id }) },
  // Duplicate ids within one operation.
  { weight: 4, arbitrary: fc.array(task, { minLength: 2, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(task, { minLength: 0, maxLength: 0 }) },
  // At and past the per-operation limit (128).
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 127, max: 129 })
      .chain((n) => fc.array(task, { minLength: n, maxLength: n })),
  },
);

const operation = fc.oneof(
  { weight: 6, arbitrary: tasks.map((t) => ({ launch: { tasks: t } })) },
  { weight: 3, arbitrary: tasks.map((t) => ({ launchGroup: { tasks: t } })) },
  { weight: 1, arbitrary: taskResources.map((r) => ({ reserve: { resources: r } })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ resources: taskResources, id: fc.option(dnsLabel, { nil: undefined }) })
      .map((u) => ({ unreserve: u })),
  },
  { weight: 1, arbitrary: tasks.map((t) => ({ launch: { tasks: t }, launchGroup: { tasks: t } })) },
);

const response = fc.record(
  {
    action: fc.oneof(
      { weight: 20, arbitrary: fc.constant("Accept") },
      { weight: 1, arbitrary: fc.constantFrom("Decline", "accept") },
    ),
    operations: fc.oneof(
      { weight: 40, arbitrary: fc.array(operation, { minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: fc.array(operation, { minLength: 33, maxLength: 33 }) },
    ),
    filters: fc.record({
      refuseSeconds: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 0, max: 10 }) },
        { weight: 1, arbitrary: hostileNumber },
      ),
    }),
  },
  { requiredKeys: ["action"] },
);

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
  response: fc.oneof(
    { weight: 6, arbitrary: response },
    // Anything at all inside the Pod template specs (the CRD preserves unknown fields there).
    { weight: 3, arbitrary: mutated(response, wrongType, { within: (p) => p.includes("spec"), max: 3 }) },
    // Extended resources of tasks may hold any type too.
    {
      weight: 1,
      arbitrary: mutated(response, wrongType, {
        within: (p) => p.at(-2) === "resources" && p.at(-1) !== "ports",
      }),
    },
    // Typed fields: a hostile value of their own type.
    { weight: 2, arbitrary: mutated(response, sameType, { max: 3 }) },
  ),
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

/** The task ids an answer names, in order (what TASK_ERROR statuses must cover). */
function answerTaskIds(offer: ResourceOffer): string[] {
  const ops = offer.spec.response?.operations;
  if (!Array.isArray(ops)) return [];
  return ops.flatMap((op) =>
    [op?.launch?.tasks, op?.launchGroup?.tasks].flatMap((list) =>
      Array.isArray(list)
        ? list.map((t) => (t as { id?: unknown })?.id).filter((id): id is string => typeof id === "string")
        : [],
    ),
  );
}

/** A refusal names its field: a spec.… path, or the task and what it asked for. */
function namesField(message: string, offer: ResourceOffer): boolean {
  if (/^spec\.(response|resources|reservations)\b/.test(message)) return true;
  const m = /^task (id )?(\S+?)[ :]/.exec(message);
  if (!m) return false;
  const rest = message.slice(m[0].length);
  if (/\b(ports?|Pod|spec\.[A-Za-z]+)\b/.test(rest)) return true;
  const names = new Set<string>();
  for (const op of offer.spec.response?.operations ?? [])
    for (const t of [...(op.launch?.tasks ?? []), ...(op.launchGroup?.tasks ?? [])])
      for (const k of Object.keys(t.resources ?? {})) names.add(k);
  return [...names].some((k) => rest.includes(k));
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
    expect(plan.tasks.map((t) => t.id).filter((id) => typeof id === "string")).toEqual(answerTaskIds(offer));
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
