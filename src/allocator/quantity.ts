// moved: import from src/resources (kept for test/e2e/real-cluster.test.ts until it is updated)
export * from "../resources/quantity.ts";
