// Shared e2e helpers: the control plane's admin client, a namespace per test, polling waits.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import { isNotFound } from "../../src/kube/errors.ts";
import { type Identity, mintIdentity } from "../../src/local/kubeconfig.ts";

export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject("kubeconfig"));
  return kc;
}

/** A restricted identity on the shared control plane (client certificate; RBAC decides). */
export function mintUser(user: string, groups: string[] = []): Identity {
  return mintIdentity(inject("stateDir"), inject("server"), user, groups);
}

/** Runs the real kubectl against the shared control plane; resolves stdout, rejects with stderr. */
export function kubectl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      join(inject("binDir"), "kubectl"),
      ["--kubeconfig", inject("kubeconfig"), ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/** Creates a namespace and waits until its default ServiceAccount exists (Pods need it). */
export async function createNamespace(kc: KubeConfig, prefix = "e2e"): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = uniqueName(prefix);
  await core.createNamespace({ body: { metadata: { name, labels: { "kubeoffers.io/e2e": "true" } } } });
  await waitFor(`default ServiceAccount in ${name}`, async () => {
    try {
      await core.readNamespacedServiceAccount({ name: "default", namespace: name });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  });
  return name;
}

export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.deleteNamespace({ name }).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

/** Polls `fn` until it returns a truthy value; fails with `what` and the last error on timeout. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false | null>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`,
  );
}
