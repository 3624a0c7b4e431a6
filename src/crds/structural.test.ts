import { describe, expect, it } from "vitest";
import { z } from "zod";
import { k8s } from "./cel.ts";
import { buildCrds, KINDS, rootSchema } from "./crds.ts";
import { type JSONSchemaProps, SchemaConversionError, toOpenAPI } from "./openapi.ts";
import { QuantitySchema } from "./resources.ts";
import { structuralErrors, unboundedErrors } from "./structural.ts";

const root = (spec: JSONSchemaProps): JSONSchemaProps => ({
  type: "object",
  properties: {
    apiVersion: { type: "string" },
    kind: { type: "string" },
    metadata: { type: "object" },
    spec,
  },
});

describe("generated schemas", () => {
  for (const def of KINDS) {
    it(`${def.kind} is structural`, () => {
      expect(structuralErrors(rootSchema(def))).toEqual([]);
    });
    it(`${def.kind} bounds every list, map and string (CEL cost)`, () => {
      expect(unboundedErrors(rootSchema(def))).toEqual([]);
    });
  }

  it("builds CRDs with status subresource, categories and columns", () => {
    for (const crd of buildCrds()) {
      const [v] = crd.spec.versions;
      expect(crd.spec.group).toBe("kubeoffers.io");
      expect(v?.name).toBe("v1alpha1");
      expect(v?.subresources).toEqual({ status: {} });
      expect(crd.spec.names.categories).toEqual(["kube-offers"]);
      expect(v?.additionalPrinterColumns.at(-1)?.name).toBe("Age");
    }
  });

  it("gives offers the printer columns and short names of the issue", () => {
    const offer = buildCrds().find((c) => c.spec.names.kind === "ResourceOffer");
    expect(offer?.spec.names.shortNames).toEqual(["offer", "offers", "ro"]);
    const cols = offer?.spec.versions[0]?.additionalPrinterColumns
      .filter((c) => !c.priority)
      .map((c) => c.name);
    expect(cols).toEqual(["Framework", "Agent", "Role", "CPU", "Memory", "Phase", "Age"]);
  });

  it("scopes Agent and ResourceRole to the cluster, the others to namespaces", () => {
    const scope = Object.fromEntries(buildCrds().map((c) => [c.spec.names.kind, c.spec.scope]));
    expect(scope).toEqual({
      Agent: "Cluster",
      Framework: "Namespaced",
      ResourceOffer: "Namespaced",
      ResourceRole: "Cluster",
    });
  });
});

describe("toOpenAPI", () => {
  it("writes quantities in the canonical int-or-string form", () => {
    expect(toOpenAPI(QuantitySchema)).toMatchObject({
      anyOf: [{ type: "integer" }, { type: "string" }],
      "x-kubernetes-int-or-string": true,
      pattern: expect.any(String),
    });
    expect(toOpenAPI(QuantitySchema)).not.toHaveProperty("type");
  });

  it("turns records of unknown into preserved objects and drops additionalProperties: false", () => {
    expect(toOpenAPI(z.record(z.string(), z.unknown()))).toEqual({
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
    });
    expect(toOpenAPI(z.strictObject({ a: z.string().max(1) }))).not.toHaveProperty("additionalProperties");
  });

  it("drops zod's integer bounds and date-time regex", () => {
    expect(toOpenAPI(z.int())).toEqual({ type: "integer" });
    expect(toOpenAPI(z.iso.datetime())).toEqual({ type: "string", format: "date-time" });
  });

  it("keeps defaults and makes defaulted fields optional", () => {
    const s = toOpenAPI(z.object({ a: z.int().default(3), b: z.string().max(2) }));
    expect(s.properties?.a?.default).toBe(3);
    expect(s.required).toEqual(["b"]);
  });

  it("refuses unions and catchalls the API server would reject", () => {
    expect(() => toOpenAPI(z.object({ a: z.union([z.string(), z.boolean()]) }))).toThrow(
      SchemaConversionError,
    );
    expect(() => toOpenAPI(z.object({ a: z.string() }).catchall(z.string()))).toThrow(
      /preserve-unknown-fields/,
    );
    const ok = k8s(z.object({ a: z.string().max(1) }).catchall(z.string()), {
      "x-kubernetes-preserve-unknown-fields": true,
    });
    expect(toOpenAPI(ok)).toEqual({
      type: "object",
      properties: { a: { type: "string", maxLength: 1 } },
      required: ["a"],
      "x-kubernetes-preserve-unknown-fields": true,
    });
  });
});

describe("structuralErrors", () => {
  const cases: [string, JSONSchemaProps, RegExp][] = [
    ["missing type", { properties: {} }, /<root>\.spec: type must not be empty/],
    [
      "properties with additionalProperties",
      { type: "object", properties: { a: { type: "string" } }, additionalProperties: { type: "string" } },
      /mutually exclusive/,
    ],
    ["array without items", { type: "array", maxItems: 1 }, /array needs items/],
    ["anyOf of types", { anyOf: [{ type: "string" }, { type: "boolean" }] }, /anyOf is not used/],
    [
      "int-or-string with a type",
      { type: "string", "x-kubernetes-int-or-string": true },
      /type must be empty with x-kubernetes-int-or-string/,
    ],
    [
      "preserve false",
      { type: "object", "x-kubernetes-preserve-unknown-fields": false },
      /must be true or absent/,
    ],
    [
      "uniqueItems",
      { type: "array", maxItems: 1, items: { type: "string" }, uniqueItems: true },
      /forbidden/,
    ],
    ["$ref", { $ref: "#/x" }, /unknown keyword \$ref/],
    [
      "list-map key not required",
      {
        type: "array",
        maxItems: 1,
        items: { type: "object", properties: { id: { type: "string" } } },
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["id"],
      },
      /must be required or defaulted/,
    ],
    [
      "fieldPath outside the schema",
      { type: "object", "x-kubernetes-validations": [{ rule: "true", fieldPath: ".nope" }] },
      /fieldPath \.nope/,
    ],
    ["lookahead pattern", { type: "string", maxLength: 1, pattern: "^(?=a)" }, /not RE2/],
  ];
  for (const [name, spec, error] of cases) {
    it(`reports ${name}`, () => {
      expect(structuralErrors(root(spec)).join("\n")).toMatch(error);
    });
  }

  it("reports metadata constraints and root keywords", () => {
    const bad = root({ type: "object" });
    bad.properties = {
      ...bad.properties,
      metadata: { type: "object", properties: { name: { type: "string" } } },
    };
    bad.default = {};
    expect(structuralErrors(bad)).toEqual(
      expect.arrayContaining([
        "<root>: default is not allowed at the root",
        "<root>.metadata: may only be {type: object}",
      ]),
    );
  });

  it("reports unbounded lists, maps and strings separately", () => {
    const s = root({
      type: "object",
      properties: {
        l: { type: "array", items: { type: "integer" } },
        m: { type: "object", additionalProperties: { type: "integer" } },
        s: { type: "string" },
      },
    });
    expect(structuralErrors(s)).toEqual([]);
    expect(unboundedErrors(s)).toHaveLength(3);
  });
});
