// Starts one real control plane for the whole e2e run and stops it afterwards (also when
// tests fail or the run is interrupted: the harness kills its processes by PID).
import type { TestProject } from "vitest/node";
import { installCrds } from "../../src/kube/crds.ts";
import { ControlPlane } from "../../src/local/controlplane.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    server: string;
    stateDir: string;
    binDir: string;
  }
}

let cp: ControlPlane | undefined;

export async function setup(project: TestProject): Promise<void> {
  cp = await ControlPlane.start({ scheduler: false });
  await installCrds(cp.kubeConfig());
  project.provide("kubeconfig", cp.kubeconfigPath);
  project.provide("server", cp.server);
  project.provide("stateDir", cp.dir);
  project.provide("binDir", cp.bins.dir);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      void cp?.stop().finally(() => process.exit(130));
    });
  }
}

export async function teardown(): Promise<void> {
  await cp?.stop();
}
