// kube-offers as a user installs it, on a real node: the chart from the image built here
// (`helm install`), its controller and agent in containers under the chart's ServiceAccounts
// and RBAC, and tasks that really run — in containers, under a real kubelet's admission — with
// their output in `kubectl logs`, exit codes, OOM kills, kills and host ports as the kubelet
// reports them. One file, run in order: the real node is one shared machine.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseQuantity } from "../../src/allocator/quantity.ts";
import { GROUP, PLURAL, VERSION } from "../../src/crds/constants.ts";
import { KUBE_OFFERS_IMAGE } from "../../src/local/images.ts";
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from "../../src/local/real-node.ts";
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
const onRealNode = {
  nodeSelector: { [REAL_NODE_LABEL]: "true" },
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
    if (tenant) await deleteNamespace(admin, tenant);
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
      runner = new TaskRunner(
        new FrameworkClient({
          kubeConfig: admin,
          namespace: tenant,
          name: "real",
          labels: { "kubeoffers.io/pool": release },
        }),
      );
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
      await runner.until("sleeper", (t) => t.state === "TASK_RUNNING");
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
});

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
