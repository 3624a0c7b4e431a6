// CustomResourceDefinition objects, built from the zod schemas.
import type { z } from "zod";
import { AgentSchema } from "./agent.ts";
import { celRules } from "./cel.ts";
import { CATEGORY, GROUP, KIND, PLURAL, VERSION } from "./contract.ts";
import { FrameworkSchema } from "./framework.ts";
import { ResourceOfferSchema } from "./offer.ts";
import { type JSONSchemaProps, toOpenAPI } from "./openapi.ts";
import { ResourceRoleSchema } from "./role.ts";
import { structuralErrors } from "./structural.ts";

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: "Namespaced" | "Cluster";
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JSONSchemaProps };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      selectableFields?: { jsonPath: string }[];
    }[];
  };
}

/** What differs between the kinds. */
interface KindDef {
  kind: string;
  plural: string;
  shortNames: string[];
  scope: "Namespaced" | "Cluster";
  schema: z.ZodObject<{ spec: z.ZodType; status: z.ZodType }>;
  columns: PrinterColumn[];
  selectableFields?: string[];
}

const AGE: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

export const KINDS: readonly KindDef[] = [
  {
    kind: KIND.agent,
    plural: PLURAL.agent,
    shortNames: ["ag"],
    scope: "Cluster",
    schema: AgentSchema,
    columns: [
      { name: "CPU", type: "string", jsonPath: ".status.resources.cpu", description: "CPU in the pool" },
      {
        name: "Memory",
        type: "string",
        jsonPath: ".status.resources.memory",
        description: "Memory in the pool",
      },
      { name: "Available", type: "boolean", jsonPath: ".status.available" },
      { name: "Reason", type: "string", jsonPath: ".status.unavailable.reason", priority: 1 },
      AGE,
    ],
  },
  {
    kind: KIND.framework,
    plural: PLURAL.framework,
    shortNames: ["fw"],
    scope: "Namespaced",
    schema: FrameworkSchema,
    columns: [
      { name: "Roles", type: "string", jsonPath: ".spec.roles" },
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "Dominant Share", type: "number", jsonPath: ".status.dominantShare" },
      { name: "Suppressed", type: "string", jsonPath: ".spec.suppressedRoles", priority: 1 },
      AGE,
    ],
    selectableFields: [".status.phase"],
  },
  {
    kind: KIND.resourceOffer,
    plural: PLURAL.resourceOffer,
    shortNames: ["offer", "offers", "ro"],
    scope: "Namespaced",
    schema: ResourceOfferSchema,
    columns: [
      { name: "Framework", type: "string", jsonPath: ".spec.framework" },
      { name: "Agent", type: "string", jsonPath: ".spec.agent" },
      { name: "Role", type: "string", jsonPath: ".spec.role" },
      { name: "CPU", type: "string", jsonPath: ".spec.resources.cpu" },
      { name: "Memory", type: "string", jsonPath: ".spec.resources.memory" },
      { name: "Phase", type: "string", jsonPath: ".status.phase" },
      { name: "Reason", type: "string", jsonPath: ".status.reason", priority: 1 },
      // A date column would print "<invalid>" for a time in the future.
      { name: "Expires", type: "string", jsonPath: ".spec.expiresAt", priority: 1 },
      AGE,
    ],
    // Field selectors (GA in 1.32): agents and frameworks can watch just their offers.
    selectableFields: [".spec.framework", ".spec.agent", ".spec.role", ".status.phase"],
  },
  {
    kind: KIND.resourceRole,
    plural: PLURAL.resourceRole,
    shortNames: ["rrole"],
    scope: "Cluster",
    schema: ResourceRoleSchema,
    columns: [
      { name: "Weight", type: "number", jsonPath: ".spec.weight" },
      { name: "CPU Allocated", type: "string", jsonPath: ".status.allocated.cpu", priority: 1 },
      { name: "Memory Allocated", type: "string", jsonPath: ".status.allocated.memory", priority: 1 },
      AGE,
    ],
  },
];

/** The root of a kind's schema: the standard envelope around spec and status. */
export function rootSchema(def: KindDef): JSONSchemaProps {
  const { spec, status } = def.schema.shape;
  const root: JSONSchemaProps = {
    description: def.schema.meta()?.description,
    type: "object",
    properties: {
      apiVersion: {
        description: "APIVersion defines the versioned schema of this representation of an object.",
        type: "string",
      },
      kind: {
        description: "Kind is a string value representing the REST resource this object represents.",
        type: "string",
      },
      metadata: { type: "object" },
      spec: toOpenAPI(spec),
      status: toOpenAPI(status),
    },
  };
  // Spec is required unless it has a default ({}), as Framework, Agent and ResourceRole do.
  if (!spec.safeParse(undefined).success) root.required = ["spec"];
  const rules = celRules(def.schema);
  if (rules.length) root["x-kubernetes-validations"] = rules;
  return root;
}

export function buildCrd(def: KindDef): CustomResourceDefinition {
  const schema = rootSchema(def);
  const errors = structuralErrors(schema);
  if (errors.length) throw new Error(`${def.kind} schema is not structural:\n  ${errors.join("\n  ")}`);
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${def.plural}.${GROUP}`, labels: { "app.kubernetes.io/part-of": "kube-offers" } },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.kind.toLowerCase(),
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      scope: def.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: schema },
          subresources: { status: {} },
          additionalPrinterColumns: def.columns,
          ...(def.selectableFields
            ? { selectableFields: def.selectableFields.map((jsonPath) => ({ jsonPath })) }
            : {}),
        },
      ],
    },
  };
}

/** All kube-offers CRDs, in a stable order. */
export function buildCrds(): CustomResourceDefinition[] {
  return KINDS.map(buildCrd);
}
