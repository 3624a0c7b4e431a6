// kube-offers as a user installs it, on a real node: the chart from the image built here
// (`helm install`), its controller and agent in containers under the chart's ServiceAccounts
// and RBAC, and tasks that really run — in containers, under a real kubelet's admission — with
// their output in `kubectl logs`, exit codes, OOM kills, kills and host ports as the kubelet
// reports them. One file, run in order: the real node is one shared machine.

import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { GROUP, LABEL_POOL, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { repoRoot } from "../../src/local/binaries.ts";
import { EXAMPLES_IMAGE, KUBE_OFFERS_IMAGE } from "../../src/local/images.ts";
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from "../../src/local/real-node.ts";
import { mesosIdsOf } from "../../src/mesos/tasks.ts";
import { parseQuantity } from "../../src/resources/quantity.ts";
import {
  commandTask,
  DEFAULT_TASK_IMAGE,
  FrameworkClient,
  OfferBin,
  type ResourceMap,
  type ResourceRequest,
  type Task,
  type TaskInfoInput,
} from "../../src/sdk/index.ts";
import { type Event, commandTask as mesosTask, Subscription } from "../mesos/client.ts";
import { CHART, helm, helmOk, waitFor } from "./helm-support.ts";
import { adminKubeConfig, createNamespace, deleteNamespace, kubectl, uniqueName } from "./support.ts";

const node = inject("realNode");
const missing = inject("realNodeMissing");
// In CI this machine kind runs containers: a missing piece there is a failure, not a skip.
if (!node && process.env.CI) throw new Error(`CI machine cannot run a real node: ${missing}`);

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const co = admin.makeApiClient(CustomObjectsApi);
const release = uniqueName("real");
let ns = "";
let tenant = "";
let mesosNs = "";
let examplesNs = "";
// This node exactly: other test files may start more real nodes for a while.
const onRealNode = {
  nodeSelector: { [REAL_NODE_LABEL]: "true", "kubernetes.io/hostname": node },
  tolerations: [
    { key: REAL_NODE_TAINT.key, operator: "Equal", value: REAL_NODE_TAINT.value, effect: "NoSchedule" },
  ],
};
const valuesFile = join(inject("stateDir"), `${release}-values.json`);
const [imageRepository, imageTag] = KUBE_OFFERS_IMAGE.split(/:(?=[^:/]+$)/);

describe.skipIf(!node)(`on a real node (${missing || node})`, () => {
  beforeAll(async () => {
    ns = await createNamespace(admin, "real-sys");
    tenant = await createNamespace(admin, "real-tenant");
    mesosNs = await createNamespace(admin, "real-mesos");
    examplesNs = await createNamespace(admin, "real-examples");
    const t0 = Date.now();
    writeFileSync(
      valuesFile,
      JSON.stringify({
        crds: { enabled: false },
        pool: release,
        image: { repository: imageRepository, tag: imageTag },
        controller: {
          ...onRealNode,
          leaderElection: { leaseDuration: "6s", renewDeadline: "4s", retryPeriod: "1s" },
        },
        agent: onRealNode,
        tenantRole: { name: `${release}-framework` },
        mesos: { enabled: true, config: { defaultNamespace: mesosNs, allowUnauthenticated: true } },
      }),
    );
    await helmOk([
      "install",
      release,
      CHART,
      "-n",
      ns,
      "-f",
      valuesFile,
      "--wait",
      "--timeout",
      "150s",
    ]).catch(async (err) => {
      const pods = await kubectl(["-n", ns, "get", "pods", "-o", "wide"]).catch(() => "");
      const events = await kubectl(["-n", ns, "get", "events"]).catch(() => "");
      throw new Error(`${(err as Error).message}\n${pods}\n${events}`);
    });
    process.stderr.write(`[real-cluster] helm install --wait: ${Date.now() - t0} ms\n`);
  }, 200_000);

  afterAll(async () => {
    await helm(["uninstall", release, "-n", ns, "--wait", "--timeout", "60s"]);
    for (const n of [tenant, mesosNs, examplesNs]) if (n) await deleteNamespace(admin, n);
    if (ns) await deleteNamespace(admin, ns);
  });

  it("helm install runs the controller Deployment and the agent DaemonSet in containers, Ready", async () => {
    const deploy = await apps.readNamespacedDeployment({
      name: `${release}-kube-offers-controller`,
      namespace: ns,
    });
    expect(deploy.status?.readyReplicas).toBe(2);
    const ds = await apps.readNamespacedDaemonSet({ name: `${release}-kube-offers-agent`, namespace: ns });
    expect(ds.status?.numberReady).toBe(1);
    const pods = (await core.listNamespacedPod({ namespace: ns })).items;
    for (const p of pods) {
      expect(p.spec?.nodeName).toBe(node);
      expect(p.status?.phase).toBe("Running");
      // Really in a container: the kubelet reports a container ID from containerd.
      expect(p.status?.containerStatuses?.[0]?.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
      expect(p.spec?.containers[0]?.image).toBe(KUBE_OFFERS_IMAGE);
    }
    expect(pods.map((p) => p.spec?.serviceAccountName).sort()).toEqual([
      `${release}-kube-offers-agent`,
      `${release}-kube-offers-controller`,
      `${release}-kube-offers-controller`,
    ]);
  });

  it("the agent reports its node net of a foreign Pod running there", async () => {
    const resources = async () => {
      const a = (await co.getClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL.agent,
        name: node,
      })) as {
        status?: { resources?: Record<string, string> };
      };
      const r = a.status?.resources ?? {};
      return { cpu: parseQuantity("cpu", r.cpu ?? "0"), memory: parseQuantity("memory", r.memory ?? "0") };
    };
    const before = await waitFor("the real node's Agent", async () =>
      (await resources()).cpu > 0 ? resources() : undefined,
    );
    const foreign = uniqueName("foreign");
    await core.createNamespacedPod({
      namespace: tenant,
      body: {
        metadata: { name: foreign },
        spec: {
          nodeName: node,
          restartPolicy: "Never",
          terminationGracePeriodSeconds: 0,
          containers: [
            {
              name: "main",
              image: DEFAULT_TASK_IMAGE,
              command: ["sleep", "3600"],
              resources: { requests: { cpu: "300m", memory: "200Mi" } },
            },
          ],
        },
      },
    });
    await waitFor("the foreign Pod Running", async () => {
      const p = await core.readNamespacedPod({ name: foreign, namespace: tenant });
      return p.status?.phase === "Running";
    });
    const after = await waitFor("the Agent net of the foreign Pod", async () => {
      const r = await resources();
      return r.cpu < before.cpu ? r : undefined;
    });
    expect(before.cpu - after.cpu).toBe(300); // millicores
    expect(before.memory - after.memory).toBe(200 * 2 ** 20);
    await core.deleteNamespacedPod({ name: foreign, namespace: tenant, gracePeriodSeconds: 0 });
  });

  describe("tasks in real containers", () => {
    let runner: TaskRunner;
    beforeAll(async () => {
      runner = tenantRunner("real");
      await runner.client.start();
    });
    afterAll(async () => {
      await runner?.client.stop({ teardown: true }).catch(() => {});
    });

    it("runs a command whose output `kubectl logs` shows", async () => {
      const id = "hello";
      runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
        commandTask({ id, resources, shell: 'echo "hello from $(hostname) on a real node"' }),
      );
      const done = await runner.until(id, (t) => t.terminal);
      expect(done.state).toBe("TASK_FINISHED");
      const out = await kubectl(["-n", tenant, "logs", done.pod ?? ""]);
      expect(out).toMatch(/^hello from \S+ on a real node$/m);
    });

    it("exit code 3 is TASK_FAILED with the code in the message", async () => {
      runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
        commandTask({ id: "exit3", resources, shell: "exit 3" }),
      );
      const done = await runner.until("exit3", (t) => t.terminal);
      expect(done.state).toBe("TASK_FAILED");
      expect(done.reason).toBe("REASON_COMMAND_EXECUTOR_FAILED");
      expect(done.message).toMatch(/\b3\b/);
    });

    it("a task over its memory limit is TASK_FAILED with the OOM reason", async () => {
      // The shell doubles a string until the 32Mi limit's OOM killer ends it.
      runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
        commandTask({ id: "oom", resources, shell: 'x=0123456789abcdef; while :; do x="$x$x"; done' }),
      );
      const done = await runner.until("oom", (t) => t.terminal, 90_000);
      expect(done.state).toBe("TASK_FAILED");
      expect(done.reason).toBe("REASON_CONTAINER_LIMITATION_MEMORY");
      const pod = await core.readNamespacedPod({ name: done.pod ?? "", namespace: tenant });
      expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.reason).toBe("OOMKilled");
    });

    it("kill gives TASK_KILLED", async () => {
      runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
        commandTask({ id: "sleeper", resources, shell: "exec sleep 3600" }),
      );
      const running = await runner.until("sleeper", (t) => t.state === "TASK_RUNNING");
      // The API server reaches the kubelet on the node's address: `kubectl exec` works.
      expect(
        await kubectl([
          "-n",
          tenant,
          "exec",
          running.pod ?? "",
          "--",
          "sh",
          "-c",
          "echo exec on $(hostname)",
        ]),
      ).toBe(`exec on ${running.pod}\n`);
      expect(await runner.client.kill("sleeper")).toBe(true);
      const done = await runner.until("sleeper", (t) => t.terminal);
      expect(done.state).toBe("TASK_KILLED");
    });

    it("a task given an offered port has it bound on the node", async () => {
      runner.submit({ cpu: "100m", memory: "32Mi", ports: 1 }, (resources) =>
        commandTask({
          id: "web",
          resources,
          shell:
            'mkdir -p /tmp/www && echo "served on $PORT0" > /tmp/www/index.html && exec httpd -f -p "$PORT0" -h /tmp/www',
        }),
      );
      const running = await runner.until("web", (t) => t.state === "TASK_RUNNING");
      const pod = await core.readNamespacedPod({ name: running.pod ?? "", namespace: tenant });
      const port = pod.spec?.containers[0]?.ports?.[0]?.hostPort;
      expect(port).toBeGreaterThanOrEqual(31000);
      const n = await core.readNode({ name: node });
      const ip = n.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
      const body = await waitFor("the host port to answer", async () => {
        const res = await fetch(`http://${ip}:${port}/`, { signal: AbortSignal.timeout(2000) });
        return res.ok ? res.text() : undefined;
      });
      expect(body.trim()).toBe(`served on ${port}`);
      await runner.client.kill("web");
    });
  });

  it("serves the Mesos API through the chart's Service to a client outside the cluster", async () => {
    const forward = await portForward(ns, `svc/${release}-kube-offers-mesos`, 5050);
    const after: (() => void)[] = [];
    const s = await Subscription.open(`http://127.0.0.1:${forward.port}`, {
      user: "root",
      name: "real-mesos",
      failover_timeout: 0,
    });
    try {
      expect(s.status, `SUBSCRIBE answered ${s.status}: ${s.body}`).toBe(200);
      await s.next(
        (e) => e.type === "OFFERS" && e.offers.offers.some((o: Event) => o.agent_id.value === node),
        30_000,
      );
      const offer = s.events
        .flatMap((e) => (e.type === "OFFERS" ? (e.offers.offers as Event[]) : []))
        .find((o) => o.agent_id.value === node);
      const oom = 'x=0123456789abcdef; while :; do x="$x$x"; done';
      const r = await s.call("ACCEPT", {
        accept: {
          offer_ids: [offer?.id],
          operations: [
            {
              type: "LAUNCH",
              launch: {
                task_infos: [
                  mesosTask("hello.mesos", node, { mem: 32, shell: "echo hello from a Mesos task" }),
                  mesosTask("oom.mesos", node, { mem: 32, shell: oom }),
                ],
              },
            },
          ],
        },
      });
      expect(r.status).toBe(202);
      // Updates are reliable: the next one for a task comes only after the last is acknowledged.
      const acked = new Set<string>();
      const acker = setInterval(() => {
        for (const e of s.events)
          if (e.type === "UPDATE" && e.update.status.uuid && !acked.has(e.update.status.uuid)) {
            acked.add(e.update.status.uuid);
            void s.ack(e.update.status).catch(() => acked.delete(e.update.status.uuid));
          }
      }, 200);
      after.push(() => clearInterval(acker));
      const final = (id: string) =>
        s.next(
          (e) =>
            e.type === "UPDATE" &&
            e.update.status.task_id.value === id &&
            ["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST"].includes(
              e.update.status.state,
            ),
          90_000,
        );
      const hello = (await final("hello.mesos")).update.status;
      expect(hello.state).toBe("TASK_FINISHED");
      const oomed = (await final("oom.mesos")).update.status;
      expect(oomed).toMatchObject({ state: "TASK_FAILED", reason: "REASON_CONTAINER_LIMITATION_MEMORY" });
      const pods = await core.listNamespacedPod({
        namespace: mesosNs,
        labelSelector: "kubeoffers.io/task-id",
      });
      const helloPod = pods.items.find((p) =>
        [...mesosIdsOf(p.metadata?.annotations).values()].includes("hello.mesos"),
      );
      expect(await kubectl(["-n", mesosNs, "logs", helloPod?.metadata?.name ?? ""])).toBe(
        "hello from a Mesos task\n",
      );
      await s.call("TEARDOWN", {});
    } finally {
      for (const f of after.splice(0)) f();
      s.disconnect();
      forward.stop();
    }
  });

  it("runs the batch example from examples/batch/deploy.yaml, whose tasks print their output", async () => {
    const docs = parseAllDocuments(readFileSync(join(repoRoot, "examples/batch/deploy.yaml"), "utf8")).map(
      (d) => d.toJS() as Manifest,
    );
    for (const d of docs) {
      d.metadata.namespace = examplesNs;
      for (const s of d.subjects ?? []) s.namespace = examplesNs;
      if (d.kind !== "Deployment") continue;
      const spec = d.spec.template.spec;
      // What this cluster asks of Pods on its real node, and the pool this release manages.
      Object.assign(spec, onRealNode);
      const args: string[] = spec.containers[0].args;
      spec.containers[0].args = [
        ...args.filter((a) => !/^--(tasks|cpu|memory)=/.test(a)),
        "--tasks=3",
        "--cpu=100m",
        "--memory=32Mi",
        `--label=kubeoffers.io/pool=${release}`,
      ];
    }
    await kubectl(["apply", "-f", "-"], docs.map((d) => JSON.stringify(d)).join("\n"));
    const pods = await waitFor(
      "the batch example's 3 tasks finished",
      async () => {
        const list = await core.listNamespacedPod({
          namespace: examplesNs,
          labelSelector: "kubeoffers.io/task-id",
        });
        const done = list.items.filter((p) => p.status?.phase === "Succeeded");
        return done.length >= 3 ? done : undefined;
      },
      120_000,
      500,
    );
    const logs = await Promise.all(
      pods.map((p) => kubectl(["-n", examplesNs, "logs", p.metadata?.name ?? ""])),
    );
    expect(logs.map((l) => l.trim()).sort()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^task \d+ attempt \d+$/)]),
    );
    expect(new Set(logs.map((l) => l.trim())).size).toBe(pods.length);
    // The scheduler itself runs in a container, under its own ServiceAccount.
    const scheduler = await core.listNamespacedPod({
      namespace: examplesNs,
      labelSelector: "app.kubernetes.io/name=batch-scheduler",
    });
    expect(scheduler.items.length).toBe(2);
    for (const p of scheduler.items) expect(p.spec?.serviceAccountName).toBe("batch-scheduler");
    await kubectl(["-n", examplesNs, "delete", "deployment", "batch-scheduler", "--wait=true"]);
  });

  it("with two controller replicas, deleting the leader Pod hands over leadership with no duplicate task", async () => {
    const runner = tenantRunner("failover");
    await runner.client.start();
    try {
      runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
        commandTask({ id: "before", resources, shell: "exec sleep 3600" }),
      );
      await runner.until("before", (t) => t.state === "TASK_RUNNING");
      const holder = async () =>
        (
          await admin
            .makeApiClient(CoordinationV1Api)
            .readNamespacedLease({ name: "kube-offers-controller", namespace: ns })
        ).spec?.holderIdentity ?? "";
      const leader = await holder();
      const controllers = (
        await core.listNamespacedPod({
          namespace: ns,
          labelSelector: "app.kubernetes.io/component=controller",
        })
      ).items.map((p) => p.metadata?.name);
      expect(controllers).toContain(leader);
      await core.deleteNamespacedPod({ name: leader, namespace: ns });
      const next = await waitFor(
        "a new leader",
        async () => {
          const h = await holder();
          return h && h !== leader ? h : undefined;
        },
        60_000,
        250,
      );
      expect(controllers).toContain(next);
      // The new leader allocates: a task launched now runs.
      runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
        commandTask({ id: "after", resources, shell: "exec sleep 3600" }),
      );
      await runner.until("after", (t) => t.state === "TASK_RUNNING", 60_000);
      const pods = (
        await core.listNamespacedPod({ namespace: tenant, labelSelector: "kubeoffers.io/framework=failover" })
      ).items;
      expect(pods.map((p) => p.metadata?.labels?.["kubeoffers.io/task-id"]).sort()).toEqual([
        "after",
        "before",
      ]);
      expect(runner.client.task("before")?.state).toBe("TASK_RUNNING");
      await waitFor(
        "the Deployment back at 2 ready replicas",
        async () => {
          const d = await apps.readNamespacedDeployment({
            name: `${release}-kube-offers-controller`,
            namespace: ns,
          });
          return d.status?.readyReplicas === 2;
        },
        90_000,
        500,
      );
    } finally {
      await runner.client.stop({ teardown: true }).catch(() => {});
    }
  });

  it("helm upgrade to a new image, rollback and uninstall leave no orphan Pod, offer or reservation", async () => {
    const runner = tenantRunner("upgrade");
    await runner.client.start();
    runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
      commandTask({ id: "long", resources, shell: "exec sleep 3600" }),
    );
    const long = await runner.until("long", (t) => t.state === "TASK_RUNNING");
    const images = async () =>
      (await core.listNamespacedPod({ namespace: ns })).items
        .filter((p) => !p.metadata?.deletionTimestamp)
        .map((p) => p.spec?.containers[0]?.image);
    // A new image: the examples image holds the same app (and the examples) on the same runtime.
    const [repo, tag] = EXAMPLES_IMAGE.split(/:(?=[^:/]+$)/);
    await helmOk([
      "upgrade",
      release,
      CHART,
      "-n",
      ns,
      "-f",
      valuesFile,
      "--set",
      `image.repository=${repo},image.tag=${tag}`,
      "--wait",
      "--timeout",
      "150s",
    ]);
    await waitFor(
      "every chart Pod on the new image",
      async () => (await images()).every((i) => i === EXAMPLES_IMAGE),
      60_000,
      500,
    );
    runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
      commandTask({ id: "upgraded", resources, shell: "echo upgraded" }),
    );
    expect((await runner.until("upgraded", (t) => t.terminal, 60_000)).state).toBe("TASK_FINISHED");
    await helmOk(["rollback", release, "1", "-n", ns, "--wait", "--timeout", "150s"]);
    await waitFor(
      "every chart Pod back on the first image",
      async () => (await images()).every((i) => i === KUBE_OFFERS_IMAGE),
      60_000,
      500,
    );
    runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
      commandTask({ id: "rolledback", resources, shell: "echo rolled back" }),
    );
    expect((await runner.until("rolledback", (t) => t.terminal, 60_000)).state).toBe("TASK_FINISHED");
    // The task launched before the upgrade ran through both, untouched.
    expect(runner.client.task("long")).toMatchObject({ state: "TASK_RUNNING", pod: long.pod });
    await runner.client.stop({ teardown: true });
    await waitFor(
      "the framework's Pods gone",
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: tenant,
          labelSelector: "kubeoffers.io/framework=upgrade",
        });
        return pods.items.length === 0;
      },
      60_000,
      500,
    );

    await helmOk(["uninstall", release, "-n", ns, "--wait", "--timeout", "120s"]);
    await waitFor(
      "no Pod of the release left",
      async () => (await core.listNamespacedPod({ namespace: ns })).items.length === 0,
      60_000,
      500,
    );
    const offers = (await co.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL.resourceOffer,
      labelSelector: `kubeoffers.io/pool=${release}`,
    })) as { items: { metadata: { name: string }; status?: { phase?: string } }[] };
    expect(offers.items.filter((o) => !o.status?.phase || o.status.phase === "Offered")).toEqual([]);
    const agent = (await co
      .getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.agent, name: node })
      .catch(() => undefined)) as { spec?: { dynamicReservations?: unknown[] } } | undefined;
    expect(agent?.spec?.dynamicReservations ?? []).toEqual([]);
  });
});

/** A framework of the tenant namespace, in the pool this file's release manages. */
function tenantRunner(name: string): TaskRunner {
  return new TaskRunner(
    new FrameworkClient({ kubeConfig: admin, namespace: tenant, name, labels: { [LABEL_POOL]: release } }),
  );
}

/**
 * A minimal framework: tasks wait in a queue and go into the first offer they fit; every offer
 * with nothing to place is declined for a second. Keeps every update per task.
 */
class TaskRunner {
  readonly client: FrameworkClient;
  private readonly queue: { req: ResourceRequest; build: (r: ResourceMap) => TaskInfoInput }[] = [];
  private readonly seen = new Map<string, Task[]>();

  constructor(client: FrameworkClient) {
    this.client = client;
    client.on("update", ({ task }) => {
      this.seen.set(task.id, [...(this.seen.get(task.id) ?? []), task]);
    });
    client.on("offer", async ({ offer }) => {
      const bin = new OfferBin(offer.name, offer.resources);
      const tasks: TaskInfoInput[] = [];
      for (let i = 0; i < this.queue.length; ) {
        const item = this.queue[i];
        const r = item ? bin.place(item.req) : undefined;
        if (item && r) {
          tasks.push(item.build(r));
          this.queue.splice(i, 1);
        } else i++;
      }
      if (tasks.length) await client.launch(offer, tasks);
      else await client.decline(offer, 1);
    });
  }

  submit(req: ResourceRequest, build: (r: ResourceMap) => TaskInfoInput): void {
    this.queue.push({ req, build });
    void this.client.revive().catch(() => {});
  }

  until(id: string, pred: (t: Task) => boolean, timeoutMs = 60_000): Promise<Task> {
    return waitFor(
      `task ${id}: ${(this.seen.get(id) ?? []).map((t) => t.state).join(" → ") || "no update"}`,
      async () => (this.seen.get(id) ?? []).find(pred),
      timeoutMs,
    );
  }
}

// biome-ignore lint/suspicious/noExplicitAny: manifests from YAML are arbitrary objects
type Manifest = any;

/** `kubectl port-forward` to a local port (a client outside the cluster); stop() ends it by PID. */
async function portForward(
  namespace: string,
  target: string,
  remote: number,
): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    join(inject("binDir"), "kubectl"),
    ["--kubeconfig", inject("kubeconfig"), "-n", namespace, "port-forward", target, `:${remote}`],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const stop = () => {
    if (child.exitCode === null) child.kill("SIGKILL");
  };
  try {
    const port = await waitFor(
      `kubectl port-forward ${target}: ${out}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`kubectl port-forward exited: ${out}`);
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
        return m ? Number(m[1]) : undefined;
      },
      30_000,
      100,
    );
    return { port, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
