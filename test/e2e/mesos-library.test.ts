// A real, unmodified Mesos scheduler library from PyPI — mesoshttp 0.4.2, a pure-Python client
// of the v1 Scheduler HTTP API — runs a framework against kube-offers: it subscribes, receives
// offers, launches command tasks, acknowledges their updates and sees them finish. The library
// is installed from PyPI into a cached venv at test time (test/mesos/venv.ts); when that is not
// possible the test fails, saying why.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { Framework } from "../../src/crds/framework.ts";
import { type MesosApi, startMesosApi } from "../../src/mesos/index.ts";
import { mesosVenv } from "../mesos/venv.ts";
import { Pool } from "./pool.ts";
import { waitFor } from "./support.ts";

let pool: Pool;
let api: MesosApi;
let python: string;

beforeAll(async () => {
  [python, pool] = await Promise.all([mesosVenv(), Pool.start("mesoslib", { nodes: 2 })]);
  api = await startMesosApi({
    kubeConfig: pool.kc,
    port: 0,
    host: "127.0.0.1",
    // No credentials, on purpose: FrameworkInfo.principal is trusted.
    allowUnauthenticated: true,
    namespaces: { "e2e-principal": pool.namespace },
    frameworkLabels: pool.labels,
    agentSelector: `kubeoffers.io/pool=${pool.name}`,
    // mesoshttp hands a record to its callbacks when the next one arrives: frequent heartbeats
    // keep that prompt (real Mesos sends one every 15 s).
    heartbeatIntervalSeconds: 0.5,
    updateRetrySeconds: 2,
    leaseSeconds: 3,
  });
}, 400_000);
afterAll(async () => {
  await api?.close();
  await pool?.stop();
});

interface Summary {
  ok: boolean;
  framework_id: string;
  offers: number;
  launched: string[];
  updates: [string, string, boolean][];
  finished: string[];
  failed: unknown[];
}

function runScheduler(args: string[]): Promise<{ code: number; summary?: Summary; stderr: string }> {
  const script = join(import.meta.dirname, "..", "mesos", "mesoshttp_scheduler.py");
  return new Promise((resolve) => {
    execFile(python, [script, ...args], { timeout: 90_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      let summary: Summary | undefined;
      try {
        summary = JSON.parse(line) as Summary;
      } catch {
        summary = undefined;
      }
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, summary, stderr });
    });
  });
}

describe("mesoshttp (PyPI) against kube-offers", () => {
  it("registers, receives offers, launches tasks and sees them finish", async () => {
    const r = await runScheduler([api.url, "4", "e2e-principal", "1", "60"]);
    if (r.code !== 0 || !r.summary?.ok)
      throw new Error(
        `the mesoshttp scheduler failed (exit ${r.code}): ${JSON.stringify(r.summary)}\n${r.stderr.slice(-4000)}`,
      );
    const s = r.summary;
    expect(s.framework_id).toMatch(/^mesoshttp-e2e-[0-9a-f]{8}$/);
    expect(s.offers).toBeGreaterThan(0);
    expect(s.finished.sort()).toEqual([
      "mesoshttp-task-0",
      "mesoshttp-task-1",
      "mesoshttp-task-2",
      "mesoshttp-task-3",
    ]);
    // Every update the library saw was reliable (had a uuid, which it acknowledged) and in order.
    for (const id of s.finished) {
      const states = s.updates.filter(([t]) => t === id).map(([, st]) => st);
      expect(states[states.length - 1]).toBe("TASK_FINISHED");
      expect(states).toContain("TASK_RUNNING");
    }
    expect(s.updates.every(([, , uuid]) => uuid)).toBe(true);

    // Kubernetes shows the same: the Framework (principal's namespace) and one finished Pod per task.
    const fw = (await pool.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: pool.namespace,
      plural: PLURAL.framework,
      name: s.framework_id,
    })) as Framework;
    expect(fw.spec.displayName).toBe("mesoshttp-e2e");
    expect(fw.metadata.annotations?.["mesos.kubeoffers.io/principal"]).toBe("e2e-principal");
    const listPods = async () =>
      (
        await pool.kc.makeApiClient(CoreV1Api).listNamespacedPod({
          namespace: pool.namespace,
          labelSelector: `kubeoffers.io/framework=${s.framework_id}`,
        })
      ).items;
    const pods = await listPods();
    expect(pods.map((p) => p.status?.phase)).toEqual(["Succeeded", "Succeeded", "Succeeded", "Succeeded"]);
    // Each acknowledgement reached the Pod.
    await waitFor("the acknowledgements on the Pods", async () =>
      (await listPods()).every(
        (p) =>
          p.metadata?.annotations?.[
            `acked.mesos.kubeoffers.io/${p.metadata?.labels?.["kubeoffers.io/task-id"]}`
          ] === "TASK_FINISHED",
      ),
    );
    // The stream is gone: the library disconnected.
    await waitFor("the stream closed", async () => api.streams === 0);
  });
});
