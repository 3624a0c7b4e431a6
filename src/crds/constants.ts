// moved: import from src/crds/contract.ts (kept for src/cli and test/e2e/real-*, zz-* until they are updated)
export * from "./contract.ts";
