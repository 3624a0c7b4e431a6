// The workload bench:e2e runs each way: N equal tasks that run a few seconds on the simulated
// nodes, submitted at once, either as plain Pods (through kube-scheduler, or with spec.nodeName
// set) created by one client with bounded concurrency, or as the tasks of kube-offers batch
// frameworks running in their own process.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import pLimit from "p-limit";
import { GROUP, PLURAL, SIM_RUN_SECONDS, VERSION } from "../../src/crds/contract.ts";
import { statusCode } from "../../src/kube/errors.ts";
import type { ControlPlane } from "../../src/local/controlplane.ts";
import type { ManagedProcess } from "../../src/local/processes.ts";
import { spawnNode, waitForLine, waitUntil } from "./cluster.ts";

export interface TaskShape {
  cpu: string;
  memory: string;
  runSeconds: number;
}

export interface Workload {
  /** Before the clock starts: e.g. start the frameworks' process. */
  prepare(): Promise<void>;
  /** At t0. Resolves once everything is handed over (all creates answered, or the frameworks told to go). */
  submit(): Promise<void>;
  /** After the measurement: remove what the way left, and wait until it is gone. */
  cleanup(): Promise<void>;
}

/** A create refused for load (429, 5xx) or lost on the wire is retried, as client-go's clients retry. */
async function createWithRetry(core: CoreV1Api, namespace: string, body: V1Pod): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await core.createNamespacedPod({ namespace, body });
      return;
    } catch (err) {
      const code = statusCode(err);
      if (code === 409) return; // a retried create that had landed
      const transient = code === undefined || code === 429 || code >= 500;
      if (!transient || attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

async function waitNoPods(
  kc: KubeConfig,
  namespace: string,
  abort: () => Error | undefined,
  timeoutMs = 5 * 60_000,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await waitUntil(
    `the Pods of ${namespace} gone`,
    async () => (await core.listNamespacedPod({ namespace, limit: 1 })).items.length === 0,
    timeoutMs,
    abort,
    500,
  );
}

/**
 * Deletes every Pod of the namespace and waits until they are gone: each attempt a minute, or
 * 60 ms a Pod (a node finishes each deletion; 10,000 on a saturated 2-core control plane took
 * longer than five minutes).
 */
async function deleteAllPods(
  kc: KubeConfig,
  namespace: string,
  abort: () => Error | undefined,
  pods: number,
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  // A loaded API server may answer 504 while it goes on deleting: ask again until none is left.
  // At once (grace 0): the Pods have finished, and a graceful delete waits for each node to
  // confirm it, which took the simulated nodes 10 minutes for 10,000 Pods between two ways.
  for (let attempt = 1; ; attempt++) {
    await core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 }).catch((err: unknown) => {
      const code = statusCode(err);
      if (code !== undefined && code !== 429 && code < 500) throw err;
    });
    try {
      await waitNoPods(kc, namespace, abort, Math.max(60_000, pods * 60));
      return;
    } catch (err) {
      if (attempt >= 5 || abort()) throw err;
    }
  }
}

/**
 * Plain Pods, `concurrency` creates in flight. `nodes`: set spec.nodeName round-robin over them
 * (the API server's raw create rate); undefined: leave them to kube-scheduler.
 */
export function plainPods(opts: {
  kc: KubeConfig;
  admin: KubeConfig;
  namespace: string;
  tasks: number;
  shape: TaskShape;
  concurrency: number;
  nodes?: string[];
  abort: () => Error | undefined;
}): Workload {
  const core = opts.kc.makeApiClient(CoreV1Api);
  const pod = (i: number): V1Pod => ({
    metadata: { name: `p-${i}`, annotations: { [SIM_RUN_SECONDS]: String(opts.shape.runSeconds) } },
    spec: {
      ...(opts.nodes ? { nodeName: opts.nodes[i % opts.nodes.length] } : {}),
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      containers: [
        {
          name: "main",
          image: "busybox:1.35",
          command: ["sh", "-c", `sleep ${opts.shape.runSeconds}`],
          resources: { requests: { cpu: opts.shape.cpu, memory: opts.shape.memory } },
        },
      ],
    },
  });
  return {
    prepare: async () => {},
    submit: async () => {
      const limit = pLimit(opts.concurrency);
      await Promise.all(
        Array.from({ length: opts.tasks }, (_, i) =>
          limit(() => createWithRetry(core, opts.namespace, pod(i))),
        ),
      );
    },
    cleanup: () => deleteAllPods(opts.admin, opts.namespace, opts.abort, opts.tasks),
  };
}

/** `frameworks` batch frameworks sharing the tasks, in their own process (bench/e2e/frameworks-main.ts). */
export function frameworkTasks(opts: {
  cp: ControlPlane;
  kubeconfigPath: string;
  namespace: string;
  name: string;
  frameworks: number;
  tasks: number;
  shape: TaskShape;
  abort: () => Error | undefined;
  expectExit: (name: string) => void;
}): Workload {
  let proc: ManagedProcess | undefined;
  return {
    prepare: async () => {
      proc = spawnNode(opts.cp, opts.name, ["bench/e2e/frameworks-main.ts"], {
        KUBECONFIG: opts.kubeconfigPath,
        NAMESPACE: opts.namespace,
        FRAMEWORKS: String(opts.frameworks),
        TASKS: String(opts.tasks),
        CPU: opts.shape.cpu,
        MEMORY: opts.shape.memory,
        RUN_SECONDS: String(opts.shape.runSeconds),
      });
      await waitForLine(proc, "ready", 60_000);
    },
    submit: async () => {
      if (!proc) throw new Error("frameworks not prepared");
      process.kill(proc.pid, "SIGUSR2");
    },
    cleanup: async () => {
      // SIGTERM tears the frameworks down (Mesos TEARDOWN): the operator kills their tasks.
      opts.expectExit(opts.name);
      await opts.cp.processes.stop(opts.name, 60_000);
      const admin = opts.cp.kubeConfig();
      const co = admin.makeApiClient(CustomObjectsApi);
      await waitUntil(
        `the Frameworks of ${opts.namespace} gone`,
        async () => {
          const list = (await co.listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: opts.namespace,
            plural: PLURAL.framework,
          })) as { items: unknown[] };
          return list.items.length === 0;
        },
        2 * 60_000,
        opts.abort,
        500,
      );
      // The operator killed the running tasks; the finished ones' Pods are the garbage
      // collector's to delete (owned by their Framework), and kube-controller-manager does not run here.
      await deleteAllPods(admin, opts.namespace, opts.abort, opts.tasks);
    },
  };
}
