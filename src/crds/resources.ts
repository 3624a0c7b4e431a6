// Resources as design.md fixes them: Kubernetes names and quantities plus `ports`, a list of
// {begin, end} ranges (Mesos's ranges resource).
import { z } from "zod";
import { isQuantity, QUANTITY_PATTERN } from "../resources/quantity.ts";
import { boundedRecord, checked, k8s } from "./cel.ts";
import { QUALIFIED_NAME_PATTERN } from "./names.ts";

/** Most distinct resource names one map may hold; bounds CEL cost estimates. */
export const MAX_RESOURCE_NAMES = 32;
export const MAX_PORT_RANGES = 64;

const QUANTITY_MESSAGE =
  'must be a non-negative Kubernetes quantity: a string such as "500m" or "4Gi", or an integer';

/**
 * A Kubernetes quantity: a string ("500m", "4Gi", "1e3") or a non-negative integer. Write
 * fractions as strings: the API server's int-or-string type rejects 0.5.
 */
export const QuantitySchema = k8s(
  // z.number(), not z.int(): 0.5 should fail with the quantity message, not "expected int".
  z
    .union([z.string(), z.number()], { error: QUANTITY_MESSAGE })
    .refine(isQuantity, { message: QUANTITY_MESSAGE }),
  {
    description: 'A non-negative Kubernetes quantity, e.g. "500m", 2, "4Gi". Write fractions as strings.',
    "x-kubernetes-int-or-string": true,
    pattern: QUANTITY_PATTERN,
    maxLength: 64,
    minimum: 0,
  },
);
export type Quantity = z.infer<typeof QuantitySchema>;

export const ResourceNameSchema = z
  .string()
  .max(317)
  .regex(new RegExp(QUALIFIED_NAME_PATTERN), 'must be a resource name such as "cpu" or "nvidia.com/gpu"');

/** Scalar resources only (quota, minimum offer sizes, node allocatable): name -> quantity. */
export const QuantityMapSchema = boundedRecord(
  ResourceNameSchema,
  QuantitySchema,
  MAX_RESOURCE_NAMES,
).describe('Scalar resources by Kubernetes name, e.g. {cpu: "2", memory: 4Gi, nvidia.com/gpu: 1}.');
export type QuantityMap = z.infer<typeof QuantityMapSchema>;

const PortSchema = z.int().min(1).max(65535);

export const PortRangeSchema = checked(
  z
    .object({
      begin: PortSchema.describe("First port of the range."),
      end: PortSchema.describe("Last port of the range, inclusive."),
    })
    .describe("An inclusive range of host ports."),
  { rule: "self.begin <= self.end", message: "end must not be less than begin", fieldPath: ".end" },
  (r) => r.begin <= r.end,
);
export type PortRange = z.infer<typeof PortRangeSchema>;

// Overlaps are checked here and by the operator, not by CEL: an O(n^2) rule nested under tasks
// would blow the CRD's cost budget.
export const PortRangesSchema = z
  .array(PortRangeSchema)
  .max(MAX_PORT_RANGES)
  .superRefine((ranges, ctx) => {
    const sorted = ranges.map((r, i) => ({ ...r, i })).sort((a, b) => a.begin - b.begin);
    for (let k = 1; k < sorted.length; k++) {
      const prev = sorted[k - 1];
      const cur = sorted[k];
      if (prev && cur && cur.begin <= prev.end) {
        ctx.addIssue({
          code: "custom",
          path: [cur.i],
          message: `overlaps range ${prev.begin}-${prev.end}`,
        });
      }
    }
  })
  .describe("Host port ranges, e.g. [{begin: 31000, end: 31999}]. Ranges must not overlap.");

/** How every resources field reads in `kubectl explain`. */
export const RESOURCES_HELP =
  'Resource name -> quantity (cpu: "500m", memory: 4Gi, nvidia.com/gpu: 1, or any extended resource), plus ports: [{begin, end}] host port ranges.';

/** Resource names the schema declares (so kubectl explain, printer columns and CEL see them). */
const WELL_KNOWN = {
  cpu: 'CPU, e.g. "500m" or "2".',
  memory: 'Memory in bytes, e.g. "512Mi" or "4Gi".',
  "ephemeral-storage": 'Local ephemeral storage in bytes, e.g. "10Gi".',
  "nvidia.com/gpu": "NVIDIA GPUs (whole devices).",
} as const;

type WellKnown = { [K in keyof typeof WELL_KNOWN]: z.ZodOptional<typeof QuantitySchema> };
const wellKnown = Object.fromEntries(
  Object.entries(WELL_KNOWN).map(([name, text]) => [name, QuantitySchema.describe(text).optional()]),
) as WellKnown;

/**
 * Resources: any Kubernetes resource name -> quantity, plus `ports`. The CRD cannot give a map
 * both declared properties and additionalProperties, so it declares the common names and `ports`
 * and preserves the rest (x-kubernetes-preserve-unknown-fields); other names are validated here
 * and by the operator, which marks an answer Invalid when they are not quantities.
 */
export const ResourcesSchema = k8s(
  z
    .object({ ...wellKnown, ports: PortRangesSchema.optional() })
    .catchall(z.union([QuantitySchema, PortRangesSchema]))
    .superRefine((res, ctx) => {
      const names = Object.keys(res);
      if (names.length > MAX_RESOURCE_NAMES + 1) {
        ctx.addIssue({ code: "custom", message: `must have at most ${MAX_RESOURCE_NAMES} resource names` });
      }
      for (const name of names) {
        if (name === "ports" || name in WELL_KNOWN) continue;
        if (!new RegExp(QUALIFIED_NAME_PATTERN).test(name)) {
          ctx.addIssue({ code: "custom", path: [name], message: "is not a valid resource name" });
        } else if (!isQuantity(res[name])) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: "must be a Kubernetes quantity (only ports is a list)",
          });
        }
      }
    }),
  {
    description: RESOURCES_HELP,
    "x-kubernetes-preserve-unknown-fields": true,
    maxProperties: MAX_RESOURCE_NAMES + 1,
  },
);
export type Resources = z.infer<typeof ResourcesSchema>;

/** ResourcesSchema with a field-specific description in front of the general one. */
export function resourcesField(what: string) {
  return ResourcesSchema.describe(`${what} ${RESOURCES_HELP}`);
}
