import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { DEFAULT_AGENT_LOSS } from "./agent-loss.ts";
import { defaultOperatorConfig } from "./config.ts";
import { settingsFrom } from "./main.ts";

function withConfig(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "ko-agent-loss-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "config.yaml");
  writeFileSync(file, yaml);
  return () => settingsFrom(["--config", file], {});
}

describe("agentLoss settings", () => {
  it("default to one definition, and the config file overrides single fields", () => {
    expect(defaultOperatorConfig().agentLoss).toEqual(DEFAULT_AGENT_LOSS);
    const s = withConfig("agentLoss: {perMinute: 5}\n")();
    if (s === "help") throw new Error("unexpected help");
    expect(defaultOperatorConfig(s.operator).agentLoss).toEqual({ ...DEFAULT_AGENT_LOSS, perMinute: 5 });
  });

  it("refuses bad values naming the field", () => {
    expect(withConfig("agentLoss: {massFraction: 2}\n")).toThrow(/agentLoss\.massFraction/);
    expect(withConfig("agentLoss: {perMinute: 0}\n")).toThrow(/agentLoss\.perMinute/);
    expect(withConfig("agentLoss: {perminute: 3}\n")).toThrow(/agentLoss/);
  });
});
