// Shared e2e helpers: the control plane's admin client, a namespace per test, and waits on
// observed progress — a polled state, the operator's allocation cycles, a Lease's renewals, or
// a time that an object names.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { CoordinationV1Api, CoreV1Api, KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { inject } from "vitest";
import { PREFIX } from "../../src/controller/metrics.ts";
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

/**
 * Where to read how many allocation cycles an operator has completed: an in-process Operator
 * (its loop's counter), or the /metrics URL of one running in its own process.
 */
export type CycleSource = { loop: { cycles: number } } | string;

/** The counter /metrics exposes (controller/metrics.ts); it advances only on the leader. */
const CYCLES_METRIC = `${PREFIX}allocation_cycles_total`;

/** How many allocation cycles `source` has completed so far. */
export async function cyclesOf(source: CycleSource): Promise<number> {
  if (typeof source !== "string") return source.loop.cycles;
  const res = await fetch(source, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${source}: HTTP ${res.status}`);
  const line = (await res.text()).split("\n").find((l) => l.startsWith(`${CYCLES_METRIC} `));
  const value = Number(line?.slice(CYCLES_METRIC.length + 1));
  if (line === undefined || !Number.isFinite(value)) throw new Error(`${source} has no ${CYCLES_METRIC}`);
  return value;
}

/**
 * Resolves (with the new count) once the operator completed `n` more allocation cycles than when
 * called; fails after `timeoutMs`, saying how many ran. For "the operator decided again and still
 * did not do X": the first of the n may have begun before the call, on a cache that had not yet
 * seen the last change, so a negative check wants n ≥ 3.
 */
export async function afterCycles(
  source: CycleSource | undefined,
  n: number,
  timeoutMs = 30_000,
): Promise<number> {
  if (source === undefined) throw new Error("afterCycles: no operator is running to count cycles of");
  if (!(Number.isInteger(n) && n >= 1))
    throw new Error(`afterCycles: n must be a whole number ≥ 1, got ${n}`);
  const what = typeof source === "string" ? source : "the in-process operator";
  const deadline = Date.now() + timeoutMs;
  let from: number | undefined;
  let now: number | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      now = await cyclesOf(source);
      from ??= now;
      if (now >= from + n) return now;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const ran =
    from === undefined
      ? "the counter could not be read"
      : `${(now ?? from) - from} completed (${from} → ${now})`;
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${n} allocation cycles of ${what}: ${ran}${lastErr ? `; last error: ${String(lastErr)}` : ""}`,
  );
}

/**
 * Resolves (with the Lease) once the Lease's spec.renewTime has changed `n` times: its holder
 * renewed it, as seen on the API server. Fails after `timeoutMs`, naming the Lease.
 */
export async function leaseRenewals(
  kc: KubeConfig,
  namespace: string,
  name: string,
  n: number,
  timeoutMs = 30_000,
): Promise<V1Lease> {
  const coord = kc.makeApiClient(CoordinationV1Api);
  const read = () => coord.readNamespacedLease({ name, namespace });
  const renewedAt = (l: V1Lease) => new Date(l.spec?.renewTime ?? 0).getTime();
  let last = renewedAt(await read());
  let seen = 0;
  return waitFor(
    `${n} renewal(s) of Lease ${namespace}/${name}`,
    async () => {
      const lease = await read();
      const at = renewedAt(lease);
      if (at !== last) {
        seen++;
        last = at;
      }
      return seen >= n ? lease : undefined;
    },
    timeoutMs,
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (${seen} seen)`);
  });
}

/**
 * Waits until wall-clock time `atMs`. Only for a condition that is a time, named by an object (a
 * lease lapsing, a grace period or a filter ending), not a state that could be polled instead.
 * A time further than `maxMs` away is refused, so a wrong figure fails instead of stalling.
 */
export async function waitUntil(what: string, atMs: number, maxMs = 120_000): Promise<void> {
  const ms = atMs - Date.now();
  if (!Number.isFinite(ms)) throw new Error(`waitUntil ${what}: not a time (${atMs})`);
  if (ms > maxMs) throw new Error(`waitUntil ${what}: ${ms} ms away, more than the ${maxMs} ms allowed`);
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs `check` (it throws, e.g. an expect, when what must hold does not) every `intervalMs` until
 * the wall-clock time `untilMs` has passed and, if `cycles` is given, the operator also completed
 * that many more allocation cycles, so it was deciding all along; resolves how many looks it took.
 * For "nothing of X may go for this long", where the objects (lease durations, timeouts) name
 * how long.
 */
export async function holdsUntil(
  check: () => Promise<void>,
  untilMs: number,
  opts: { cycles?: { source: CycleSource | undefined; n: number }; intervalMs?: number; maxMs?: number } = {},
): Promise<number> {
  const { cycles, intervalMs = 500, maxMs = 120_000 } = opts;
  if (untilMs - Date.now() > maxMs)
    throw new Error(`holdsUntil: ${untilMs - Date.now()} ms away, more than ${maxMs}`);
  if (cycles && cycles.source === undefined)
    throw new Error("holdsUntil: no operator is running to count cycles of");
  const source = cycles?.source;
  const from = source === undefined ? 0 : await cyclesOf(source);
  const enoughCycles = async () => !cycles || !source || (await cyclesOf(source)) >= from + cycles.n;
  const giveUp = untilMs + 30_000;
  let looks = 0;
  for (;;) {
    await check();
    looks++;
    if (Date.now() >= untilMs && (await enoughCycles())) return looks;
    if (Date.now() >= giveUp)
      throw new Error(
        `holdsUntil: the operator did not complete ${cycles?.n} cycles within 30 s of the window's end`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
