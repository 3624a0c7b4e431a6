import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { celRules } from "./cel.ts";
import {
  OfferOperationSchema,
  type ResourceOffer,
  ResourceOfferSchema,
  ResourceOfferSpecSchema,
  responseTaskIds,
} from "./offer.ts";
import { toOpenAPI } from "./openapi.ts";
import { offerUpdateErrors, parseResourceOffer } from "./validate.ts";

// The example of design.md, with the elided launchGroup filled in.
const DESIGN_EXAMPLE = `
apiVersion: kubeoffers.io/v1alpha1
kind: ResourceOffer
metadata: {name: analytics-node-17-x7k2p, namespace: team-a, labels: {kubeoffers.io/framework: analytics}}
spec:
  framework: analytics
  role: batch
  agent: node-17
  resources: {cpu: "8", memory: 16Gi, ports: [{begin: 31000, end: 31999}]}
  attributes: {zone: a, rack: r3}
  expiresAt: "2026-11-27T12:00:05Z"
  response:
    action: Accept
    operations:
      - launch:
          tasks:
            - id: task-0001
              resources: {cpu: "2", memory: 4Gi, ports: [{begin: 31000, end: 31000}]}
              template: {spec: {containers: [{name: main, image: busybox, command: [sh, -c, "..."]}]}}
      - launchGroup:
          tasks:
            - id: task-0002
              resources: {cpu: "1", memory: 1Gi}
              template: {spec: {containers: [{name: main, image: busybox}]}}
    filters: {refuseSeconds: 5}
status:
  phase: Offered
  reason: InsufficientResources
  message: "task task-0001 asks cpu 12 > offered 8"
  tasks: [{id: task-0001, pod: analytics-task-0001, state: TASK_STAGING}]
`;

const example = () => parse(DESIGN_EXAMPLE) as Record<string, unknown> & { spec: Record<string, unknown> };

function errorsOf(input: unknown) {
  const r = parseResourceOffer(input);
  return r.ok ? [] : r.errors;
}

function withSpec(patch: Record<string, unknown>) {
  const o = example();
  o.spec = { ...o.spec, ...patch };
  return o;
}

function withResponse(response: unknown) {
  return withSpec({ response });
}

const task = (id: string, resources: unknown = { cpu: "1" }) => ({ id, resources, template: { spec: {} } });

describe("ResourceOffer schema", () => {
  it("accepts the design.md example", () => {
    const r = parseResourceOffer(example());
    expect(r.ok && r.value.spec.response?.operations?.length).toBe(2);
  });

  it("types the example usefully", () => {
    const r = parseResourceOffer(example());
    if (!r.ok) throw new Error("example rejected");
    const offer: ResourceOffer = r.value;
    expect(offer.spec.resources.cpu).toBe("8");
    expect(offer.spec.resources.ports).toEqual([{ begin: 31000, end: 31999 }]);
    expect(offer.status?.tasks?.[0]?.state).toBe("TASK_STAGING");
    expect(responseTaskIds(offer.spec.response!)).toEqual(["task-0001", "task-0002"]);
  });

  it("applies defaults: attributes, refuseSeconds, apiVersion and kind", () => {
    const o = withResponse({ action: "Decline", filters: {} });
    delete (o.spec as Record<string, unknown>).attributes;
    delete o.apiVersion;
    delete o.kind;
    const r = parseResourceOffer(o);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.spec.attributes).toEqual({});
    expect(r.value.spec.response?.filters?.refuseSeconds).toBe(5);
    expect(r.value.apiVersion).toBe("kubeoffers.io/v1alpha1");
    expect(r.value.kind).toBe("ResourceOffer");
  });

  it("accepts extended resources and integer quantities", () => {
    expect(
      errorsOf(withSpec({ resources: { cpu: 2, "nvidia.com/gpu": 1, "example.com/foo": "3k" } })),
    ).toEqual([]);
  });

  const bad: [string, unknown, string, RegExp][] = [
    ["framework name", withSpec({ framework: "Analytics" }), "spec.framework", /RFC 1123/],
    ["role name", withSpec({ role: "eng//x" }), "spec.role", /joined by "\/"/],
    ["missing agent", withSpec({ agent: undefined }), "spec.agent", /expected string/],
    ["cpu quantity", withSpec({ resources: { cpu: "abc" } }), "spec.resources.cpu", /quantity/],
    ["negative memory", withSpec({ resources: { memory: -1 } }), "spec.resources.memory", /quantity/],
    ["fractional number", withSpec({ resources: { cpu: 0.5 } }), "spec.resources.cpu", /./],
    [
      "extended resource value",
      withSpec({ resources: { "example.com/foo": "lots" } }),
      "spec.resources[example.com/foo]",
      /quantity/,
    ],
    [
      "extended resource as a list",
      withSpec({ resources: { "example.com/foo": [{ begin: 1, end: 2 }] } }),
      "spec.resources[example.com/foo]",
      /only ports/,
    ],
    [
      "port out of range",
      withSpec({ resources: { ports: [{ begin: 0, end: 5 }] } }),
      "spec.resources.ports[0].begin",
      /1/,
    ],
    [
      "reversed ports",
      withSpec({ resources: { ports: [{ begin: 9, end: 5 }] } }),
      "spec.resources.ports[0].end",
      /less than begin/,
    ],
    [
      "overlapping ports",
      withSpec({
        resources: {
          ports: [
            { begin: 1, end: 5 },
            { begin: 5, end: 6 },
          ],
        },
      }),
      "spec.resources.ports[1]",
      /overlaps/,
    ],
    ["expiresAt", withSpec({ expiresAt: "tomorrow" }), "spec.expiresAt", /datetime/i],
    ["action", withResponse({ action: "Maybe" }), "spec.response.action", /Accept/],
    [
      "operations on Decline",
      withResponse({ action: "Decline", operations: [{ launch: { tasks: [task("a")] } }] }),
      "spec.response.operations",
      /only allowed when action is Accept/,
    ],
    [
      "two keys in one operation",
      withResponse({
        action: "Accept",
        operations: [{ launch: { tasks: [task("a")] }, reserve: { resources: {} } }],
      }),
      "spec.response.operations[0]",
      /exactly one of launch, launchGroup, reserve or unreserve/,
    ],
    [
      "empty operation",
      withResponse({ action: "Accept", operations: [{}] }),
      "spec.response.operations[0]",
      /exactly one/,
    ],
    [
      "task id",
      withResponse({ action: "Accept", operations: [{ launch: { tasks: [task("Task_1")] } }] }),
      "spec.response.operations[0].launch.tasks[0].id",
      /RFC 1123/,
    ],
    [
      "task id too long",
      withResponse({ action: "Accept", operations: [{ launch: { tasks: [task("a".repeat(64))] } }] }),
      "spec.response.operations[0].launch.tasks[0].id",
      /63/,
    ],
    [
      "duplicate task id in a launch",
      withResponse({ action: "Accept", operations: [{ launch: { tasks: [task("a"), task("a")] } }] }),
      "spec.response.operations[0].launch.tasks[1].id",
      /duplicate id "a"/,
    ],
    [
      "duplicate task id across operations",
      withResponse({
        action: "Accept",
        operations: [{ launch: { tasks: [task("a")] } }, { launchGroup: { tasks: [task("a")] } }],
      }),
      "spec.response.operations",
      /duplicate task id "a"/,
    ],
    [
      "empty launch",
      withResponse({ action: "Accept", operations: [{ launch: { tasks: [] } }] }),
      "spec.response.operations[0].launch.tasks",
      /./,
    ],
    [
      "template without spec",
      withResponse({
        action: "Accept",
        operations: [{ launch: { tasks: [{ id: "a", resources: {}, template: {} }] } }],
      }),
      "spec.response.operations[0].launch.tasks[0].template.spec",
      /expected record/,
    ],
    [
      "negative refuseSeconds",
      withResponse({ action: "Decline", filters: { refuseSeconds: -1 } }),
      "spec.response.filters.refuseSeconds",
      /0/,
    ],
    ["status phase", { ...example(), status: { phase: "Done" } }, "status.phase", /Offered/],
    [
      "name longer than a label value",
      { ...example(), metadata: { name: "o".repeat(64) } },
      "metadata.name",
      /kubeoffers\.io\/offer label/,
    ],
  ];
  for (const [name, input, path, message] of bad) {
    it(`rejects a bad ${name}, naming ${path}`, () => {
      const errors = errorsOf(input);
      const hit = errors.find((e) => e.path === path);
      expect(hit, JSON.stringify(errors)).toBeDefined();
      expect(hit?.message).toMatch(message);
    });
  }
});

describe("ResourceOffer CEL", () => {
  const spec = toOpenAPI(ResourceOfferSpecSchema);
  const rules = spec["x-kubernetes-validations"] ?? [];

  it("makes every operator-written spec field immutable, each with its own message", () => {
    for (const f of ["framework", "role", "agent", "resources", "attributes", "expiresAt", "reservations"]) {
      const rule = rules.find((r) => r.fieldPath === `.${f}`);
      expect(rule?.rule).toContain(`self.${f} == oldSelf.${f}`);
      expect(rule?.message).toBe(`spec.${f} is immutable`);
    }
  });

  it("makes response write-once", () => {
    const rule = rules.find((r) => r.fieldPath === ".response");
    expect(rule?.rule).toBe(
      "!has(oldSelf.response) || (has(self.response) && self.response == oldSelf.response)",
    );
    expect(rule?.message).toMatch(/^spec\.response is write-once/);
  });

  it("requires exactly one key per operation", () => {
    expect(celRules(OfferOperationSchema)[0]?.rule).toBe(
      "(has(self.launch) ? 1 : 0) + (has(self.launchGroup) ? 1 : 0) + (has(self.reserve) ? 1 : 0) + (has(self.unreserve) ? 1 : 0) == 1",
    );
  });

  it("limits the object name to a label value's 63 characters", () => {
    expect(celRules(ResourceOfferSchema)).toEqual([
      expect.objectContaining({ rule: "size(self.metadata.name) <= 63" }),
    ]);
  });

  it("keys tasks by id so the API server rejects duplicates within a launch", () => {
    const ops = spec.properties?.response?.properties?.operations?.items;
    const tasks = ops?.properties?.launch?.properties?.tasks;
    expect(tasks?.["x-kubernetes-list-type"]).toBe("map");
    expect(tasks?.["x-kubernetes-list-map-keys"]).toEqual(["id"]);
  });
});

describe("offerUpdateErrors", () => {
  const base = () => {
    const r = parseResourceOffer(withSpec({ response: undefined }));
    if (!r.ok) throw new Error("bad fixture");
    return r.value.spec;
  };
  const answered = () => ({ ...base(), response: { action: "Decline" as const } });

  it("allows writing the response once", () => {
    expect(offerUpdateErrors(base(), answered())).toEqual([]);
  });

  it("refuses changing or removing a written response", () => {
    expect(offerUpdateErrors(answered(), { ...answered(), response: { action: "Accept" } })[0]?.path).toBe(
      "spec.response",
    );
    expect(offerUpdateErrors(answered(), base())[0]?.message).toMatch(/write-once/);
  });

  it("refuses changes to other spec fields, naming each", () => {
    const next = { ...base(), agent: "node-18", resources: { cpu: "9" }, expiresAt: undefined };
    expect(offerUpdateErrors(base(), next).map((e) => e.path)).toEqual([
      "spec.agent",
      "spec.resources",
      "spec.expiresAt",
    ]);
  });
});
