// Resource arithmetic every layer shares: Kubernetes quantities <-> exact integers, resource
// vectors, port range sets and attribute constraints. Pure; imports nothing from the rest of
// kube-offers.
export * from "./constraints.ts";
export * from "./pod-requests.ts";
export * from "./ports.ts";
export * from "./quantity.ts";
export * from "./resources.ts";
export type * from "./types.ts";
