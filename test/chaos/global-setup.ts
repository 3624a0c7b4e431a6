// The chaos project's own control plane. It restarts the API server, which would break every
// other test file sharing the e2e one, so it has its own; and since vitest runs every project's
// global setup before any test, this one only opens a loopback control endpoint and starts the
// control plane when the chaos test asks for it — so it runs only while the chaos project does,
// after e2e (sequence.groupOrder), not beside it. Tests in the workers reach it over HTTP:
//   POST /start               → {kubeconfig, server, stateDir, binDir} (started once)
//   POST /restart-apiserver   → kills kube-apiserver (as a crash) and starts it again
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { ControlPlane } from "../../src/local/controlplane.ts";
import { installCrds } from "../../src/local/crds.ts";

declare module "vitest" {
  export interface ProvidedContext {
    chaosControl: string;
  }
}

export interface ChaosControlPlane {
  kubeconfig: string;
  server: string;
  stateDir: string;
  binDir: string;
}

let cp: ControlPlane | undefined;
let starting: Promise<ControlPlane> | undefined;
let server: Server | undefined;

async function ensureStarted(): Promise<ControlPlane> {
  starting ??= (async () => {
    const c = await ControlPlane.start({});
    cp = c;
    await installCrds(c.kubeConfig());
    return c;
  })();
  return starting;
}

export async function setup(project: TestProject): Promise<void> {
  server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      try {
        if (req.method === "POST" && req.url === "/start") {
          const c = await ensureStarted();
          reply(200, {
            kubeconfig: c.kubeconfigPath,
            server: c.server,
            stateDir: c.dir,
            binDir: c.bins.dir,
          } satisfies ChaosControlPlane);
        } else if (req.method === "POST" && req.url?.startsWith("/restart-apiserver")) {
          if (!cp) return reply(409, { error: "the control plane is not started" });
          const downMs = Number(new URL(req.url, "http://x").searchParams.get("downMs") ?? 0);
          const t0 = Date.now();
          await cp.restartApiserver(downMs);
          reply(200, { tookMs: Date.now() - t0 });
        } else reply(404, { error: `no ${req.method} ${req.url}` });
      } catch (err) {
        reply(500, { error: String(err) });
      }
    })();
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  project.provide("chaosControl", `http://127.0.0.1:${port}`);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      void teardown().finally(() => process.exit(130));
    });
  }
}

/** The suite's lease namespaces start so; a replica's command line names one. */
export const CHAOS_LEASE_PREFIX = "chaos-sys-";
/** Under the control plane's state dir: the pids of the operator replicas the suite started. */
export const REPLICA_PID_FILE = "chaos-replicas.pids";

/** Ends replicas a dead test worker left running: only pids listed by the suite that still run the controller. */
function endLeftReplicas(dir: string): void {
  let pids: number[] = [];
  try {
    pids = readFileSync(join(dir, REPLICA_PID_FILE), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmd.includes("src/controller/main.ts") || !cmd.includes(CHAOS_LEASE_PREFIX)) continue;
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export async function teardown(): Promise<void> {
  server?.close();
  await starting?.catch(() => undefined);
  if (cp) endLeftReplicas(cp.dir);
  await cp?.stop();
  cp = undefined;
}
