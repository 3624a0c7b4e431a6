import { defineConfig } from "vitest/config";

// Three projects: pure unit tests (no cluster), e2e tests that share one real control plane,
// started once per run by the global setup and torn down after it, and the chaos suite with its
// own control plane (it restarts the API server), run last.
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
      {
        test: {
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          environment: "node",
          // After e2e: its own control plane must not compete with e2e's for the CPUs.
          sequence: { groupOrder: 2 },
          globalSetup: ["test/chaos/global-setup.ts"],
          // The suite sizes itself from CHAOS_HITS (npm run test:chaos: the full run).
          testTimeout: 3_600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
    ],
  },
});
