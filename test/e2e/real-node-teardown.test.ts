// The real-node harness leaves nothing behind: not after RealNodes.stop(), not when the node's
// containerd and kubelet were SIGKILLed first, not when the process that owned the node was
// SIGKILLed (then the next run's reapers remove it all). Each case starts an extra real node on
// the shared control plane, on a node network of its own, runs a Pod on it that makes every kind
// of trace (containers and their shim, a hostPort's portmap rules in the node's namespace, an
// in-memory emptyDir and a projected ServiceAccount token, the Pod's network namespace), records
// each of those traces by identity (PID and start time, mount point, namespace inode, path)
// while it runs, and asserts afterwards that every one is gone: processes, mounts, cgroups,
// network namespaces, links, iptables rules, host files and the Node object.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEFAULT_TASK_IMAGE } from "../../src/crds/contract.ts";
import { isNotFound } from "../../src/kube/errors.ts";
import { reapDeadRuns } from "../../src/local/controlplane.ts";
import { buildImages } from "../../src/local/images.ts";
import { leftovers, NodeNetwork, run } from "../../src/local/node-network.ts";
import { nodeLeftovers } from "../../src/local/node-teardown.ts";
import { nodeTraces, remainingTraces, type Trace } from "../../src/local/node-traces.ts";
import { REGISTRY_DIR } from "../../src/local/processes.ts";
import { REAL_NODE_TAINT, type RealNode, RealNodes, realNodeHost } from "../../src/local/real-node.ts";
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from "./support.ts";

const missing = inject("realNodeMissing");
// In CI this machine kind runs containers: a missing piece there is a failure, not a skip.
if (!inject("realNode") && process.env.CI) throw new Error(`CI machine cannot run a real node: ${missing}`);

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const stateDir = inject("stateDir");
const server = inject("server");
const binDir = inject("binDir");
const apiPort = Number(new URL(server).port);
const host = realNodeHost({ stateDir, server, binDir, kubeconfig: inject("kubeconfig") });
const HOST_PORT = 31080;
const log = (m: string) => process.stderr.write(`[real-node-teardown] ${m}\n`);

let ns = "";
let tars: string[] = [];
/** Whatever a failing case did not clean up itself. */
const cleanups: (() => Promise<void> | void)[] = [];

/** A node name as a managed cloud makes them (EKS). */
function cloudName(): string {
  const [a = 0, b = 0, c = 0] = randomBytes(3);
  return `ip-10-${a}-${b}-${c}.eu-central-1.compute.internal`;
}

describe.skipIf(missing !== "")(`real-node teardown (${missing || "real nodes"})`, () => {
  beforeAll(async () => {
    ns = await createNamespace(admin, "teardown");
    tars = (await buildImages({ only: ["busybox", "pause"] })).map((i) => i.tarPath);
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((e: unknown) => log(String(e)));
    if (ns) await deleteNamespace(admin, ns);
  });

  it("stop() removes every trace of a node and its Pod", async () => {
    const { net, nodes, node } = await startNode();
    const traces = await runPodAndTrace(node, net);
    await nodes.stop();
    await expectNodeGone(node, net, traces);
    net.destroy();
    expect(leftovers(net.id, net.hostIp)).toEqual([]);
  });

  it("stop() after containerd and the kubelet were SIGKILLed still removes everything", async () => {
    const { net, nodes, node } = await startNode();
    const traces = await runPodAndTrace(node, net);
    for (const name of [`containerd-${net.id}-n0`, `kubelet-${net.id}-n0`]) {
      const p = nodes.processes.processes.get(name);
      expect(p?.running, name).toBe(true);
      process.kill(p?.pid ?? 0, "SIGKILL");
      expect((await p?.exited)?.signal).toBe("SIGKILL");
    }
    // Their containers and shims run on without them, as after a crash.
    const running = traces.filter((t) => /^(shim|container process)/.test(t.what));
    expect(remainingTraces(running)).toEqual(running);
    await nodes.stop();
    await expectNodeGone(node, net, traces);
    net.destroy();
    expect(leftovers(net.id, net.hostIp)).toEqual([]);
  });

  it("when the node's owner is SIGKILLed, the next run's reapers remove everything", async () => {
    const registryDir = mkdtempSync(join(stateDir, "registry-"));
    const name = cloudName();
    const owner = spawn(
      process.execPath,
      [join(import.meta.dirname, "real-node-owner.ts"), stateDir, server, binDir, registryDir, name, ...tars],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    cleanups.push(() => {
      if (owner.exitCode === null && owner.signalCode === null) owner.kill("SIGKILL");
      reapDeadRuns(registryDir);
    });
    const started = (await firstLine(owner, 90_000)) as {
      net: { id: string; hostIp: string };
      node: RealNode;
    };
    const { node, net } = started;
    cleanups.push(() => deleteNode(node.name));
    expect(node.name).toBe(name);
    const traces = await runPodAndTrace(node, net);
    expect(readdirSync(registryDir).sort()).toEqual(
      [
        `${owner.pid}-1.json`,
        `${owner.pid}-net-${net.id}.json`,
        `${owner.pid}-node-${net.id}-n0.json`,
      ].sort(),
    );

    owner.kill("SIGKILL");
    await new Promise((r) => owner.once("exit", r));
    // Dead owner: its containers and shims run on (and its daemons, until a log write finds
    // their pipe's reader gone).
    const running = traces.filter((t) => /^(shim|container process)/.test(t.what));
    expect(remainingTraces(running)).toEqual(running);

    const reaped = reapDeadRuns(registryDir);
    log(`reaped: ${reaped.join("; ")}`);
    expect(reaped.join("\n")).toMatch(
      new RegExp(`real node ${name.replace(/\./g, "\\.")} \\(.*container process.*shim.*mount`),
    );
    expect(reaped.join("\n")).toMatch(`network kob-${net.id}`);
    expect(remainingTraces(traces)).toEqual([]);
    expect(nodeLeftovers(node)).toEqual([]);
    expect(leftovers(net.id, net.hostIp)).toEqual([]);
    expect(readdirSync(registryDir)).toEqual([]);
    // The Node object is the API server's: a dead owner cannot delete it, its control plane
    // (usually dead with it) is not the reapers' business.
    await deleteNode(node.name);
  });
});

/** An extra real node on the shared control plane, on its own node network. */
async function startNode(): Promise<{ net: NodeNetwork; nodes: RealNodes; node: RealNode }> {
  const net = NodeNetwork.create(REGISTRY_DIR);
  let nodes: RealNodes | undefined;
  cleanups.push(async () => {
    await nodes?.stop();
    net.destroy();
  });
  net.exposeApiserver(apiPort);
  const t0 = Date.now();
  nodes = await RealNodes.start(host, net, [{ name: cloudName() }], { log });
  nodes.importImages(tars);
  log(`node Ready with images in ${Date.now() - t0} ms`);
  const node = nodes.nodes[0];
  if (!node) throw new Error("no node started");
  return { net, nodes, node };
}

/**
 * Runs a Pod that leaves every kind of trace on `node`, checks that each kind is there, and
 * returns them all.
 */
async function runPodAndTrace(node: RealNode, net: { id: string; hostIp: string }): Promise<Trace[]> {
  const name = `traces-${randomBytes(3).toString("hex")}`;
  await core.createNamespacedPod({ namespace: ns, body: tracePod(name, node.name) });
  cleanups.push(() => forceDelete(name));
  const pod = await waitFor(
    `Pod ${name} running both containers on ${node.name}`,
    async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns });
      const ready = p.status?.containerStatuses?.filter((c) => c.state?.running).length === 2;
      return ready ? p : undefined;
    },
    60_000,
    250,
  );
  expect(pod.spec?.nodeName).toBe(node.name);
  const traces = nodeTraces(node);
  const kinds = (re: RegExp) => traces.filter((t) => re.test(t.what));
  const summary = traces.map((t) => t.what).join("\n");
  // The node's daemons, its Pod's shim, and the Pod's processes (pause and two containers).
  for (const daemon of ["containerd", "kubelet", "kube-proxy"])
    expect(kinds(new RegExp(`^${daemon} \\(pid`)), summary).toHaveLength(1);
  expect(kinds(/^shim /).length, summary).toBeGreaterThanOrEqual(1);
  expect(kinds(/^container process /).length, summary).toBeGreaterThanOrEqual(3);
  // Mounts: root filesystems, the sandbox's shm, the volumes, the Pod's network namespace.
  expect(kinds(/^overlay mount /).length, summary).toBeGreaterThanOrEqual(3);
  expect(kinds(/^tmpfs mount .*\/shm$/).length, summary).toBeGreaterThanOrEqual(1);
  expect(kinds(/^tmpfs mount .*kubernetes\.io~empty-dir\/scratch$/), summary).toHaveLength(1);
  expect(kinds(/^tmpfs mount .*kubernetes\.io~projected\/token$/), summary).toHaveLength(1);
  expect(kinds(/^nsfs mount .*\/netns\/cni-/).length, summary).toBeGreaterThanOrEqual(1);
  expect(kinds(/^Pod network namespace /).length, summary).toBeGreaterThanOrEqual(1);
  expect(kinds(/^node network namespace /), summary).toHaveLength(1);
  expect(traces.filter((t) => t.kind === "cgroup").length, summary).toBeGreaterThan(0);
  // Host-wide files: the shim's socket, the CNI result cache, the kubelet's log links.
  expect(kinds(/^shim socket \/run\/containerd\/s\//).length, summary).toBeGreaterThanOrEqual(1);
  expect(kinds(/^CNI cache /).length, summary).toBeGreaterThanOrEqual(1);
  expect(kinds(/^log link \/var\/log\/containers\//).length, summary).toBeGreaterThanOrEqual(2);
  // The hostPort: portmap's DNAT rules in the node's namespace.
  const nat = run("ip", ["netns", "exec", node.address.netns, "iptables", "-w", "-t", "nat", "-S"]);
  expect(nat).toMatch(new RegExp(`--dport ${HOST_PORT}\\b.*-j (CNI-DN-|DNAT)`));
  // And the network's own: bridge, veth, namespace, chain.
  const network = leftovers(net.id, net.hostIp).join("\n");
  expect(network).toMatch(`link kob-${net.id}`);
  expect(network).toMatch(`link ko${net.id}0h`);
  expect(network).toMatch(`netns kube-offers-${net.id}-0`);
  expect(network).toMatch(
    `iptables -t nat -A PREROUTING -i kob-${net.id} -j KUBE-OFFERS-${net.id.toUpperCase()}`,
  );
  log(`${traces.length} traces of ${node.name} (${countKinds(traces)})`);
  return traces;
}

/** After stop(): nothing of the node left, only its network's bridge and chain (the caller's). */
async function expectNodeGone(node: RealNode, net: NodeNetwork, traces: Trace[]): Promise<void> {
  expect(remainingTraces(traces)).toEqual([]);
  expect(nodeLeftovers(node)).toEqual([]);
  expect(existsSync(node.recordFile)).toBe(false);
  const left = leftovers(net.id, net.hostIp);
  expect(left.filter((l) => /netns|link ko[0-9a-f]+\d+[hn]/.test(l))).toEqual([]);
  await expect(core.readNode({ name: node.name })).rejects.toSatisfy(isNotFound);
}

function tracePod(name: string, nodeName: string): V1Pod {
  const sleep = { image: DEFAULT_TASK_IMAGE, command: ["sleep", "3600"] };
  return {
    metadata: { name },
    spec: {
      nodeName,
      tolerations: [
        { key: REAL_NODE_TAINT.key, operator: "Equal", value: REAL_NODE_TAINT.value, effect: "NoSchedule" },
      ],
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      containers: [
        {
          name: "main",
          ...sleep,
          ports: [{ containerPort: 8080, hostPort: HOST_PORT }],
          volumeMounts: [
            { name: "scratch", mountPath: "/scratch" },
            { name: "token", mountPath: "/var/run/secrets/tokens", readOnly: true },
          ],
        },
        { name: "side", ...sleep, volumeMounts: [{ name: "scratch", mountPath: "/scratch" }] },
      ],
      volumes: [
        { name: "scratch", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
        {
          name: "token",
          projected: { sources: [{ serviceAccountToken: { path: "token", expirationSeconds: 3600 } }] },
        },
      ],
    },
  };
}

function countKinds(traces: Trace[]): string {
  const n = new Map<string, number>();
  for (const t of traces) n.set(t.kind, (n.get(t.kind) ?? 0) + 1);
  return [...n].map(([k, v]) => `${v} ${k}`).join(", ");
}

async function forceDelete(name: string): Promise<void> {
  await core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 }).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

async function deleteNode(name: string): Promise<void> {
  await core.deleteNode({ name }).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

/** The first line `child` prints, parsed as JSON; rejects if it exits or times out first. */
function firstLine(child: ChildProcess, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error(`no output from the owner in ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, nl)));
      } catch (err) {
        reject(err);
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the owner exited (code ${code}, signal ${signal}) before starting its node`));
    });
  });
}
