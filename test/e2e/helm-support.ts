// Helpers for the production e2e tests (helm, rbac, tenancy, ha, metrics): the helm binary,
// ServiceAccount token identities, and the controller and agent run as real processes
// (node src/controller/main.ts, node src/agent/main.ts: the sources the image's bundles are built
// from) — there is no container runtime here, so the chart's Pods never run; their processes run
// locally under the chart's identities. The bundles run in real-cluster.test.ts, on a real node.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  AuthenticationV1TokenRequest,
  CoreV1Api,
  type KubeConfig,
  type V1Container,
  type V1Pod,
} from "@kubernetes/client-node";
import { inject } from "vitest";
import { repoRoot } from "../../src/local/binaries.ts";
import { writeIdentity } from "../../src/local/kubeconfig.ts";
import { adminKubeConfig, waitFor as waitForShort } from "./support.ts";

export const CHART = join(repoRoot, "deploy/helm/kube-offers");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm against the shared control plane; never rejects (tests look at code and stderr). */
export function helm(args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      join(inject("binDir"), "helm"),
      [...args, "--kubeconfig", inject("kubeconfig")],
      {
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...process.env,
          HELM_CACHE_HOME: helmHome("cache"),
          HELM_CONFIG_HOME: helmHome("config"),
          HELM_DATA_HOME: helmHome("data"),
        },
      },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number) || 1 : 0;
        // The chart links config/crd (files/crds); helm notes every symbolic link it follows.
        const quiet = stderr
          .split("\n")
          .filter((l) => !/found symbolic link in path/.test(l))
          .join("\n");
        resolve({ code: typeof code === "number" ? code : 1, stdout, stderr: quiet });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

function helmHome(kind: string): string {
  const dir = join(inject("stateDir"), "helm", kind);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * waitFor with a 60 s default: other test files restart etcd and the API server on the shared
 * control plane, and informers then back off for up to ~30 s before they relist.
 */
export function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false | null>,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  return waitForShort(what, fn, timeoutMs, intervalMs);
}

/** helm that must succeed: resolves stdout. */
export async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Writes a kubeconfig for a ServiceAccount token from the TokenRequest API, optionally bound to a Pod. */
export async function serviceAccountKubeconfig(
  namespace: string,
  serviceAccount: string,
  boundPod?: V1Pod,
): Promise<{ path: string; kc: KubeConfig; user: string }> {
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const body = new AuthenticationV1TokenRequest();
  body.spec = {
    audiences: [],
    expirationSeconds: 3600,
    ...(boundPod
      ? {
          boundObjectRef: {
            apiVersion: "v1",
            kind: "Pod",
            name: boundPod.metadata?.name ?? "",
            uid: boundPod.metadata?.uid ?? "",
          },
        }
      : {}),
  };
  const tr = await core.createNamespacedServiceAccountToken({ name: serviceAccount, namespace, body });
  const token = tr.status?.token;
  if (!token) throw new Error(`no token for ${namespace}/${serviceAccount}`);
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  const cluster = admin.getCurrentCluster();
  const path = join(
    inject("stateDir"),
    `sa-${namespace}-${serviceAccount}-${boundPod?.metadata?.name ?? "plain"}-${Date.now()}.kubeconfig`,
  );
  const { kubeConfig: kc } = writeIdentity(
    path,
    cluster?.server ?? "",
    Buffer.from(cluster?.caData ?? "", "base64").toString(),
    user,
    { token },
  );
  return { path, kc, user };
}

/** Environment of a container as a Pod would see it: values and the downward API's fieldRefs. */
export function containerEnv(
  c: V1Container,
  pod: { name: string; namespace: string; nodeName?: string },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value;
    const f = e.valueFrom?.fieldRef?.fieldPath;
    if (f === "metadata.name") out[e.name] = pod.name;
    else if (f === "metadata.namespace") out[e.name] = pod.namespace;
    else if (f === "spec.nodeName") out[e.name] = pod.nodeName ?? "";
  }
  return out;
}

interface LogLine {
  msg?: string;
  level?: number;
  http?: string;
  [k: string]: unknown;
}

/** A controller or agent process (node <entry>), its JSON log lines, and a way to kill it. */
export class NodeProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly logFile: string;
  readonly lines: LogLine[] = [];
  exited: { code: number | null; signal: string | null } | undefined;
  private readonly exitWaiters: (() => void)[] = [];

  constructor(name: string, entry: string, args: string[], env: Record<string, string>) {
    this.name = name;
    const dir = join(inject("stateDir"), "logs");
    mkdirSync(dir, { recursive: true });
    this.logFile = join(dir, `${name}-${Date.now()}.log`);
    const log = createWriteStream(this.logFile);
    this.child = spawn(process.execPath, [join(repoRoot, entry), ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buf = "";
    this.child.stdout?.on("data", (d: Buffer) => {
      log.write(d);
      buf += d.toString();
      let i = buf.indexOf("\n");
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: line });
        }
        i = buf.indexOf("\n");
      }
    });
    this.child.stderr?.on("data", (d: Buffer) => log.write(d));
    this.child.on("exit", (code, signal) => {
      this.exited = { code, signal };
      log.end();
      for (const w of this.exitWaiters.splice(0)) w();
    });
  }

  static controller(name: string, env: Record<string, string>, args: string[] = []): NodeProcess {
    return new NodeProcess(
      name,
      "src/controller/main.ts",
      ["--http-port", "0", "--http-host", "127.0.0.1", ...args],
      {
        LOG_LEVEL: "info",
        ...env,
      },
    );
  }

  static agent(name: string, env: Record<string, string>): NodeProcess {
    return new NodeProcess(name, "src/agent/main.ts", [], env);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The first log line whose msg matches, once it appears. */
  async waitLog(re: RegExp, timeoutMs = 30_000): Promise<LogLine> {
    return waitFor(
      `${this.name} to log ${re}`,
      async () => {
        if (this.exited)
          throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}); log: ${this.logFile}`);
        return this.lines.find((l) => re.test(l.msg ?? ""));
      },
      timeoutMs,
      50,
    );
  }

  /** The controller's HTTP base URL (it listens on a free port and logs it). */
  async url(): Promise<string> {
    const l = await this.waitLog(/controller starting/);
    return String(l.http);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (!this.exited && this.child.pid) process.kill(this.child.pid, signal);
  }

  waitExit(timeoutMs = 30_000): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`${this.name} did not exit in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.exitWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.kill("SIGTERM");
    await this.waitExit(30_000).catch(() => this.kill("SIGKILL"));
  }

  tail(n = 20): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-n).join("\n");
    } catch {
      return "";
    }
  }
}

/** GET a URL; resolves status and body (never throws on HTTP errors). */
export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/** Parses Prometheus text format into sample lines: name, labels, value. */
export function parseMetrics(
  text: string,
): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] ?? ""] = l[2] ?? "";
    out.push({ name: m[1] ?? "", labels, value: Number(m[4]) });
  }
  return out;
}
