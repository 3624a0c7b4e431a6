// The controller process: flags and environment → Operator, leader election on a Lease, and the
// HTTP endpoints (/metrics, /healthz, /readyz). Every replica keeps its informer cache warm;
// only the one holding the Lease allocates and launches. Run: node src/controller/main.ts --help

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import {
  DEFAULT_API_TIMEOUT_MS,
  DEFAULT_LEASE_NAMESPACE,
  LABEL_POOL,
  LEADER_ELECTION_LEASE_NAME,
  LEASE_DURATION_MS,
  RENEW_DEADLINE_MS,
  RETRY_PERIOD_MS,
} from "../crds/contract.ts";
import { keepConnections } from "../kube/connections.ts";
import { type MesosApi, type MesosConfig, MesosConfigSchema, startMesosFromConfig } from "../mesos/index.ts";
import { parseQuantity } from "../resources/quantity.ts";
import { DEFAULT_AGENT_LOSS } from "./agent-loss.ts";
import type { OperatorConfig } from "./config.ts";
import { type Check, cycleProgress, cycleStallBoundMs, startHttpServer } from "./http-server.ts";
import { LeaderElector } from "./leader-election.ts";
import { createLogger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { Operator } from "./operator.ts";
import { PodPolicySchema, STRICT_POD_POLICY } from "./pod-policy.ts";

const HELP = `kube-offers controller

Usage: node src/controller/main.ts [flags]   (every flag also reads the environment variable shown)

  --kubeconfig PATH                 KUBECONFIG; default: $KUBECONFIG, ~/.kube/config, in-cluster
  --config PATH                     CONFIG_FILE; YAML or JSON operator settings (see below)
  --http-port N                     HTTP_PORT (8080): /metrics, /healthz, /readyz
  --http-host ADDR                  HTTP_HOST (0.0.0.0)
  --leader-elect BOOL               LEADER_ELECT (true); false: act alone, for a single replica
  --leader-election-namespace NS    LEADER_ELECTION_NAMESPACE, else POD_NAMESPACE (${DEFAULT_LEASE_NAMESPACE})
  --leader-election-id NAME         LEADER_ELECTION_ID (${LEADER_ELECTION_LEASE_NAME}): the Lease's name
  --lease-duration D                LEASE_DURATION (15s)
  --renew-deadline D                RENEW_DEADLINE (10s)
  --retry-period D                  RETRY_PERIOD (2s)
  --api-timeout D                   API_TIMEOUT (10s): deadline of one API request (watches have none)
  --identity ID                     POD_NAME, else <hostname>_<uuid>
  --pool NAME                       POOL: manage only agents/frameworks labelled ${LABEL_POOL}=NAME
  --agent-lease-namespace NS        AGENT_LEASE_NAMESPACE, else POD_NAMESPACE (${DEFAULT_LEASE_NAMESPACE})
  --log-level LEVEL                 LOG_LEVEL (info)

The config file holds any of: allocationIntervalMs, batchDelayMs, offerRetentionMs, apiTimeoutMs,
defaultOfferTimeoutSeconds, minAllocatable, fairShareExcludedResources, seed, pool,
agentLeaseNamespace, agentLoss {perMinute (20), massFraction (0.1), massMinAgents (5),
massWindowMs (30000), settleMs (5000)}, podPolicy {forbidHostPortsOutsideOffer, forbidHostNamespaces,
forbidHostPath, forbidPrivileged, enforceBaseline (each default true), allowedPriorityClasses,
allowedServiceAccounts, runtimeClasses {name: overhead} (each default empty), allowSecrets
(default false)}. Durations: 15s, 1500ms, 1m.
mesos {enabled, port (5050), namespaces {principal: namespace}, defaultNamespace, ...}: the
Mesos v1 Scheduler HTTP API, off by default (docs/mesos.md). Enabled, it needs authentication
{basic, bearer} or, to serve without credentials, allowUnauthenticated: true.
/readyz fails while this replica leads and no allocation cycle completed for 3 allocation
intervals (at least 10 s): the body names the check and why.
`;

const FileConfigSchema = z
  .object({
    allocationIntervalMs: z.number().int().positive().optional(),
    batchDelayMs: z.number().int().nonnegative().optional(),
    offerRetentionMs: z.number().int().nonnegative().optional(),
    apiTimeoutMs: z.number().int().positive().optional(),
    /** 0: offers never expire. */
    defaultOfferTimeoutSeconds: z.number().int().nonnegative().optional(),
    /** Alternatives of minimum offer sizes as Kubernetes quantities: [{cpu: "100m", memory: 32Mi}]. */
    minAllocatable: z.array(z.record(z.string(), z.union([z.string(), z.number()]))).optional(),
    fairShareExcludedResources: z.array(z.string()).optional(),
    seed: z.number().int().optional(),
    pool: z.string().optional(),
    agentLeaseNamespace: z.string().optional(),
    podPolicy: PodPolicySchema.optional(),
    /** agent-loss.ts: declaring agents lost at a rate, and holding back when many lapse at once. */
    agentLoss: z
      .object({
        perMinute: z.number().int().positive(),
        massFraction: z.number().gt(0).lte(1),
        massMinAgents: z.number().int().positive(),
        massWindowMs: z.number().int().positive(),
        settleMs: z.number().int().nonnegative(),
      })
      .partial()
      .strict()
      .optional(),
    mesos: MesosConfigSchema.optional(),
  })
  .strict();

export function parseDuration(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (!m) throw new Error(`${what}: ${JSON.stringify(s)} is not a duration (e.g. 15s, 1500ms)`);
  const n = Number(m[1]);
  return Math.round(m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000);
}

function parseBool(s: string, what: string): boolean {
  if (/^(true|1|yes)$/i.test(s)) return true;
  if (/^(false|0|no)$/i.test(s)) return false;
  throw new Error(`${what}: ${JSON.stringify(s)} is not a boolean`);
}

export interface MainSettings {
  kubeconfig?: string;
  operator: Partial<OperatorConfig>;
  httpPort: number;
  httpHost: string;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  identity: string;
  logLevel: string;
  mesos?: MesosConfig;
}

/** Flags over environment over config file over defaults. Throws a readable message on bad input. */
export function settingsFrom(argv: string[], env: NodeJS.ProcessEnv): MainSettings | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      kubeconfig: { type: "string" },
      config: { type: "string" },
      "http-port": { type: "string" },
      "http-host": { type: "string" },
      "leader-elect": { type: "string" },
      "leader-election-namespace": { type: "string" },
      "leader-election-id": { type: "string" },
      "lease-duration": { type: "string" },
      "renew-deadline": { type: "string" },
      "retry-period": { type: "string" },
      "api-timeout": { type: "string" },
      identity: { type: "string" },
      pool: { type: "string" },
      "agent-lease-namespace": { type: "string" },
      "log-level": { type: "string" },
    },
  });
  if (values.help) return "help";
  const pick = (flag: string | undefined, ...envs: (string | undefined)[]) =>
    flag ?? envs.find((e) => e !== undefined && e !== "");
  const podNamespace = env.POD_NAMESPACE || undefined;
  const configPath = pick(values.config, env.CONFIG_FILE);
  let file: z.infer<typeof FileConfigSchema> = {};
  if (configPath) {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(configPath, "utf8")) ?? {};
    } catch (err) {
      // Unreadable, not YAML, or nested past the parser's stack: still say which file.
      throw new Error(`config file ${configPath}: cannot be read as YAML or JSON: ${(err as Error).message}`);
    }
    const parsed = FileConfigSchema.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new Error(`config file ${configPath}: ${i?.path.join(".") || "(root)"}: ${i?.message}`);
    }
    file = parsed.data;
  }
  const identity = pick(values.identity, env.POD_NAME) ?? `${hostname()}_${randomUUID()}`;
  const pool = pick(values.pool, env.POOL) ?? file.pool;
  const apiTimeout = pick(values["api-timeout"], env.API_TIMEOUT);
  const { podPolicy, minAllocatable, defaultOfferTimeoutSeconds, mesos, agentLoss, ...rest } = file;
  const operator: Partial<OperatorConfig> = {
    ...rest,
    ...(defaultOfferTimeoutSeconds ? { defaultOfferTimeoutSeconds } : {}),
    ...(agentLoss ? { agentLoss: { ...DEFAULT_AGENT_LOSS, ...agentLoss } } : {}),
    ...(minAllocatable
      ? {
          minAllocatable: minAllocatable.map((alt, i) =>
            Object.fromEntries(
              Object.entries(alt).map(([k, v]) => {
                try {
                  return [k, parseQuantity(k, v)];
                } catch (err) {
                  // Named like the schema's errors: the file and the field.
                  throw new Error(
                    `config file ${configPath}: minAllocatable.${i}.${k}: ${(err as Error).message}`,
                  );
                }
              }),
            ),
          ),
        }
      : {}),
    instance: identity,
    agentLeaseNamespace:
      pick(values["agent-lease-namespace"], env.AGENT_LEASE_NAMESPACE) ??
      file.agentLeaseNamespace ??
      podNamespace ??
      DEFAULT_LEASE_NAMESPACE,
    // A cluster policy is always in force; the config may relax single rules.
    podPolicy: { ...STRICT_POD_POLICY, ...(podPolicy ?? {}) },
    ...(pool ? { pool } : {}),
    ...(apiTimeout ? { apiTimeoutMs: parseDuration(apiTimeout, "api-timeout") } : {}),
  };
  const port = Number(pick(values["http-port"], env.HTTP_PORT) ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`http port ${port} is invalid`);
  const kubeconfig = pick(values.kubeconfig);
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    operator,
    httpPort: port,
    httpHost: pick(values["http-host"], env.HTTP_HOST) ?? "0.0.0.0",
    leaderElect: parseBool(pick(values["leader-elect"], env.LEADER_ELECT) ?? "true", "leader-elect"),
    leaseNamespace:
      pick(values["leader-election-namespace"], env.LEADER_ELECTION_NAMESPACE) ??
      podNamespace ??
      DEFAULT_LEASE_NAMESPACE,
    leaseName: pick(values["leader-election-id"], env.LEADER_ELECTION_ID) ?? LEADER_ELECTION_LEASE_NAME,
    leaseDurationMs: parseDuration(
      pick(values["lease-duration"], env.LEASE_DURATION) ?? `${LEASE_DURATION_MS}ms`,
      "lease-duration",
    ),
    renewDeadlineMs: parseDuration(
      pick(values["renew-deadline"], env.RENEW_DEADLINE) ?? `${RENEW_DEADLINE_MS}ms`,
      "renew-deadline",
    ),
    retryPeriodMs: parseDuration(
      pick(values["retry-period"], env.RETRY_PERIOD) ?? `${RETRY_PERIOD_MS}ms`,
      "retry-period",
    ),
    identity,
    logLevel: pick(values["log-level"], env.LOG_LEVEL) ?? "info",
    ...(mesos ? { mesos } : {}),
  };
}

async function main(): Promise<void> {
  let settings: MainSettings | "help";
  try {
    settings = settingsFrom(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`kube-offers controller: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (settings === "help") {
    process.stdout.write(HELP);
    return;
  }
  const s = settings;
  const log = createLogger("kube-offers-controller", s.logLevel);
  process.on("unhandledRejection", (err) => {
    log.fatal({ err: String(err) }, "unhandled rejection; exiting");
    process.exit(1);
  });
  const kc = new KubeConfig();
  if (s.kubeconfig) kc.loadFromFile(s.kubeconfig);
  else kc.loadFromDefault();
  // One keep-alive pool for every request and watch: client-node would open (and TLS-handshake)
  // a connection per request, a third of the operator's CPU in a launch storm.
  keepConnections(kc, {
    dropOnTimeout: true,
    minPoolAgeMs: s.operator.apiTimeoutMs ?? DEFAULT_API_TIMEOUT_MS,
  });

  const metrics = new Metrics();
  let elector: LeaderElector | undefined;
  const operator = new Operator(kc, {
    config: s.operator,
    log,
    metrics,
    isLeader: () => (s.leaderElect ? (elector?.isLeader ?? false) : true),
    // A leader that stalled past its renew deadline writes nothing, even before its deadline
    // timer has run (a resumed process runs overdue timers and I/O in no order we control).
    holdsLeadership: () => (s.leaderElect ? (elector?.holdsLease() ?? false) : true),
    leaderTerm: () => elector?.term,
  });
  metrics.bindCluster({ cache: operator.cache, agentLeaseNamespace: operator.config.agentLeaseNamespace });
  let started = false;
  const readiness: Check[] = [
    {
      name: "informers",
      run: () => {
        if (operator.ready) return undefined;
        const waiting = operator.cache
          .all()
          .filter((i) => !i.synced)
          .map((i) => i.name);
        return `caches not synced: ${waiting.join(", ")}`;
      },
    },
    { name: "operator", run: () => (started ? undefined : "starting") },
    {
      name: "leader-election",
      run: () =>
        elector?.isLeader && !elector.holdsLease()
          ? `leading but the lease was not renewed for ${Date.now() - elector.lastRenew} ms`
          : undefined,
    },
  ];
  // Readiness means progress: the leader's allocation cycles must keep completing.
  const progress = cycleProgress({
    cycles: () => operator.loop.cycles,
    leading: () => operator.isLeading,
    boundMs: cycleStallBoundMs(operator.config.allocationIntervalMs),
  });
  readiness.push(progress);
  setInterval(() => progress.sample(), 1000).unref();
  const http = await startHttpServer({
    port: s.httpPort,
    host: s.httpHost,
    registry: metrics.registry,
    readiness,
    onError: (err) => log.warn({ err: String(err) }, "metrics collection failed"),
  });
  log.info(
    {
      instance: s.identity,
      http: http.url,
      pool: s.operator.pool,
      leaderElection: s.leaderElect ? `${s.leaseNamespace}/${s.leaseName}` : "disabled",
    },
    "controller starting",
  );

  let mesosApi: MesosApi | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: stop acting, finish in-flight work, release the lease");
    const hard = setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, 25_000);
    hard.unref();
    operator.stopLeading();
    await mesosApi?.close().catch((err: unknown) => log.warn({ err: String(err) }, "Mesos API stop failed"));
    await operator.stop().catch((err: unknown) => log.warn({ err: String(err) }, "operator stop failed"));
    await elector?.stop(true);
    await http.close();
    log.info("stopped");
    process.exit(0);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void shutdown(sig));

  try {
    await operator.start();
  } catch (err) {
    log.fatal({ err: String(err) }, "could not start (caches did not sync); exiting");
    process.exit(1);
  }
  if (stopping) return;
  started = true;
  log.info("caches synced");
  mesosApi = await startMesosFromConfig(s.mesos, { kubeConfig: kc, pool: s.operator.pool, log });
  if (mesosApi) log.info({ url: mesosApi.url }, "Mesos v1 scheduler API serving");
  if (!s.leaderElect) return; // Operator.start() began leading: isLeader() is true.
  elector = new LeaderElector(kc, {
    namespace: s.leaseNamespace,
    name: s.leaseName,
    identity: s.identity,
    leaseDurationMs: s.leaseDurationMs,
    renewDeadlineMs: s.renewDeadlineMs,
    retryPeriodMs: s.retryPeriodMs,
    log,
    onStartedLeading: () => {
      metrics.leaderTransitions.inc();
      operator.startLeading();
    },
    onStoppedLeading: (why) => {
      metrics.leaderTransitions.inc();
      operator.stopLeading();
      if (why === "lost" && !stopping) {
        // As controller-runtime does: a replica that lost its lease exits, so nothing it still
        // has in flight can act alongside the new leader; its restart rejoins as a standby.
        log.error("leadership lost; exiting so a fresh process rejoins as a standby");
        setImmediate(() => process.exit(1));
      }
    },
    onNewLeader: (id) => {
      if (id !== s.identity) log.info({ leader: id }, "observed a new leader");
    },
  });
  elector.start();
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `kube-offers controller failed: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  });
}
