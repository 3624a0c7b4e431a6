// Locates the control-plane binaries, building them (once per machine, cached outside the
// repo) with hack/controlplane/build.sh. Progress from the build goes to stderr.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface Binaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubelet: string;
  kubeProxy: string;
  kubectl: string;
  helm: string;
}

function at(dir: string): Binaries {
  return {
    dir,
    etcd: join(dir, "etcd"),
    kubeApiserver: join(dir, "kube-apiserver"),
    kubeControllerManager: join(dir, "kube-controller-manager"),
    kubeScheduler: join(dir, "kube-scheduler"),
    kubelet: join(dir, "kubelet"),
    kubeProxy: join(dir, "kube-proxy"),
    kubectl: join(dir, "kubectl"),
    helm: join(dir, "helm"),
  };
}

let cached: Promise<Binaries> | undefined;

/** Runs the (idempotent, cache-aware) build script and returns where the binaries are. */
export function ensureBinaries(): Promise<Binaries> {
  const override = process.env.KUBE_OFFERS_BIN_DIR;
  if (override) return Promise.resolve(at(override));
  cached ??= new Promise((resolvePromise, reject) => {
    const child = spawn("bash", [join(repoRoot, "hack/controlplane/build.sh")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const dir = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !existsSync(join(dir, "kube-apiserver"))) {
        reject(new Error(`control-plane build failed (exit ${code}); see the build output above`));
      } else {
        resolvePromise(at(dir));
      }
    });
  });
  return cached;
}
