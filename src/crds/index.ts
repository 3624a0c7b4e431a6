// kube-offers API (kubeoffers.io/v1alpha1): zod schemas, their TypeScript types, validation
// helpers and the CRDs generated from them.

export { compareQuantities, isQuantity, QUANTITY_PATTERN } from "../resources/quantity.ts";
export * from "./agent.ts";
export * from "./cel.ts";
export * from "./contract.ts";
export * from "./crds.ts";
export * from "./framework.ts";
export * from "./meta.ts";
export * from "./names.ts";
export * from "./offer.ts";
export { type JSONSchemaProps, SchemaConversionError, toOpenAPI } from "./openapi.ts";
export * from "./resources.ts";
export * from "./role.ts";
export { structuralErrors, unboundedErrors } from "./structural.ts";
export * from "./validate.ts";
