// What each real-client e2e test runs against: a namespace of its own, kube-offers' Mesos API
// (served on loopback from the real control plane, over a Pool's agents and operator), a watch
// of the namespace's task Pods, and the client processes it starts. close() ends the processes
// by PID, closes the API, tears the namespace's Frameworks down and deletes the namespace.
import { CustomObjectsApi } from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { type MesosApi, type MesosApiOptions, startMesosApi } from "../../src/mesos/index.ts";
import type { Pool } from "../e2e/pool.ts";
import { createNamespace, deleteNamespace, waitFor } from "../e2e/support.ts";
import { PodPhases } from "./pod-phases.ts";
import { Processes } from "./processes.ts";

export interface Testbed {
  namespace: string;
  api: MesosApi;
  pods: PodPhases;
  processes: Processes;
  close(): Promise<void>;
}

type ApiSettings = Omit<
  MesosApiOptions,
  "kubeConfig" | "port" | "host" | "frameworkLabels" | "agentSelector"
>;

/** `settings(namespace)` says how the API maps principals onto the test's namespace. */
export async function startTestbed(
  pool: Pool,
  prefix: string,
  settings: (namespace: string) => ApiSettings,
): Promise<Testbed> {
  const namespace = await createNamespace(pool.kc, prefix);
  const processes = new Processes();
  let api: MesosApi | undefined;
  let pods: PodPhases | undefined;
  const close = async () => {
    await processes.stopAll();
    pods?.stop();
    await api?.close();
    await removeFrameworks(pool, namespace);
    await deleteNamespace(pool.kc, namespace);
  };
  try {
    pods = await PodPhases.start(pool.kc, namespace);
    api = await startMesosApi({
      kubeConfig: pool.kc,
      port: 0,
      host: "127.0.0.1",
      frameworkLabels: pool.labels,
      agentSelector: `kubeoffers.io/pool=${pool.name}`,
      ...settings(namespace),
    });
    return { namespace, api, pods, processes, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Deletes the namespace's Frameworks and waits (bounded) for the operator to tear them down;
 * whatever is left then has its finalizer removed, so the namespace can go.
 */
async function removeFrameworks(pool: Pool, namespace: string): Promise<void> {
  const co = pool.kc.makeApiClient(CustomObjectsApi);
  const ref = { group: GROUP, version: VERSION, namespace, plural: PLURAL.framework };
  const list = async () =>
    (
      (await co.listNamespacedCustomObject(ref).catch(() => ({ items: [] }))) as {
        items: { metadata: { name: string } }[];
      }
    ).items;
  for (const f of await list())
    await co.deleteNamespacedCustomObject({ ...ref, name: f.metadata.name }).catch(() => {});
  try {
    await waitFor("the test's Frameworks torn down", async () => (await list()).length === 0, 30_000, 250);
  } catch {
    for (const f of await list())
      await co
        .patchNamespacedCustomObject({
          ...ref,
          name: f.metadata.name,
          body: [{ op: "remove", path: "/metadata/finalizers" }],
        })
        .catch(() => {});
  }
}
