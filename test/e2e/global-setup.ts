// Starts one real control plane for the whole e2e run and stops it afterwards (also when
// tests fail or the run is interrupted: the harness kills its processes by PID). Where the
// machine can run containers it also starts one real node (containerd + kubelet + kube-proxy)
// with the images built here, and kube-scheduler for the chart's Pods; the real node is tainted
// so that only Pods which ask for it land there.
import type { TestProject } from "vitest/node";
import { ControlPlane } from "../../src/local/controlplane.ts";
import { installCrds } from "../../src/local/crds.ts";
import { buildImages } from "../../src/local/images.ts";
import { RealNodes, realNodeSupport } from "../../src/local/real-node.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    server: string;
    stateDir: string;
    binDir: string;
    /** The real node's name, or "" when this machine cannot run one (see realNodeMissing). */
    realNode: string;
    /** Why there is no real node ("" when there is one). */
    realNodeMissing: string;
  }
}

let cp: ControlPlane | undefined;
let nodes: RealNodes | undefined;

/** A node name as long as managed clouds make them (EKS: ip-…​.<region>.compute.internal). */
export const REAL_NODE_NAME = "ip-10-100-201-17.ap-southeast-2.compute.internal";

export async function setup(project: TestProject): Promise<void> {
  const support = realNodeSupport();
  const real = support.ok && process.env.KUBE_OFFERS_REAL_NODES !== "0";
  cp = await ControlPlane.start({ scheduler: real, nodeNetwork: real });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      void (async () => {
        await nodes?.stop();
        await cp?.stop();
      })().finally(() => process.exit(130));
    });
  }
  await installCrds(cp.kubeConfig());
  project.provide("kubeconfig", cp.kubeconfigPath);
  project.provide("server", cp.server);
  project.provide("stateDir", cp.dir);
  project.provide("binDir", cp.bins.dir);
  project.provide("realNode", "");
  project.provide(
    "realNodeMissing",
    real ? "" : support.missing.join("; ") || "disabled by KUBE_OFFERS_REAL_NODES=0",
  );
  if (!real) return;
  try {
    const [images, started] = await Promise.allSettled([
      buildImages(),
      RealNodes.start(cp, cp.nodeNetwork, [{ name: REAL_NODE_NAME }]),
    ]);
    if (started.status === "fulfilled") nodes = started.value;
    if (images.status === "rejected") throw images.reason;
    if (started.status === "rejected") throw started.reason;
    nodes?.importImages(images.value.map((i) => i.tarPath));
  } catch (err) {
    // vitest does not call teardown when setup throws.
    await teardown();
    throw err;
  }
  project.provide("realNode", REAL_NODE_NAME);
}

export async function teardown(): Promise<void> {
  await nodes?.stop();
  await cp?.stop();
}
