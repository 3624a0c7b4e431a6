// The controller's config file carries the Mesos API's settings (`mesos:`), off by default.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { settingsFrom } from "../controller/main.ts";
import { MesosConfigSchema } from "./index.ts";

function withConfig(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "mesos-config-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "config.yaml");
  writeFileSync(file, yaml);
  return settingsFrom(["--config", file], {});
}

describe("mesos config section", () => {
  it("is off unless enabled, with Mesos defaults", () => {
    const s = withConfig(
      "mesos:\n  enabled: true\n  namespaces: {spark: team-a}\n  authentication: {basic: {spark: pw}}\n",
    );
    expect(s !== "help" && s.mesos).toMatchObject({
      enabled: true,
      port: 5050,
      namespaces: { spark: "team-a" },
      authentication: { basic: { spark: "pw" } },
    });
    const off = withConfig("seed: 3\n");
    expect(off !== "help" && off.mesos).toBeUndefined();
    // Not leaked into the operator's settings.
    expect(s !== "help" && "mesos" in s.operator).toBe(false);
  });

  it("refuses to serve without credentials unless mesos.allowUnauthenticated says so", () => {
    expect(() => withConfig("mesos:\n  enabled: true\n  defaultNamespace: m\n")).toThrow(
      /mesos\.allowUnauthenticated: no credentials are configured/,
    );
    expect(() =>
      withConfig("mesos:\n  enabled: true\n  defaultNamespace: m\n  authentication: {basic: {}}\n"),
    ).toThrow(/mesos\.allowUnauthenticated/);
    const open = withConfig("mesos:\n  enabled: true\n  defaultNamespace: m\n  allowUnauthenticated: true\n");
    expect(open !== "help" && open.mesos?.allowUnauthenticated).toBe(true);
    expect(() =>
      withConfig(
        "mesos:\n  enabled: true\n  allowUnauthenticated: true\n  authentication: {bearer: {t: spark}}\n",
      ),
    ).toThrow(/contradicts mesos.authentication/);
    // Off: nothing to refuse.
    expect(withConfig("mesos:\n  enabled: false\n")).toBeTruthy();
  });

  it("takes the limits, and refuses bad ones naming the field", () => {
    const s = withConfig(
      "mesos:\n  enabled: true\n  allowUnauthenticated: true\n  maxSubscriptionsPerPrincipal: 2\n  requestTimeoutSeconds: 5\n",
    );
    expect(s !== "help" && s.mesos).toMatchObject({
      maxSubscriptionsPerPrincipal: 2,
      requestTimeoutSeconds: 5,
    });
    expect(() =>
      withConfig("mesos:\n  enabled: true\n  allowUnauthenticated: true\n  maxConnectionsPerPrincipal: 0\n"),
    ).toThrow(/mesos\.maxConnectionsPerPrincipal/);
  });

  it("rejects unknown keys, naming them", () => {
    expect(() => withConfig("mesos:\n  enabled: true\n  prot: 1\n")).toThrow(/mesos/);
  });

  it("has every setting in the chart's values schema (mesos.config), and nothing else", () => {
    const schema = JSON.parse(
      readFileSync(new URL("../../deploy/helm/kube-offers/values.schema.json", import.meta.url), "utf8"),
    ) as { properties: { mesos: { properties: { config: { properties: Record<string, unknown> } } } } };
    const chart = Object.keys(schema.properties.mesos.properties.config.properties).sort();
    // enabled and port are the chart's mesos.enabled and mesos.port.
    const config = Object.keys(MesosConfigSchema.shape)
      .filter((k) => k !== "enabled" && k !== "port")
      .sort();
    expect(chart).toEqual(config);
  });
});
