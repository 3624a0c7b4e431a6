import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { repoRoot } from "../local/binaries.ts";
import { bundlePath } from "../local/bundle.ts";
import { parseDuration, settingsFrom } from "./main.ts";
import { STRICT_POD_POLICY } from "./pod-policy.ts";

describe("controller settings", () => {
  it("defaults to client-go's election timings, a strict pod policy and the pod's namespace", () => {
    const s = settingsFrom([], { POD_NAME: "ko-0", POD_NAMESPACE: "ko-system" });
    if (s === "help") throw new Error("unexpected help");
    expect(s).toMatchObject({
      leaderElect: true,
      leaseNamespace: "ko-system",
      leaseName: "kube-offers-controller",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      identity: "ko-0",
      httpPort: 8080,
    });
    expect(s.operator).toMatchObject({
      instance: "ko-0",
      agentLeaseNamespace: "ko-system",
      podPolicy: STRICT_POD_POLICY,
    });
    expect(s.operator.pool).toBeUndefined();
  });

  it("takes the API request deadline from the flag, the environment or the config file", () => {
    const dir = mkdtempSync(join(tmpdir(), "ko-main-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "config.yaml");
    writeFileSync(file, "apiTimeoutMs: 7000\n");
    const table: [string[], Record<string, string>, number | undefined][] = [
      [[], {}, undefined], // the writer's default then: DEFAULT_API_TIMEOUT_MS
      [["--config", file], {}, 7000],
      [["--config", file], { API_TIMEOUT: "3s" }, 3000],
      [["--config", file, "--api-timeout", "1500ms"], { API_TIMEOUT: "3s" }, 1500],
    ];
    for (const [argv, env, want] of table) {
      const s = settingsFrom(argv, env);
      if (s === "help") throw new Error("unexpected help");
      expect(s.operator.apiTimeoutMs, argv.join(" ")).toBe(want);
    }
    expect(() => settingsFrom(["--api-timeout", "soon"], {})).toThrow(
      /api-timeout: "soon" is not a duration/,
    );
  });

  it("reads flags over environment over the config file", () => {
    const dir = mkdtempSync(join(tmpdir(), "ko-main-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "config.yaml");
    writeFileSync(
      file,
      [
        "allocationIntervalMs: 500",
        "defaultOfferTimeoutSeconds: 0",
        "pool: from-file",
        "minAllocatable: [{cpu: 100m, memory: 32Mi}]",
        "podPolicy: {forbidHostPath: false}",
      ].join("\n"),
    );
    const s = settingsFrom(["--pool", "from-flag", "--lease-duration", "6s", "--renew-deadline", "4000ms"], {
      CONFIG_FILE: file,
      POOL: "from-env",
      RETRY_PERIOD: "1s",
      LEADER_ELECT: "false",
    });
    if (s === "help") throw new Error("unexpected help");
    expect(s.operator.pool).toBe("from-flag");
    expect(s.operator.allocationIntervalMs).toBe(500);
    expect(s.operator.defaultOfferTimeoutSeconds).toBeUndefined();
    expect(s.operator.minAllocatable).toEqual([{ cpu: 100, memory: 32 * 1024 ** 2 }]);
    expect(s.operator.podPolicy).toEqual({ ...STRICT_POD_POLICY, forbidHostPath: false });
    expect(s).toMatchObject({
      leaseDurationMs: 6000,
      renewDeadlineMs: 4000,
      retryPeriodMs: 1000,
      leaderElect: false,
    });
  });

  it("rejects unknown flags, unknown config keys and bad values with a readable message", () => {
    expect(() => settingsFrom(["--nope"], {})).toThrow(/Unknown option '--nope'/);
    const dir = mkdtempSync(join(tmpdir(), "ko-main-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "config.yaml");
    writeFileSync(file, "podPolicy: {forbidRoot: true}\n");
    expect(() => settingsFrom(["--config", file], {})).toThrow(
      /config file .*: podPolicy: Unrecognized key: "forbidRoot"/,
    );
    expect(() => settingsFrom(["--lease-duration", "soon"], {})).toThrow(
      /lease-duration: "soon" is not a duration/,
    );
    expect(() => settingsFrom(["--leader-elect", "maybe"], {})).toThrow(
      /leader-elect: "maybe" is not a boolean/,
    );
    expect(settingsFrom(["--help"], {})).toBe("help");
    expect(parseDuration("1.5s", "x")).toBe(1500);
    expect(parseDuration("2m", "x")).toBe(120_000);
  });
});

describe("the container image", () => {
  // The image's bundles are built from src/ (Dockerfile, .dockerignore), and the examples image
  // adds src/ and the production dependencies only (examples/Dockerfile): both entry points must
  // import nothing else.
  it("builds the controller and the agent from src/ with production dependencies only", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const seen = new Set<string>();
    const bad: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/^\s*(?:import|export)\s(?!type\b)[^;]*?from\s+"([^"]+)"/gms)) {
        const spec = m[1] ?? "";
        if (spec.startsWith("node:")) continue;
        if (spec.startsWith(".")) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(join(repoRoot, "src"))) bad.push(`${file} imports ${spec} outside src/`);
          else if (target.endsWith(".test.ts")) bad.push(`${file} imports a test`);
          else visit(target);
          continue;
        }
        const name = spec.startsWith("@")
          ? spec.split("/").slice(0, 2).join("/")
          : (spec.split("/")[0] ?? "");
        if (!(name in pkg.dependencies)) bad.push(`${file} imports ${spec}, not a production dependency`);
      }
    };
    visit(join(repoRoot, "src/controller/main.ts"));
    visit(join(repoRoot, "src/agent/main.ts"));
    expect(bad).toEqual([]);
    expect(seen.size).toBeGreaterThan(10);
    const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^RUN node src\/local\/bundle\.ts dist$/m);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toContain(`CMD ["${bundlePath("controller")}"]`);
    const examples = readFileSync(join(repoRoot, "examples/Dockerfile"), "utf8");
    expect(examples).toMatch(/npm ci --omit=dev/);
  });
});
