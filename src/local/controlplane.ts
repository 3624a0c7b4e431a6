// A real local Kubernetes control plane: etcd, kube-apiserver (RBAC, TLS, service-account
// keys) and kube-controller-manager (garbage collection, namespaces, service accounts and
// tokens), optionally kube-scheduler, on free loopback ports. Nothing here fakes the API.

import { EventEmitter } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthenticationV1TokenRequest, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { type Binaries, ensureBinaries } from "./binaries.ts";
import { createPki, mintClientCert, type Pki } from "./certs.ts";
import { certCredentials, type Identity, mintIdentity, writeIdentity } from "./kubeconfig.ts";
import { NodeNetwork, reapNodeNetworks } from "./node-network.ts";
import { reapRealNodes } from "./node-teardown.ts";
import { freePort } from "./ports.ts";
import { ProcessGroup, REGISTRY_DIR, reapOrphans } from "./processes.ts";

export interface ControlPlaneOptions {
  /** State directory (certs, etcd data, logs, kubeconfigs). Default: a fresh temp dir, removed on stop. */
  dir?: string;
  /** Run kube-controller-manager (GC, namespace deletion, service accounts). Default true. */
  controllerManager?: boolean;
  /** Run kube-scheduler (only needed for Pods without spec.nodeName). Default false. */
  scheduler?: boolean;
  /**
   * Make the network real nodes join (src/local/real-node.ts): a bridge the API server is
   * reachable on, and advertised at, so that kubelets and in-cluster Pods can talk to it.
   */
  nodeNetwork?: boolean;
  /** Serve /debug/pprof on the API server (benchmarks profile it). Default false. */
  profiling?: boolean;
  log?: (msg: string) => void;
}

export interface Readiness {
  ready: boolean;
  /** Names of failing /readyz checks, e.g. "etcd". */
  failing: string[];
  error?: string;
}

const registryDir = REGISTRY_DIR;

/**
 * Ends and removes what runs that died uncleanly (SIGKILL) left, as their registry files in
 * `dir` record it: real nodes first (their containers, shims, mounts, cgroups and directories,
 * before a dead owner's state directory goes), then processes, then node networks.
 */
export function reapDeadRuns(dir: string = registryDir): string[] {
  return [...reapRealNodes(dir), ...reapOrphans(dir), ...reapNodeNetworks(dir)];
}

export class ControlPlane extends EventEmitter {
  readonly processes: ProcessGroup;
  server = "";
  kubeconfigPath = "";
  private etcdArgs: string[] = [];
  private apiserverArgs: string[] = [];
  private ownsDir: boolean;
  private identities = 0;
  /** The real nodes' network, when started with nodeNetwork. */
  readonly nodeNetwork: NodeNetwork | undefined;

  readonly dir: string;
  readonly bins: Binaries;
  readonly pki: Pki;
  private readonly log: (msg: string) => void;

  private constructor(
    dir: string,
    bins: Binaries,
    pki: Pki,
    ownsDir: boolean,
    log: (msg: string) => void,
    nodeNetwork: NodeNetwork | undefined,
  ) {
    super();
    this.nodeNetwork = nodeNetwork;
    this.dir = dir;
    this.bins = bins;
    this.pki = pki;
    this.log = log;
    this.ownsDir = ownsDir;
    this.processes = new ProcessGroup(join(dir, "logs"), registryDir);
    if (ownsDir) this.processes.ownsDirectory(dir);
    // An exit we did not ask for is reported, never swallowed.
    this.processes.on("exit", (name: string, code: number | null, signal: string | null) => {
      this.log(
        `${name} exited unexpectedly (code ${code}, signal ${signal}); log: ${join(dir, "logs", name)}.log`,
      );
      this.emit("process-exit", { name, code, signal });
    });
  }

  static async start(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const log = opts.log ?? ((m: string) => process.stderr.write(`[controlplane] ${m}\n`));
    const reaped = reapDeadRuns(registryDir);
    if (reaped.length) log(`reaped what a dead run left: ${reaped.join(", ")}`);
    const bins = await ensureBinaries();
    const ownsDir = !opts.dir;
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "kube-offers-cp-"));
    mkdirSync(join(dir, "pki"), { recursive: true });
    const net = opts.nodeNetwork ? NodeNetwork.create(registryDir) : undefined;
    let pki: Pki;
    try {
      pki = createPki(join(dir, "pki"), net ? [net.hostIp] : []);
    } catch (err) {
      net?.destroy();
      throw err;
    }
    const cp = new ControlPlane(dir, bins, pki, ownsDir, log, net);
    try {
      await cp.boot(opts);
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  private async boot(opts: ControlPlaneOptions): Promise<void> {
    const t0 = Date.now();
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    this.etcdArgs = [
      "--name=local",
      `--data-dir=${join(this.dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=local=${peerUrl}`,
      "--unsafe-no-fsync=true",
      "--quota-backend-bytes=8589934592",
      "--log-level=warn",
    ];
    this.startEtcd();
    await waitHttp(`${etcdUrl}/health`, 30_000, "etcd");

    this.server = `https://127.0.0.1:${apiPort}`;
    // Kubelets authenticate the API server's calls (logs, exec, port-forward) by this cert.
    const kubeletClient = mintClientCert(this.pki, "kube-apiserver-kubelet-client", ["system:masters"]);
    writeFileSync(join(this.pki.dir, "kubelet-client.crt"), kubeletClient.certPem);
    writeFileSync(join(this.pki.dir, "kubelet-client.key"), kubeletClient.keyPem);
    this.nodeNetwork?.exposeApiserver(apiPort);
    this.apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      // The `kubernetes` Service's endpoint: where in-cluster Pods reach this API server.
      `--advertise-address=${this.nodeNetwork?.hostIp ?? "127.0.0.1"}`,
      `--kubelet-client-certificate=${join(this.pki.dir, "kubelet-client.crt")}`,
      `--kubelet-client-key=${join(this.pki.dir, "kubelet-client.key")}`,
      // Node names need not resolve (they don't here, nor on many clouds): dial the address.
      "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(this.dir, "pki")}`,
      `--tls-cert-file=${this.pki.servingCert}`,
      `--tls-private-key-file=${this.pki.servingKey}`,
      `--client-ca-file=${this.pki.caCert}`,
      "--authorization-mode=Node,RBAC",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${this.pki.saPublicKey}`,
      `--service-account-signing-key-file=${this.pki.saPrivateKey}`,
      `--profiling=${opts.profiling === true}`,
      "--v=1",
    ];
    this.processes.spawn("kube-apiserver", this.bins.kubeApiserver, this.apiserverArgs);
    const admin = mintClientCert(this.pki, "kube-offers-admin", ["system:masters"]);
    this.kubeconfigPath = join(this.dir, "admin.kubeconfig");
    writeIdentity(
      this.kubeconfigPath,
      this.server,
      readFileSync(this.pki.caCert, "utf8"),
      "admin",
      certCredentials(admin.certPem, admin.keyPem),
    );
    await this.waitReady(60_000);
    this.log(`kube-apiserver ready at ${this.server} in ${Date.now() - t0} ms`);

    if (opts.controllerManager ?? true) {
      this.processes.spawn("kube-controller-manager", this.bins.kubeControllerManager, [
        `--kubeconfig=${this.kubeconfigPath}`,
        `--authentication-kubeconfig=${this.kubeconfigPath}`,
        `--authorization-kubeconfig=${this.kubeconfigPath}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${kcmPort}`,
        `--service-account-private-key-file=${this.pki.saPrivateKey}`,
        `--root-ca-file=${this.pki.caCert}`,
        // Simulated nodes report their own health; the node lifecycle controller would evict
        // on its own schedule and make fault tests nondeterministic.
        "--controllers=*,-node-lifecycle-controller,-cloud-node-lifecycle-controller,-node-ipam-controller,-node-route-controller,-service-lb-controller",
        "--use-service-account-credentials=false",
        "--v=1",
      ]);
    }
    if (opts.scheduler) {
      this.processes.spawn("kube-scheduler", this.bins.kubeScheduler, [
        `--kubeconfig=${this.kubeconfigPath}`,
        `--authentication-kubeconfig=${this.kubeconfigPath}`,
        `--authorization-kubeconfig=${this.kubeconfigPath}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${schedPort}`,
      ]);
    }
  }

  private startEtcd(): void {
    this.processes.spawn("etcd", this.bins.etcd, this.etcdArgs);
  }

  /** Restarts etcd on the same data dir and ports (after a fault-injection kill). */
  /** Kills kube-apiserver (SIGKILL, as a crash) and starts it again on the same port. */
  async restartApiserver(downMs = 0): Promise<void> {
    this.processes.kill("kube-apiserver");
    await this.processes.processes.get("kube-apiserver")?.exited;
    if (downMs) await sleep(downMs);
    this.processes.spawn("kube-apiserver", this.bins.kubeApiserver, this.apiserverArgs);
    await this.waitReady(60_000);
  }

  async restartEtcd(): Promise<void> {
    await this.processes.stop("etcd");
    this.startEtcd();
    await this.waitReady(60_000);
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** A restricted identity (client certificate): RBAC applies to `user` and `groups`. */
  mintUser(user: string, groups: string[] = []): Identity {
    return mintIdentity(this.dir, this.server, user, groups);
  }

  /** An identity for a ServiceAccount, with a real token from the TokenRequest API. */
  async serviceAccountIdentity(namespace: string, name: string, expirationSeconds = 3600): Promise<Identity> {
    const core = this.kubeConfig().makeApiClient(CoreV1Api);
    const body = new AuthenticationV1TokenRequest();
    body.spec = { audiences: [], expirationSeconds };
    const tr = await core.createNamespacedServiceAccountToken({ name, namespace, body });
    const token = tr.status?.token;
    if (!token) throw new Error(`no token issued for serviceaccount ${namespace}/${name}`);
    const user = `system:serviceaccount:${namespace}:${name}`;
    const kubeconfigPath = join(this.dir, `sa-${++this.identities}.kubeconfig`);
    return writeIdentity(kubeconfigPath, this.server, readFileSync(this.pki.caCert, "utf8"), user, { token });
  }

  /** GET /readyz?verbose and report which checks fail. */
  readyz(): Promise<Readiness> {
    return new Promise((resolve) => {
      const kc = this.kubeConfig();
      const user = kc.getCurrentUser();
      const cluster = kc.getCurrentCluster();
      const req = request(
        `${this.server}/readyz?verbose`,
        {
          ca: Buffer.from(cluster?.caData ?? "", "base64"),
          cert: Buffer.from(user?.certData ?? "", "base64"),
          key: Buffer.from(user?.keyData ?? "", "base64"),
          timeout: 5000,
        },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => {
            body += d.toString();
          });
          res.on("end", () => {
            const failing = [...body.matchAll(/^\[-\]([^\s]+) failed/gm)].map((m) => m[1] ?? "");
            resolve({ ready: res.statusCode === 200, failing });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (err) => resolve({ ready: false, failing: [], error: err.message }));
      req.end();
    });
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: Readiness = { ready: false, failing: [] };
    while (Date.now() < deadline) {
      last = await this.readyz();
      if (last.ready) return;
      const api = this.processes.processes.get("kube-apiserver");
      if (api && !api.running) throw new Error(`kube-apiserver exited; see ${api.logFile}`);
      await sleep(200);
    }
    throw new Error(
      `kube-apiserver not ready after ${timeoutMs} ms: ${last.error ?? last.failing.join(", ")}`,
    );
  }

  async stop(): Promise<void> {
    await this.processes.stopAll();
    this.nodeNetwork?.destroy();
    if (this.ownsDir && !process.env.KUBE_OFFERS_KEEP_STATE)
      rmSync(this.dir, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitHttp(url: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      lastErr = `HTTP ${res.status}`;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${what} not healthy at ${url} after ${timeoutMs} ms: ${lastErr}`);
}
