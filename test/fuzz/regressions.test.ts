// Counterexamples the generated bad-input suite found, kept as plain cases: each names the input
// that broke a pure entry point and what it must do now.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planLaunch } from "../../src/controller/launch-plan.ts";
import { settingsFrom } from "../../src/controller/main.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { fromMesosResources } from "../../src/mesos/resources.ts";
import { QuantityError } from "../../src/resources/quantity.ts";
import { add, contains, subtractClamped, toResources } from "../../src/resources/resources.ts";
import { poolContribution } from "./pool-contribution.ts";

describe("fuzz regressions: resources", () => {
  it('a "__proto__" resource (JSON.parse makes it an own key) is refused, not dropped', () => {
    const map = JSON.parse('{"cpu": "1", "__proto__": "0.1e3"}');
    expect(() => toResources(map)).toThrow(QuantityError);
    expect(() => toResources(map)).toThrow(/__proto__/);
  });

  it('resources named like Object.prototype members ("toLocaleString", "constructor") add and compare as numbers', () => {
    const a = toResources({ cpu: "1" });
    const b = toResources({ toLocaleString: 1, constructor: "2" });
    expect(contains(a, b)).toBe(false);
    expect(add(a, b).scalars).toEqual({ cpu: 1000, toLocaleString: 1, constructor: 2 });
    expect(subtractClamped(b, a).scalars).toEqual({ toLocaleString: 1, constructor: 2 });
  });

  it("a Mesos scalar too large for the allocator's integers is refused naming the resource, not thrown", () => {
    const out = fromMesosResources([{ name: "cpus", type: "SCALAR", scalar: { value: 1e300 } }]);
    expect(out).toEqual({ ok: false, error: expect.stringMatching(/^resource cpus: .*too large/) });
  });
});

/** An offer of 2 cpu whose answer launches one task with this Pod template spec. */
function answered(spec: Record<string, unknown>): ResourceOffer {
  return {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "ResourceOffer",
    metadata: { name: "o1", namespace: "team-a" },
    spec: {
      framework: "fw",
      role: "batch",
      agent: "n1",
      resources: { cpu: "2" },
      attributes: {},
      response: {
        action: "Accept",
        operations: [{ launch: { tasks: [{ id: "t1", resources: { cpu: "1" }, template: { spec } }] } }],
      },
    },
  } as ResourceOffer;
}

describe("fuzz regressions: launch plan", () => {
  // The CRD keeps template specs schemaless: these reached planLaunch, which threw a TypeError on
  // every retry, so the offer never ended and its resources stayed held.
  it.each([
    [{ containers: [{ name: "main", image: "busybox", ports: "x" }] }, "containers[0].ports: must be a list"],
    [{ containers: [{ name: "main", image: "busybox", env: {} }] }, "containers[0].env: must be a list"],
    [{ containers: [null] }, "containers[0]: must be an object"],
    [{ containers: "abc" }, "containers: must be a list"],
    [{ containers: [{ name: "m" }], volumes: [7] }, "volumes[0]: must be an object"],
    [
      { containers: [{ name: "m" }], initContainers: [{ name: "i", ports: [null] }] },
      "initContainers[0].ports[0]: must be an object",
    ],
  ])("template spec %j is Invalid naming the field", (spec, field) => {
    const plan = planLaunch(answered(spec), { frameworkUid: "u", existingPods: new Map() });
    expect(plan).toMatchObject({
      ok: false,
      reason: "InvalidResponse",
      message: `spec.response.operations[0].launch.tasks[0].template.spec.${field}`,
      tasks: [{ id: "t1", state: "TASK_ERROR", reason: "InvalidResponse" }],
    });
  });
});

describe("fuzz regressions: duplicate task ids across operations", () => {
  // Found end to end: admission lets the duplicate through, the plan said Invalid with a status
  // per task, and the API server refused the duplicate status.tasks entry on every retry.
  it("the Invalid plan has one TASK_ERROR status per id", () => {
    const offer = answered({ containers: [{ name: "m" }] });
    const t = offer.spec.response?.operations?.[0]?.launch?.tasks?.[0];
    if (!offer.spec.response || !t) throw new Error("no task");
    offer.spec.response.operations = [{ launch: { tasks: [t] } }, { launchGroup: { tasks: [t] } }];
    const plan = planLaunch(offer, { frameworkUid: "u", existingPods: new Map() });
    expect(plan).toMatchObject({ ok: false, reason: "DuplicateTaskId" });
    expect(plan.tasks.map((x) => x.id)).toEqual(["t1"]);
  });
});

describe("fuzz regressions: agent contribution", () => {
  it("a foreign Pod's request of a resource named like a prototype member is subtracted, not NaN", () => {
    const out = poolContribution(
      { metadata: { name: "n" }, status: { allocatable: { isPrototypeOf: "1001m", cpu: "2" } } },
      [
        {
          spec: {
            containers: [],
            initContainers: [{ resources: { limits: { isPrototypeOf: "1m", cpu: "1" } } }],
          },
        },
      ],
      { reserve: {}, ports: [], attributeExcludePrefixes: [] },
    );
    expect(out.resources.scalars).toEqual({ isPrototypeOf: 1, cpu: 1000 });
  });
});

describe("fuzz regressions: controller config", () => {
  it("a minAllocatable quantity that is not one is refused naming the file and the field", () => {
    const dir = mkdtempSync(join(tmpdir(), "fuzz-config-"));
    try {
      const file = join(dir, "config.json");
      writeFileSync(file, JSON.stringify({ minAllocatable: [{ cpu: "10m" }, { memory: "1e309" }] }));
      expect(() => settingsFrom(["--config", file], {})).toThrow(
        `config file ${file}: minAllocatable.1.memory: invalid quantity for memory: "1e309" (exponent out of range)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a config nested past the YAML parser's stack is refused naming the file, not a bare stack overflow", () => {
    const dir = mkdtempSync(join(tmpdir(), "fuzz-config-"));
    try {
      const file = join(dir, "config.json");
      writeFileSync(file, `{"allocationIntervalMs": ${"[".repeat(5000)}${"]".repeat(5000)}}`);
      expect(() => settingsFrom(["--config", file], {})).toThrow(
        `config file ${file}: cannot be read as YAML or JSON:`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
