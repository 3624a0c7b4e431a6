import { defineConfig } from "vitest/config";

// Two projects: pure unit tests (no cluster) and e2e tests that share one real control plane,
// started once per run by the global setup and torn down after it.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["src/**/*.test.ts", "test/unit/**/*.test.ts"],
          environment: "node",
          // Unit tests run first; e2e (a different worker count) after them.
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The generated bad-input suite (README.md, Reliability): pure surfaces here, sized by FUZZ_RUNS.
        test: {
          name: "fuzz",
          include: ["test/fuzz/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 0 },
          globalSetup: ["test/fuzz/report.ts"],
          testTimeout: 900_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts", "test/fuzz/e2e/*.fuzz.test.ts"],
          environment: "node",
          sequence: { groupOrder: 1 },
          globalSetup: ["test/e2e/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // One shared control plane; files run in parallel workers, each in its own namespace.
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
    ],
  },
});
