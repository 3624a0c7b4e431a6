// Installs (server-side applies) the generated CRDs from config/crd and waits until the API
// server serves them. Used by the local harness, tests and `npm start`; Helm does it in clusters.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { parse } from "yaml";
import { applyPatch } from "../kube/patch.ts";
import { repoRoot } from "./binaries.ts";

export function loadCrds(dir = join(repoRoot, "config/crd")): V1CustomResourceDefinition[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => parse(readFileSync(join(dir, f), "utf8")) as V1CustomResourceDefinition);
}

export async function installCrds(kc: KubeConfig, timeoutMs = 30_000): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const crds = loadCrds();
  for (const crd of crds) {
    await ext.patchCustomResourceDefinition(
      { name: crd.metadata?.name ?? "", body: crd, fieldManager: "kube-offers-installer", force: true },
      applyPatch,
    );
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const got = await ext.readCustomResourceDefinition({ name: crd.metadata?.name ?? "" });
      if (got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${crd.metadata?.name} not established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Established is not quite serving: the first lists can still get 429 "storage is
  // (re)initializing". Wait until each kind lists.
  const co = kc.makeApiClient(CustomObjectsApi);
  for (const crd of crds) {
    const group = crd.spec.group;
    const version = crd.spec.versions[0]?.name ?? "";
    const plural = crd.spec.names.plural;
    for (;;) {
      try {
        await co.listClusterCustomObject({ group, version, plural, limit: 1 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
