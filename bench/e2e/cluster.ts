// The pieces of bench:e2e's cluster: identities, the processes it runs (every one through the
// control plane's ProcessGroup, so each is ended by PID on stop, on the bench's exit, or by the
// next run if the bench was SIGKILLed), kube-scheduler started from the cached binary, and waits.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import { DEFAULT_LEASE_NAMESPACE } from "../../src/crds/contract.ts";
import { buildBundles, bundlePath } from "../../src/local/bundle.ts";
import { ControlPlane } from "../../src/local/controlplane.ts";
import { HARNESS_FLOW_NAMES } from "../../src/local/flowcontrol.ts";
import type { Identity } from "../../src/local/kubeconfig.ts";
import { freePort } from "../../src/local/ports.ts";
import type { ManagedProcess } from "../../src/local/processes.ts";
import { agentShares } from "../../test/load/agent-shares.ts";

export const REPO = join(import.meta.dirname, "../..");
export const SYSTEM_NAMESPACE = DEFAULT_LEASE_NAMESPACE;

/** A positive whole number from the environment variable `name`, else `fallback`; anything else is refused by name. */
export function positiveEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}=${raw}: expected a positive integer`);
  return n;
}

export interface BenchControlPlane {
  cp: ControlPlane;
  /** Processes the bench is stopping on purpose: their exit is not a failure. */
  expected: Set<string>;
  /** The first unexpected exit of one of its processes, for waits to give up on. */
  abort: () => Error | undefined;
}

/**
 * A private control plane (no controller manager) whose processes' unexpected exits are
 * recorded for `abort`, with the end of the exited process's log on stderr (the log goes with
 * the state directory).
 */
export async function startBenchControlPlane(
  say: (line: string) => void,
  opts: { profiling?: boolean } = {},
): Promise<BenchControlPlane> {
  const expected = new Set<string>();
  let fatal: Error | undefined;
  const cp = await ControlPlane.start({
    controllerManager: false,
    ...(opts.profiling ? { profiling: true } : {}),
    log: (m) => {
      if (![...expected].some((n) => m.startsWith(`${n} exited`))) say(m);
    },
  });
  cp.on(
    "process-exit",
    ({ name, code, signal }: { name: string; code: number | null; signal: string | null }) => {
      if (expected.has(name)) return;
      fatal ??= new Error(`${name} exited (code ${code}, signal ${signal})`);
      try {
        const log = readFileSync(join(cp.dir, "logs", `${name}.log`), "utf8")
          .split("\n")
          .slice(-40);
        process.stderr.write(`--- the last lines of ${name}'s log ---\n${log.join("\n")}\n---\n`);
      } catch {
        /* no log written */
      }
    },
  );
  return { cp, expected, abort: () => fatal };
}

/**
 * Real agents for `nodes` simulated nodes (test/load/agents.ts), in `procs` processes of their
 * own as on real nodes (a thousand agents in one process starve each other's renewals); resolves
 * with each process's "ready" line.
 */
export async function spawnAgents(
  cp: ControlPlane,
  kubeconfigPath: string,
  nodes: number,
  procs: number,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<string[]> {
  const agents = agentShares(nodes, procs).map(({ env: share }, k) =>
    spawnNode(cp, `agents-${k}`, ["test/load/agents.ts"], {
      KUBECONFIG: kubeconfigPath,
      ...env,
      ...share,
    }),
  );
  return Promise.all(agents.map((p) => waitForLine(p, "ready", timeoutMs)));
}

/** Polls `fn` every `everyMs` until it holds; throws after `timeoutMs`, or as soon as `abort` returns an error. */
export async function waitUntil(
  what: string,
  fn: () => boolean | Promise<boolean>,
  timeoutMs: number,
  abort: () => Error | undefined = () => undefined,
  everyMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const err = abort();
    if (err) throw err;
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A namespace with the default ServiceAccount Pods need (no kube-controller-manager here: less noise). */
export async function createNamespace(kc: KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name } } });
  await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: "default" } } });
}

export interface Identities {
  agent: Identity;
  controller: Identity;
  /** Creates the plain Pods and runs the frameworks: an ordinary ServiceAccount, under API priority and fairness. */
  submitter: Identity;
}

/** The ServiceAccounts the agents, the operator and the workload run as (cluster-admin: RBAC is not measured here). */
export async function identities(
  cp: ControlPlane,
  kc: KubeConfig,
  workloadNamespace: string,
): Promise<Identities> {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  for (const name of [SYSTEM_NAMESPACE, workloadNamespace])
    await core.createNamespace({ body: { metadata: { name } } });
  const sa = async (namespace: string, name: string) => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `bench-${namespace}-${name}` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
        subjects: [{ kind: "ServiceAccount", name, namespace }],
      },
    });
    return cp.mintUser(`system:serviceaccount:${namespace}:${name}`, [
      "system:serviceaccounts",
      `system:serviceaccounts:${namespace}`,
    ]);
  };
  return {
    agent: await sa(SYSTEM_NAMESPACE, HARNESS_FLOW_NAMES.agentServiceAccount),
    controller: await sa(SYSTEM_NAMESPACE, HARNESS_FLOW_NAMES.controllerServiceAccount),
    submitter: await sa(workloadNamespace, "submitter"),
  };
}

/** A Node.js child of the repository (its log in the control plane's logs directory). */
export function spawnNode(
  cp: ControlPlane,
  name: string,
  args: string[],
  env: Record<string, string>,
): ManagedProcess {
  return cp.processes.spawn(name, process.execPath, args, { ...process.env, ...env, FORCE_COLOR: "0" });
}

/** Resolves with the first stdout line of `p` that starts with `prefix`; rejects if it exits first or after `timeoutMs`. */
export function waitForLine(p: ManagedProcess, prefix: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(
      () => done(new Error(`${p.name}: no "${prefix}" line after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith(prefix)) return done(undefined, line);
        nl = buf.indexOf("\n");
      }
    };
    const onExit = () => done(new Error(`${p.name} exited before "${prefix}"; see ${p.logFile}`));
    const done = (err: Error | undefined, line = "") => {
      clearTimeout(timer);
      p.child.stdout?.off("data", onData);
      p.child.off("exit", onExit);
      if (err) reject(err);
      else resolve(line);
    };
    p.child.stdout?.on("data", onData);
    p.child.once("exit", onExit);
  });
}

/** GET a loopback HTTPS endpoint of a component with a self-signed serving certificate (ours). */
function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(0));
    req.end();
  });
}

/**
 * Starts kube-scheduler from the control plane's binaries, as controlplane.ts does, with extra
 * flags (e.g. --kube-api-qps), and waits until it is ready (its informers synced).
 */
export async function startScheduler(
  cp: ControlPlane,
  name: string,
  extraArgs: string[],
  abort: () => Error | undefined,
): Promise<ManagedProcess> {
  const port = await freePort();
  const p = cp.processes.spawn(name, cp.bins.kubeScheduler, [
    `--kubeconfig=${cp.kubeconfigPath}`,
    `--authentication-kubeconfig=${cp.kubeconfigPath}`,
    `--authorization-kubeconfig=${cp.kubeconfigPath}`,
    "--leader-elect=false",
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    ...extraArgs,
  ]);
  await waitUntil(
    `${name} ready`,
    async () => (await probe(`https://127.0.0.1:${port}/readyz`)) === 200,
    60_000,
    abort,
  );
  return p;
}

/**
 * The controller's Node options as the chart sets them (controller.nodeOptions): the benches run
 * the operator as it is installed. OPERATOR_NODE_OPTIONS overrides.
 */
export function operatorNodeOptions(): string {
  if (process.env.OPERATOR_NODE_OPTIONS !== undefined) return process.env.OPERATOR_NODE_OPTIONS;
  const values = parseYaml(readFileSync(join(REPO, "deploy/helm/kube-offers/values.yaml"), "utf8")) as {
    controller?: { nodeOptions?: string };
  };
  return String(values.controller?.nodeOptions ?? "");
}

/** What spawnOperator runs, for a bench's header. */
export function operatorRuns(): string {
  return process.env.OPERATOR_FROM === "source"
    ? "src/controller/main.ts (OPERATOR_FROM=source)"
    : `the controller's bundle (${bundlePath("controller")}, as the image runs it)`;
}

/**
 * The operator in its own process, as `kubeconfigPath`'s identity, serving /metrics on `port`:
 * the controller's bundle, the file the image runs (src/local/bundle.ts), built into the control
 * plane's directory. OPERATOR_FROM=source runs src/controller/main.ts instead, for comparison.
 */
export async function spawnOperator(
  cp: ControlPlane,
  kubeconfigPath: string,
  port: number,
  nodeArgs: string[] = [],
): Promise<ManagedProcess> {
  const controller =
    process.env.OPERATOR_FROM === "source"
      ? join(REPO, "src/controller/main.ts")
      : (await buildBundles(join(cp.dir, "bundles"))).controller;
  return spawnNode(
    cp,
    "operator",
    [
      ...nodeArgs,
      controller,
      `--kubeconfig=${kubeconfigPath}`,
      `--http-port=${port}`,
      "--http-host=127.0.0.1",
      // One replica acting alone: with leader election, a leader whose renewal misses its
      // deadline on a loaded machine exits by design, and the bench would measure the restart.
      "--leader-elect=false",
      `--agent-lease-namespace=${SYSTEM_NAMESPACE}`,
      "--identity=bench-operator",
    ],
    { LOG_LEVEL: "info", POD_NAMESPACE: SYSTEM_NAMESPACE, NODE_OPTIONS: operatorNodeOptions() },
  );
}
