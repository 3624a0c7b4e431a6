import { describe, expect, it } from "vitest";
import { celRules } from "./cel.ts";
import { FrameworkSchema } from "./framework.ts";
import { ResourceRoleSpecSchema } from "./role.ts";
import { type FieldError, parseAgent, parseFramework, parseResourceRole } from "./validate.ts";

function expectError(r: { ok: true } | { ok: false; errors: FieldError[] }, path: string, message: RegExp) {
  const errors = r.ok ? [] : r.errors;
  const hit = errors.find((e) => e.path === path);
  expect(hit, JSON.stringify(errors)).toBeDefined();
  expect(hit?.message).toMatch(message);
}

describe("Framework", () => {
  const fw = (spec?: unknown, name = "analytics") => ({ metadata: { name, namespace: "team-a" }, spec });

  it("defaults an empty spec the way the CRD does", () => {
    const r = parseFramework(fw(undefined));
    expect(r.ok && r.value.spec).toEqual({
      roles: ["*"],
      failoverTimeoutSeconds: 60,
      capabilities: { gpuResources: false, partitionAware: false, taskKillingState: false },
    });
  });

  it("accepts a full spec", () => {
    const r = parseFramework(
      fw({
        roles: ["eng/frontend", "batch"],
        suppressedRoles: ["batch"],
        constraints: [
          { attribute: "topology.kubernetes.io/zone", operator: "In", values: ["a", "b"] },
          { attribute: "gpu", operator: "DoesNotExist" },
        ],
        minAllocatable: { batch: [{ cpu: "1", memory: "1Gi" }, { "nvidia.com/gpu": 1 }] },
        failoverTimeoutSeconds: 0,
        liveness: { leaseName: "analytics-scheduler" },
        capabilities: { gpuResources: true },
        offerTimeoutSeconds: 30,
        user: "alice",
        displayName: "Analytics",
      }),
    );
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it("rejects bad specs, naming the field", () => {
    expectError(parseFramework(fw({ roles: [] })), "spec.roles", /1/);
    expectError(parseFramework(fw({ roles: ["a", "a"] })), "spec.roles[1]", /duplicate/);
    expectError(parseFramework(fw({ roles: ["Eng"] })), "spec.roles[0]", /lowercase DNS labels/);
    expectError(
      parseFramework(fw({ roles: ["a"], suppressedRoles: ["b"] })),
      "spec.suppressedRoles",
      /spec\.roles/,
    );
    expectError(
      parseFramework(fw({ roles: ["a"], minAllocatable: { b: [{ cpu: 1 }] } })),
      "spec.minAllocatable",
      /spec\.roles/,
    );
    expectError(
      parseFramework(fw({ constraints: [{ attribute: "zone", operator: "In" }] })),
      "spec.constraints[0].values",
      /non-empty for In/,
    );
    expectError(
      parseFramework(fw({ constraints: [{ attribute: "zone", operator: "Exists", values: ["a"] }] })),
      "spec.constraints[0].values",
      /empty for Exists/,
    );
    expectError(parseFramework(fw({ failoverTimeoutSeconds: -1 })), "spec.failoverTimeoutSeconds", /0/);
    expectError(parseFramework(fw({ liveness: {} })), "spec.liveness.leaseName", /expected string/);
  });

  it("limits the name to 63 characters, in CEL too", () => {
    expectError(parseFramework(fw(undefined, "a".repeat(64))), "metadata.name", /at most 63/);
    expect(celRules(FrameworkSchema).map((r) => r.rule)).toEqual(["size(self.metadata.name) <= 63"]);
  });
});

describe("Agent", () => {
  const status = {
    node: "node-17",
    resources: { cpu: "8", memory: "16Gi", ports: [{ begin: 31000, end: 32000 }] },
    allocatable: { cpu: "8", memory: "16Gi", pods: 110 },
    reserved: { "eng/frontend": { cpu: "1" } },
    attributes: { "topology.kubernetes.io/zone": "a" },
    available: true,
  };
  const agent = (s: unknown, spec?: unknown) => ({ metadata: { name: "node-17" }, spec, status: s });

  it("accepts what the agent reports", () => {
    const r = parseAgent(agent(status));
    expect(r.ok ? r.value.spec : r.errors).toEqual({});
  });

  it("keeps available and unavailable consistent", () => {
    expectError(parseAgent(agent({ ...status, available: false })), "status.unavailable", /exactly when/);
    const cordoned = { ...status, available: false, unavailable: { reason: "Cordoned" } };
    expect(parseAgent(agent(cordoned)).ok).toBe(true);
  });

  it("holds dynamic reservations in spec, keyed by id, never for '*'", () => {
    const res = { id: "r1", role: "eng/frontend", framework: "team-a/analytics", resources: { cpu: "1" } };
    expect(parseAgent(agent(status, { dynamicReservations: [res] })).ok).toBe(true);
    expectError(
      parseAgent(agent(status, { dynamicReservations: [res, res] })),
      "spec.dynamicReservations[1].id",
      /duplicate/,
    );
    expectError(
      parseAgent(agent(status, { dynamicReservations: [{ ...res, role: "*" }] })),
      "spec.dynamicReservations[0].role",
      /must not be '\*'/,
    );
    expectError(
      parseAgent(agent(status, { dynamicReservations: [{ ...res, framework: "analytics" }] })),
      "spec.dynamicReservations[0].framework",
      /namespace/,
    );
  });
});

describe("ResourceRole", () => {
  const role = (spec: unknown) => ({ metadata: { name: "eng.frontend" }, spec });

  it("defaults weight to 1", () => {
    const r = parseResourceRole(role(undefined));
    expect(r.ok && r.value.spec).toEqual({ weight: 1 });
  });

  it("accepts guarantees within limits, comparing quantities exactly", () => {
    const spec = {
      guarantees: { cpu: "1500m", memory: "1Gi", pods: 3 },
      limits: { cpu: "1.5", memory: "1073741824" },
    };
    expect(parseResourceRole(role(spec)).ok).toBe(true);
  });

  it("rejects guarantees above limits and a non-positive weight", () => {
    expectError(
      parseResourceRole(role({ guarantees: { memory: "1025Mi" }, limits: { memory: "1Gi" } })),
      "spec.guarantees",
      /must not exceed spec\.limits/,
    );
    expectError(parseResourceRole(role({ weight: 0 })), "spec.weight", /0/);
  });

  it("checks guarantees <= limits in CEL with the quantity library", () => {
    const [rule] = celRules(ResourceRoleSpecSchema);
    expect(rule?.rule).toContain(
      "quantity(string(self.guarantees[k])).compareTo(quantity(string(self.limits[k]))) > 0",
    );
    expect(rule?.fieldPath).toBe(".guarantees");
  });
});
