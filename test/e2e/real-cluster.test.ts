// kube-offers as a user installs it, on a real node: the chart from the image built here
// (`helm install`), its controller and agent in containers under the chart's ServiceAccounts
// and RBAC, and tasks that really run — in containers, under a real kubelet's admission — with
// their output in `kubectl logs`, exit codes, OOM kills, kills and host ports as the kubelet
// reports them; every shape of Pod kube-offers builds (SDK and Mesos API) admitted by that
// kubelet; upgrade, rollback and uninstall. One file, run in order: the real node is one shared
// machine, and a node has one Agent, which only one release's agent may report.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  NodeV1Api,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { GROUP, LABEL_POOL, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { isNotFound } from "../../src/kube/errors.ts";
import { repoRoot } from "../../src/local/binaries.ts";
import { EXAMPLES_IMAGE, KUBE_OFFERS_IMAGE } from "../../src/local/images.ts";
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from "../../src/local/real-node.ts";
import { mesosIdsOf } from "../../src/mesos/tasks.ts";
import { parseQuantity } from "../../src/resources/quantity.ts";
import {
  commandTask,
  DEFAULT_TASK_IMAGE,
  FrameworkClient,
  type Offer,
  OfferBin,
  type Task,
  type TaskInfoInput,
} from "../../src/sdk/index.ts";
import { type Event, commandTask as mesosTask, Subscription, scalar } from "../mesos/client.ts";
import { CHART, helm, helmOk, waitFor } from "./helm-support.ts";
import { FrameworkSide } from "./offers.ts";
import { PoolObjects } from "./real-pool.ts";
import { portForward, readLine, TaskRunner } from "./real-support.ts";
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
const nodeApi = admin.makeApiClient(NodeV1Api);
const objects = new PoolObjects(admin, release);
const valuesFile = join(inject("stateDir"), `${release}-values.json`);
const runtimeClass = `${release}-overhead`;
const RUNTIME_OVERHEAD = { cpu: "50m", memory: "16Mi" };
/** The role and the reservation of the framework kept through `helm uninstall`. */
const KEEP_ROLE = "keep";
const KEPT_RESERVATION = { cpu: "100m", memory: "16Mi" };
const [imageRepository, imageTag] = KUBE_OFFERS_IMAGE.split(/:(?=[^:/]+$)/);

describe.skipIf(!node)(`on a real node (${missing || node})`, () => {
  beforeAll(async () => {
    ns = await createNamespace(admin, "real-sys");
    tenant = await createNamespace(admin, "real-tenant");
    mesosNs = await createNamespace(admin, "real-mesos");
    examplesNs = await createNamespace(admin, "real-examples");
    // A RuntimeClass with a handler the node's containerd has (runc, src/local/node-config.ts)
    // and an overhead, which the launch policy counts inside the task.
    await nodeApi.createRuntimeClass({
      body: { metadata: { name: runtimeClass }, handler: "runc", overhead: { podFixed: RUNTIME_OVERHEAD } },
    });
    writeFileSync(
      valuesFile,
      JSON.stringify({
        crds: { enabled: false },
        pool: release,
        image: { repository: imageRepository, tag: imageTag },
        controller: {
          ...onRealNode,
          leaderElection: { leaseDuration: "6s", renewDeadline: "4s", retryPeriod: "1s" },
          config: { podPolicy: { runtimeClasses: { [runtimeClass]: RUNTIME_OVERHEAD } } },
        },
        agent: onRealNode,
        tenantRole: { name: `${release}-framework` },
        mesos: { enabled: true, config: { defaultNamespace: mesosNs, allowUnauthenticated: true } },
      }),
    );
    process.stderr.write(`[real-cluster] helm install --wait: ${await install()} ms\n`);
  }, 200_000);

  afterAll(async () => {
    await helm(["uninstall", release, "-n", ns, "--wait", "--timeout", "60s"]);
    // With the release gone no controller removes the finalizers of the Frameworks left (the
    // batch example's; any a failed test left).
    for (const n of [tenant, mesosNs, examplesNs]) await objects.dropFinalizers(n);
    for (const n of [tenant, mesosNs, examplesNs]) if (n) await deleteNamespace(admin, n);
    if (ns) await deleteNamespace(admin, ns);
    await nodeApi.deleteRuntimeClass({ name: runtimeClass }).catch(() => {});
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

  it("the operator offers the real node net of a foreign Pod running there, and the agent writes nothing for it", async () => {
    const side = new FrameworkSide(admin, tenant);
    const fw = uniqueName("watcher");
    const offered = async () =>
      (await side.offers(fw, "Offered")).map((o) => ({
        name: o.metadata?.name ?? "",
        cpu: parseQuantity("cpu", o.spec.resources.cpu ?? "0"),
        memory: parseQuantity("memory", o.spec.resources.memory ?? "0"),
      }));
    const agentVersion = async () =>
      (
        (await co.getClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL.agent,
          name: node,
        })) as {
          metadata?: { resourceVersion?: string };
        }
      ).metadata?.resourceVersion;
    await side.createFramework(fw, { [LABEL_POOL]: release });
    try {
      const [before] = await waitFor("an offer of the real node", async () => {
        const list = await offered();
        return list.length === 1 ? list : undefined;
      });
      const version = await agentVersion();
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
      try {
        await waitFor("the foreign Pod Running", async () => {
          const p = await core.readNamespacedPod({ name: foreign, namespace: tenant });
          return p.status?.phase === "Running";
        });
        // The whole-node offer no longer holds: rescinded, and offered again net of the Pod.
        const rescinded = await waitFor("the offer rescinded", async () => {
          const o = await side.offer(before!.name);
          return o?.status?.phase === "Rescinded" ? o : undefined;
        });
        expect(rescinded.status?.reason).toBe("ResourcesWithdrawn");
        const [after] = await waitFor("an offer net of the foreign Pod", async () => {
          const list = await offered();
          return list.length === 1 && list[0]!.name !== before!.name ? list : undefined;
        });
        expect(before!.cpu - after!.cpu).toBe(300); // millicores
        expect(before!.memory - after!.memory).toBe(200 * 2 ** 20);
        // Counted by the operator from its own watch: the Agent was not rewritten.
        expect(await agentVersion()).toBe(version);
      } finally {
        await core.deleteNamespacedPod({ name: foreign, namespace: tenant, gracePeriodSeconds: 0 });
      }
    } finally {
      await side.deleteFramework(fw);
      await waitFor("the watcher framework gone", async () =>
        side.framework(fw).then(
          () => undefined,
          () => true,
        ),
      );
    }
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

  // Every shape of Pod the launch plan builds (task-pod.ts, fit-to-task.ts), from the chart's
  // controller under its default launch policy: each is admitted by the real kubelet and runs.
  describe("every Pod shape kube-offers builds passes the real kubelet's admission", () => {
    let runner: TaskRunner;
    const image = DEFAULT_TASK_IMAGE;
    beforeAll(async () => {
      runner = tenantRunner("shapes");
      await runner.client.start();
      // All at once: they run side by side on the node.
      runner.submit({ cpu: "100m", memory: "32Mi" }, (resources) =>
        commandTask({ id: "command", resources, shell: "echo a command task" }),
      );
      runner.submit({ cpu: "100m", memory: "32Mi", ports: 2 }, (resources) =>
        commandTask({
          id: "ports",
          resources,
          shell: 'nc -ll -p "$PORT0" -e echo zero & exec nc -ll -p "$PORT1" -e echo one',
        }),
      );
      runner.submit({ cpu: "300m", memory: "96Mi" }, (resources) => ({
        id: "template",
        resources: resources as TaskInfoInput["resources"],
        template: {
          spec: {
            runtimeClassName: runtimeClass,
            volumes: [{ name: "work", emptyDir: {} }],
            initContainers: [
              {
                name: "init",
                image,
                command: ["sh", "-c", "echo init ran > /work/init"],
                resources: { requests: { cpu: "50m", memory: "16Mi" } },
                volumeMounts: [{ name: "work", mountPath: "/work" }],
              },
              {
                name: "sidecar",
                image,
                restartPolicy: "Always",
                command: ["sh", "-c", "echo sidecar up; exec sleep 3600"],
                resources: { requests: { cpu: "50m", memory: "16Mi" } },
              },
            ],
            containers: [
              {
                name: "main",
                image,
                command: ["sh", "-c", "cat /work/init; exec sleep 3600"],
                volumeMounts: [{ name: "work", mountPath: "/work" }],
              },
            ],
          },
        },
      }));
      runner.submitGroup(
        [
          { cpu: "100m", memory: "32Mi" },
          { cpu: "100m", memory: "32Mi" },
        ],
        (rs) =>
          rs.map((resources, i) =>
            commandTask({ id: `gang-${i}`, resources, shell: `echo gang member ${i} of 2` }),
          ),
      );
    });
    afterAll(async () => {
      await runner?.client.stop({ teardown: true }).catch(() => {});
    });

    /** The task's Pod once it ran or is running, with what the kubelet said if it refused it. */
    async function podOf(t: Task, phase: "Running" | "Succeeded"): Promise<V1Pod> {
      const pod = await waitFor(
        `Pod ${t.pod} ${phase}`,
        async () => {
          const p = await core.readNamespacedPod({ name: t.pod ?? "", namespace: tenant });
          return ["Running", "Succeeded", "Failed"].includes(p.status?.phase ?? "") ? p : undefined;
        },
        60_000,
        250,
      );
      const { phase: got, reason, message } = pod.status ?? {};
      expect({ phase: got, reason, message }).toEqual({ phase, reason: undefined, message: undefined });
      expect(pod.spec?.nodeName).toBe(node);
      // Run by containerd, every container of it.
      for (const c of [
        ...(pod.status?.initContainerStatuses ?? []),
        ...(pod.status?.containerStatuses ?? []),
      ])
        expect(c.containerID, c.name).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
      return pod;
    }

    it("a command task: TASK_FINISHED, its Pod Succeeded", async () => {
      // (An echo may end before a watch shows it Running: TASK_RUNNING is not always reported.)
      const t = await runner.until("command", (x) => x.terminal);
      expect(t.state).toBe("TASK_FINISHED");
      await podOf(t, "Succeeded");
      expect(await kubectl(["-n", tenant, "logs", t.pod ?? ""])).toBe("a command task\n");
    });

    it("a task with offered ports: TASK_RUNNING, its Pod Running with each port bound on the node", async () => {
      const t = await runner.until("ports", (x) => x.state === "TASK_RUNNING");
      const pod = await podOf(t, "Running");
      const ports = (pod.spec?.containers[0]?.ports ?? []).map((p) => p.hostPort ?? 0);
      expect(ports).toHaveLength(2);
      const n = await core.readNode({ name: node });
      const ip = n.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
      for (const [i, port] of ports.entries()) {
        const got = await waitFor(`host port ${port} to answer`, () => readLine(ip ?? "", port));
        expect(got).toBe(["zero", "one"][i]);
      }
      expect(await runner.client.kill("ports")).toBe(true);
      expect((await runner.until("ports", (x) => x.terminal)).state).toBe("TASK_KILLED");
    });

    it("a template with an init container, a sidecar and a RuntimeClass: TASK_RUNNING, its Pod Running", async () => {
      const t = await runner.until("template", (x) => x.state === "TASK_RUNNING");
      const pod = await waitFor("the main container and the sidecar running", async () => {
        const p = await podOf(t, "Running");
        const running = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]
          .filter((c) => c.state?.running)
          .map((c) => c.name);
        return running.includes("sidecar") && running.includes("main") ? p : undefined;
      });
      expect(pod.spec?.runtimeClassName).toBe(runtimeClass);
      expect(pod.spec?.overhead).toEqual(RUNTIME_OVERHEAD);
      const init = pod.status?.initContainerStatuses?.find((c) => c.name === "init");
      expect(init?.state?.terminated?.exitCode).toBe(0);
      // The task's 300m: the sidecar's 50m, the overhead's 50m and the main container's 200m.
      expect(pod.spec?.containers[0]?.resources?.limits).toEqual({ cpu: "200m", memory: "64Mi" });
      expect(await kubectl(["-n", tenant, "logs", t.pod ?? "", "-c", "main"])).toBe("init ran\n");
      expect(await kubectl(["-n", tenant, "logs", t.pod ?? "", "-c", "sidecar"])).toBe("sidecar up\n");
      expect(await runner.client.kill("template")).toBe(true);
      expect((await runner.until("template", (x) => x.terminal)).state).toBe("TASK_KILLED");
    });

    it("a launch group (gang): every task TASK_FINISHED, one Pod with a container each, Succeeded", async () => {
      const [a, b] = await Promise.all(["gang-0", "gang-1"].map((id) => runner.until(id, (x) => x.terminal)));
      expect([a?.state, b?.state]).toEqual(["TASK_FINISHED", "TASK_FINISHED"]);
      expect(b?.pod).toBe(a?.pod);
      const pod = await podOf(a as Task, "Succeeded");
      expect(pod.spec?.containers.map((c) => c.name)).toEqual(["gang-0", "gang-1"]);
      for (const i of [0, 1])
        expect(await kubectl(["-n", tenant, "logs", a?.pod ?? "", "-c", `gang-${i}`])).toBe(
          `gang member ${i} of 2\n`,
        );
    });
  });

  it("serves the Mesos API through the chart's Service to a client outside the cluster: tasks and a task group with a container image", async () => {
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
            {
              // A task group: one Pod, a container per task; one task in an image of its own
              // (the kube-offers image: node, and no shell), the other in the default image.
              type: "LAUNCH_GROUP",
              launch_group: {
                executor: {
                  type: "DEFAULT",
                  executor_id: { value: "default" },
                  resources: [scalar("cpus", 0.1), scalar("mem", 32)],
                },
                task_group: {
                  tasks: [
                    {
                      ...mesosTask("image.mesos", node, { mem: 128 }),
                      command: {
                        shell: false,
                        value: "/usr/local/bin/node",
                        arguments: ["node", "-e", "console.log('node', process.version, 'in its image')"],
                      },
                      container: {
                        type: "MESOS",
                        mesos: { image: { type: "DOCKER", docker: { name: KUBE_OFFERS_IMAGE } } },
                      },
                    },
                    mesosTask("shell.mesos", node, {
                      mem: 32,
                      shell: "echo a group task in the default image",
                    }),
                  ],
                },
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
      // The group: both tasks finished, in one Pod the kubelet admitted and ran to Succeeded.
      for (const id of ["image.mesos", "shell.mesos"])
        expect((await final(id)).update.status.state, id).toBe("TASK_FINISHED");
      const group = await waitFor("the task group's Pod Succeeded", async () => {
        const list = await core.listNamespacedPod({
          namespace: mesosNs,
          labelSelector: "kubeoffers.io/task-id",
        });
        const p = list.items.find((x) =>
          [...mesosIdsOf(x.metadata?.annotations).values()].includes("image.mesos"),
        );
        return p?.status?.phase === "Succeeded" || p?.status?.phase === "Failed" ? p : undefined;
      });
      expect(group.status?.phase).toBe("Succeeded");
      expect([...mesosIdsOf(group.metadata?.annotations).values()].sort()).toEqual([
        "image.mesos",
        "shell.mesos",
      ]);
      const containers = group.spec?.containers ?? [];
      expect(containers.map((c) => c.image)).toEqual([KUBE_OFFERS_IMAGE, DEFAULT_TASK_IMAGE]);
      const logs = (i: number) =>
        kubectl(["-n", mesosNs, "logs", group.metadata?.name ?? "", "-c", containers[i]?.name ?? ""]);
      expect(await logs(0)).toMatch(/^node v24\.\d+\.\d+ in its image\n$/);
      expect(await logs(1)).toBe("a group task in the default image\n");
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

  it("helm upgrade to a new image and rollback leave a running task untouched", async () => {
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
  });

  // `helm uninstall` removes the chart's objects; kube-offers' objects stay, as the CRDs do
  // (crds.keep, README): a Framework, its offers, its tasks' Pods and its reservations are
  // intent no uninstall should lose. What correct means, then: the release's Pods are gone, and
  // everything kube-offers leaves belongs to a Framework that still exists — an offer or
  // reservation of a deleted Framework, or a task Pod without one, would be an orphan no
  // controller ever cleans — and a new install takes them over, so that tearing the framework
  // down rescinds its offer, kills its task and releases its reservation.
  it("helm uninstall leaves no orphan Pod, offer or reservation; a new install releases what stayed", async () => {
    const name = "keeper";
    const id = `${tenant}/${name}`;
    const keeper = new FrameworkClient({
      kubeConfig: admin,
      namespace: tenant,
      name,
      labels: { [LABEL_POOL]: release },
      framework: { roles: [KEEP_ROLE] },
    });
    // Its first offer: reserve. Its second: launch a task. Every later one: held, unanswered.
    const held: Offer[] = [];
    let offers = 0;
    keeper.on("offer", async ({ offer }) => {
      const n = offers++;
      if (n === 0)
        await keeper.accept(offer, [{ reserve: { resources: KEPT_RESERVATION } }], { refuseSeconds: 0 });
      else if (n === 1) {
        const resources = new OfferBin(offer.name, offer.resources).place({ cpu: "100m", memory: "32Mi" });
        if (resources)
          await keeper.launch(offer, [commandTask({ id: "kept", resources, shell: "exec sleep 3600" })], {
            refuseSeconds: 0,
          });
      } else held.push(offer);
    });
    await keeper.start();
    try {
      const kept = await waitFor("the kept task running", async () => {
        const t = keeper.task("kept");
        return t?.state === "TASK_RUNNING" ? t : undefined;
      });
      const offer = await waitFor("an offer held unanswered", async () => held[0]);
      const reservation = await waitFor("the reservation on the Agent", async () =>
        (await objects.agent(node)).spec?.dynamicReservations?.find((r) => r.framework === id),
      );
      expect(reservation).toMatchObject({ role: KEEP_ROLE, resources: KEPT_RESERVATION });
      expect(await objects.orphans(node, [tenant, mesosNs, examplesNs])).toEqual([]);

      await helmOk(["uninstall", release, "-n", ns, "--wait", "--timeout", "120s"]);
      await waitFor(
        "no Pod of the release left",
        async () => (await core.listNamespacedPod({ namespace: ns })).items.length === 0,
        60_000,
        500,
      );
      // Nothing orphaned, and nothing changed: no controller was left to change it.
      expect(await objects.orphans(node, [tenant, mesosNs, examplesNs])).toEqual([]);
      expect(await objects.offerPhase(offer.name)).toBe("Offered");
      expect((await objects.agent(node)).spec?.dynamicReservations?.map((r) => r.id)).toContain(
        reservation.id,
      );
      const pod = await core.readNamespacedPod({ name: kept.pod ?? "", namespace: tenant });
      expect(pod.status?.phase).toBe("Running");

      process.stderr.write(`[real-cluster] helm install after uninstall: ${await install()} ms\n`);
      // The new controller tears the framework down: offer rescinded, task killed, reservation
      // released, finalizer removed (then the Framework is gone, and its offers with it).
      await keeper.stop({ teardown: true });
      await waitFor(
        "the Framework torn down",
        async () => !(await objects.frameworkExists(tenant, name)),
        60_000,
        500,
      );
      expect(["Rescinded", undefined]).toContain(await objects.offerPhase(offer.name));
      // Its `sleep` ignores SIGTERM: gone after the 30 s grace period.
      await waitFor(
        "the kept task's Pod gone",
        async () =>
          core
            .readNamespacedPod({ name: kept.pod ?? "", namespace: tenant })
            .then(() => false)
            .catch((err: unknown) => isNotFound(err)),
        90_000,
        500,
      );
      expect(
        (await objects.agent(node)).spec?.dynamicReservations?.filter((r) => r.framework === id),
      ).toEqual([]);
    } finally {
      await keeper.stop({ teardown: true }).catch(() => {});
    }

    // And uninstalled again, with no framework left in the pool: nothing of it anywhere.
    await helmOk(["uninstall", release, "-n", ns, "--wait", "--timeout", "120s"]);
    await waitFor(
      "no Pod of the release left",
      async () => (await core.listNamespacedPod({ namespace: ns })).items.length === 0,
      60_000,
      500,
    );
    expect(await objects.orphans(node, [tenant, mesosNs, examplesNs])).toEqual([]);
    const outstanding = (await objects.offers()).filter((o) => (o.status?.phase ?? "Offered") === "Offered");
    expect(outstanding.map((o) => o.metadata.name)).toEqual([]);
    expect((await objects.agent(node)).spec?.dynamicReservations ?? []).toEqual([]);
  }, 600_000);
});

/** A framework of the tenant namespace, in the pool this file's release manages. */
function tenantRunner(name: string): TaskRunner {
  return new TaskRunner(
    new FrameworkClient({ kubeConfig: admin, namespace: tenant, name, labels: { [LABEL_POOL]: release } }),
  );
}

// biome-ignore lint/suspicious/noExplicitAny: manifests from YAML are arbitrary objects
type Manifest = any;

/** `helm install` of this file's release (values in valuesFile), waiting for it; returns how long it took. */
async function install(): Promise<number> {
  const t0 = Date.now();
  await helmOk(["install", release, CHART, "-n", ns, "-f", valuesFile, "--wait", "--timeout", "150s"]).catch(
    async (err) => {
      const pods = await kubectl(["-n", ns, "get", "pods", "-o", "wide"]).catch(() => "");
      const events = await kubectl(["-n", ns, "get", "events"]).catch(() => "");
      throw new Error(`${(err as Error).message}\n${pods}\n${events}`);
    },
  );
  return Date.now() - t0;
}
