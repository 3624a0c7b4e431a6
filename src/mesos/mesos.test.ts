// Unit tests of the Mesos API's pure parts: call validation, RecordIO, resources, ids, task and
// status translation, FrameworkInfo -> Framework spec.
import { describe, expect, it } from "vitest";
import { refuseSeconds } from "./accept-plan.ts";
import { frameworkSpecOf } from "./framework.ts";
import { frameworkNameFor, newFrameworkId, taskKeyFor } from "./ids.ts";
import { asciiJson, parseCall, RecordIoDecoder, recordio } from "./protocol.ts";
import { fromMesosResources, toMesosResources, toMesosTotals } from "./resources.ts";
import { convertTask, copiedLabel, mesosIdsOf, mesosState, taskStatus } from "./tasks.ts";

type Spec = { containers: Record<string, unknown>[]; terminationGracePeriodSeconds?: number };
/** The first container of a converted task (empty when it did not convert). */
const main = (c: ReturnType<typeof convertTask>): Record<string, unknown> =>
  (c.ok ? (c.task.template.spec as Spec).containers[0] : undefined) ?? {};

const ctx = { frameworkId: "fw-1", agentId: "node-1", defaultImage: "busybox:1.35" };
const cpus = (v: number) => ({ name: "cpus", type: "SCALAR" as const, scalar: { value: v } });
const mem = (v: number) => ({ name: "mem", type: "SCALAR" as const, scalar: { value: v } });

describe("client-supplied names are keys of their own", () => {
  it.each(["__proto__", "constructor", "hasOwnProperty", "toString", "valueOf"])(
    "a resource called %s is an unknown name, not an inherited property",
    (name) => {
      const r = fromMesosResources([{ name, type: "SCALAR", scalar: { value: 2 } }]);
      if (r.ok) {
        // Converted under its own name, with unit 1 (not Object's `name`, not NaN).
        expect(Object.entries(r.resources)).toEqual([[name, "2"]]);
      } else expect(r.error).toMatch(new RegExp(`resource ${name}`));
      const totals = toMesosTotals({ [name]: "3" } as Record<string, string>);
      expect(typeof totals.cpus).toBe("number");
    },
  );
});

describe("calls", () => {
  it("accepts well-formed calls and names what is missing", () => {
    expect(parseCall({ type: "SUBSCRIBE", subscribe: { framework_info: { user: "u", name: "n" } } }).ok).toBe(
      true,
    );
    expect(parseCall({ type: "SUBSCRIBE" })).toEqual({
      ok: false,
      error: "Expecting 'subscribe' to be present",
    });
    expect(parseCall({ type: "REVIVE", framework_id: { value: "f" } })).toMatchObject({ ok: true });
    expect(parseCall({ type: "REVIVE" })).toEqual({
      ok: false,
      error: "Expecting 'framework_id' to be present",
    });
    expect(parseCall({ type: "NOPE" })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unknown call type "NOPE"/),
    });
    expect(parseCall({})).toMatchObject({ ok: false, error: expect.stringMatching(/type is required/) });
    expect(parseCall("x")).toMatchObject({ ok: false });
    expect(
      parseCall({
        type: "SUBSCRIBE",
        framework_id: { value: "a" },
        subscribe: { framework_info: { user: "u", name: "n", id: { value: "b" } } },
      }),
    ).toMatchObject({ ok: false, error: expect.stringMatching(/differs/) });
    // RECONCILE without a body is implicit reconciliation.
    const r = parseCall({ type: "RECONCILE", framework_id: { value: "f" } });
    expect(r.ok && r.call.reconcile).toEqual({});
    // int64 fields may come as strings.
    const k = parseCall({
      type: "ACCEPT",
      framework_id: { value: "f" },
      accept: {
        offer_ids: [{ value: "o" }],
        operations: [
          {
            type: "LAUNCH",
            launch: {
              task_infos: [
                {
                  name: "t",
                  task_id: { value: "t" },
                  resources: [
                    { name: "ports", type: "RANGES", ranges: { range: [{ begin: "31000", end: "31001" }] } },
                  ],
                },
              ],
            },
          },
        ],
      },
    });
    expect(k.ok).toBe(true);
  });

  it("Filters.refuse_seconds: default 5, negative -> default, capped at a year", () => {
    expect(refuseSeconds(undefined)).toBe(5);
    expect(refuseSeconds({ refuse_seconds: -1 })).toBe(5);
    expect(refuseSeconds({ refuse_seconds: 0.5 })).toBe(0.5);
    expect(refuseSeconds({ refuse_seconds: 1e12 })).toBe(365 * 24 * 3600);
  });
});

describe("RecordIO", () => {
  it("frames ASCII JSON with byte lengths and decodes across chunk boundaries", () => {
    const a = recordio({ type: "HEARTBEAT" });
    const b = recordio({ type: "ERROR", error: { message: "héllo ✓\nnext" } });
    expect(a).toBe('20\n{"type":"HEARTBEAT"}');
    expect(b).not.toMatch(/[^\x20-\x7e\n]/);
    expect(b.split("\n")).toHaveLength(2); // no newline inside the record
    const d = new RecordIoDecoder();
    const bytes = Buffer.from(a + b);
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i += 3) out.push(...d.push(bytes.subarray(i, i + 3)));
    expect(out.map((s) => JSON.parse(s))).toEqual([
      { type: "HEARTBEAT" },
      { type: "ERROR", error: { message: "héllo ✓\nnext" } },
    ]);
    expect(asciiJson("ü")).toBe('"\\u00fc"');
  });
});

describe("resources", () => {
  it("offers in Mesos units: cpus, mem and disk in MB, gpus, ports, reservations", () => {
    const r = toMesosResources(
      {
        cpu: "3500m",
        memory: "8Gi",
        "ephemeral-storage": "10Gi",
        "nvidia.com/gpu": "2",
        ports: [{ begin: 31000, end: 31999 }],
      },
      "batch",
      [{ id: "r1", resources: { cpu: "1" } }],
    );
    const unreserved = r.filter((x) => !x.reservations);
    expect(unreserved.find((x) => x.name === "cpus")?.scalar?.value).toBe(2.5);
    expect(unreserved.find((x) => x.name === "mem")?.scalar?.value).toBe(8192);
    expect(unreserved.find((x) => x.name === "disk")?.scalar?.value).toBe(10240);
    expect(unreserved.find((x) => x.name === "gpus")?.scalar?.value).toBe(2);
    expect(unreserved.find((x) => x.name === "ports")?.ranges?.range).toEqual([{ begin: 31000, end: 31999 }]);
    const reserved = r.find((x) => x.reservations);
    expect(reserved).toMatchObject({
      name: "cpus",
      scalar: { value: 1 },
      allocation_info: { role: "batch" },
    });
    expect(reserved?.reservations?.[0]).toMatchObject({ type: "DYNAMIC", role: "batch" });
    expect(toMesosTotals({ cpu: "2", memory: "1Gi", ports: [{ begin: 1, end: 2 }] })).toEqual({
      cpus: 2,
      mem: 1024,
      disk: 0,
      gpus: 0,
      ports: "[1-2]",
    });
  });

  it("task resources back: added up, rounded up, odd memory rounds down in offers so it still fits", () => {
    expect(fromMesosResources([cpus(0.5), cpus(0.25), mem(128.5)])).toEqual({
      ok: true,
      resources: { cpu: "750m", memory: "131584Ki" },
    });
    expect(
      fromMesosResources([
        { name: "gpus", scalar: { value: 1 } },
        { name: "foo.io/bar", scalar: { value: 3 } },
      ]),
    ).toEqual({
      ok: true,
      resources: { "nvidia.com/gpu": "1", "foo.io/bar": "3" },
    });
    // 1e9 bytes is 953.674… MB: the offer says 953.674, and taking all of it fits.
    const offered = toMesosResources({ memory: "1000000000" }, "*")[0]?.scalar?.value ?? 0;
    expect(offered).toBe(953.674);
    const back = fromMesosResources([mem(offered)]);
    expect(back.ok && Number(back.resources.memory)).toBeLessThanOrEqual(1e9);
    expect(fromMesosResources([{ name: "bugs", type: "SET", set: { item: ["a"] } }])).toMatchObject({
      ok: false,
    });
    expect(fromMesosResources([{ ...cpus(1), disk: { persistence: { id: "v" } } }])).toMatchObject({
      ok: false,
    });
    expect(fromMesosResources([cpus(-1)])).toMatchObject({ ok: false });
  });
});

describe("ids", () => {
  it("maps Mesos ids to DNS labels deterministically", () => {
    expect(frameworkNameFor("my-fw-1234abcd")).toBe("my-fw-1234abcd");
    const odd = frameworkNameFor("7d8f-11e5-97c4-0242ac110003-0001:Marathon");
    expect(odd).toMatch(/^[a-z0-9-]{1,30}$/);
    expect(frameworkNameFor("7d8f-11e5-97c4-0242ac110003-0001:Marathon")).toBe(odd);
    expect(newFrameworkId("My Framework!")).toMatch(/^my-framework-[0-9a-f]{8}$/);
    expect(newFrameworkId("¿¿")).toMatch(/^mesos-[0-9a-f]{8}$/);
    expect(taskKeyFor("task-1")).toBe("task-1");
    expect(taskKeyFor("app.instance-1_A")).toMatch(/^app-instance-1-a-[0-9a-f]{12}$/);
    expect(taskKeyFor("A")).not.toBe(taskKeyFor("a"));
  });
});

describe("tasks", () => {
  const base = { name: "t", task_id: { value: "Task 1" }, resources: [cpus(0.5), mem(64)] };

  it("CommandInfo runs in the default image with sh -c, env and Mesos ids", () => {
    const c = convertTask(
      {
        ...base,
        command: { value: "echo $FOO", environment: { variables: [{ name: "FOO", value: "bar" }] } },
        labels: {
          labels: [
            { key: "sim.kubeoffers.io/run-seconds", value: "2" },
            { key: "kubeoffers.io/task-group", value: "x" },
            { key: "team", value: "a" },
          ],
        },
        kill_policy: { grace_period: { nanoseconds: 2_500_000_000 } },
      },
      ctx,
    );
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.key).toBe(taskKeyFor("Task 1"));
    const spec = c.task.template.spec as Spec;
    expect(main(c)).toMatchObject({
      image: "busybox:1.35",
      command: ["/bin/sh", "-c", "echo $FOO"],
    });
    expect(main(c).env).toEqual(
      expect.arrayContaining([
        { name: "FOO", value: "bar" },
        { name: "MESOS_TASK_ID", value: "Task 1" },
        { name: "MESOS_FRAMEWORK_ID", value: "fw-1" },
      ]),
    );
    expect(spec.terminationGracePeriodSeconds).toBe(3);
    const ann = c.task.template.metadata?.annotations ?? {};
    expect(ann["sim.kubeoffers.io/run-seconds"]).toBe("2");
    expect(ann.team).toBe("a");
    expect(ann["kubeoffers.io/task-group"]).toBeUndefined(); // operator-owned keys are not copied
    expect(mesosIdsOf(ann).get(c.key)).toBe("Task 1");
    expect(c.task.resources).toEqual({ cpu: "500m", memory: "64Mi" });
  });

  it("ContainerInfo images are used as given; shell=false keeps the argv", () => {
    const docker = convertTask(
      {
        ...base,
        command: { shell: false, value: "/bin/server", arguments: ["/bin/server", "--port", "80"] },
        container: { type: "DOCKER", docker: { image: "nginx:1.27", privileged: true } },
      },
      ctx,
    );
    expect(main(docker)).toMatchObject({
      image: "nginx:1.27",
      command: ["/bin/server"],
      args: ["--port", "80"],
      securityContext: { privileged: true },
    });
    const mesosImg = convertTask(
      {
        ...base,
        container: { type: "MESOS", mesos: { image: { type: "DOCKER", docker: { name: "alpine:3" } } } },
      },
      ctx,
    );
    expect(main(mesosImg).image).toBe("alpine:3");
    expect(main(mesosImg).command).toBeUndefined();
  });

  it("refuses what it cannot run, naming why", () => {
    const why = (t: Record<string, unknown>) => {
      const c = convertTask({ ...base, command: { value: "true" }, ...t } as never, ctx);
      return c.ok ? "" : c.error;
    };
    expect(why({ executor: { executor_id: { value: "e" } } })).toMatch(/custom executors/);
    expect(why({ command: { value: "x", uris: [{ value: "http://x/y.tgz" }] } })).toMatch(/fetcher/);
    expect(
      why({ container: { type: "MESOS", mesos: { image: { type: "APPC", appc: { name: "a" } } } } }),
    ).toMatch(/APPC/);
    expect(why({ container: { type: "DOCKER", volumes: [{}], docker: { image: "x" } } })).toMatch(/volumes/);
    expect(why({ command: undefined })).toMatch(/CommandInfo or a ContainerInfo/);
    expect(why({ agent_id: { value: "other" } })).toMatch(/not the offer's agent/);
    expect(
      why({ command: { value: "x", environment: { variables: [{ name: "S", type: "SECRET" }] } } }),
    ).toMatch(/secrets/);
  });

  it("labels copied onto Pods: valid keys outside kubeoffers.io, and the simulator's", () => {
    expect(copiedLabel("team")).toBe(true);
    expect(copiedLabel("example.com/x")).toBe(true);
    expect(copiedLabel("sim.kubeoffers.io/exit-code")).toBe(true);
    expect(copiedLabel("kubeoffers.io/framework")).toBe(false);
    expect(copiedLabel("acked.mesos.kubeoffers.io/x")).toBe(false);
    expect(copiedLabel("not a key")).toBe(false);
  });

  it("states as a framework sees them, and TaskStatus with Mesos reasons only", () => {
    const plain = { partitionAware: false, taskKillingState: false };
    const aware = { partitionAware: true, taskKillingState: true };
    expect(mesosState("TASK_UNREACHABLE", plain)).toBe("TASK_LOST");
    expect(mesosState("TASK_UNREACHABLE", aware)).toBe("TASK_UNREACHABLE");
    expect(mesosState("TASK_DROPPED", plain)).toBe("TASK_LOST");
    expect(mesosState("TASK_KILLING", plain)).toBeUndefined();
    expect(mesosState("TASK_KILLING", aware)).toBe("TASK_KILLING");
    const err = taskStatus({
      mesosTaskId: "t",
      state: "TASK_ERROR",
      reason: "PodRejected",
      message: "bad",
      agentId: "n",
    });
    expect(err).toMatchObject({
      state: "TASK_ERROR",
      reason: "REASON_TASK_INVALID",
      message: "PodRejected: bad",
      source: "SOURCE_MASTER",
      agent_id: { value: "n" },
    });
    const killed = taskStatus({
      mesosTaskId: "t",
      state: "TASK_KILLED",
      reason: "REASON_TASK_KILLED",
      uuid: "u",
    });
    expect(killed.reason).toBeUndefined(); // not a Mesos reason name
    expect(killed).toMatchObject({ source: "SOURCE_EXECUTOR", uuid: "u" });
    const failed = taskStatus({
      mesosTaskId: "t",
      state: "TASK_FAILED",
      reason: "REASON_COMMAND_EXECUTOR_FAILED",
    });
    expect(failed.reason).toBe("REASON_COMMAND_EXECUTOR_FAILED");
    expect(taskStatus({ mesosTaskId: "t", state: "TASK_RUNNING", reconciliation: true })).toMatchObject({
      reason: "REASON_RECONCILIATION",
      source: "SOURCE_MASTER",
    });
  });
});

describe("FrameworkInfo", () => {
  it("maps roles, capabilities, failover, suppressed roles, constraints and offer filters", () => {
    const t = frameworkSpecOf(
      {
        user: "root",
        name: "spark",
        roles: ["a", "b"],
        failover_timeout: 604800.5,
        capabilities: [{ type: "MULTI_ROLE" }, { type: "GPU_RESOURCES" }, { type: "PARTITION_AWARE" }],
        offer_filters: {
          a: {
            min_allocatable_resources: {
              quantities: [{ quantities: { cpus: { value: 1 }, mem: { value: 512 } } }],
            },
          },
        },
      },
      ["b"],
      {
        role_constraints: {
          a: {
            groups: [
              {
                attribute_constraints: [
                  { selector: { attribute_name: "zone" }, predicate: { text_equals: { value: "a" } } },
                ],
              },
            ],
          },
          b: {
            groups: [
              {
                attribute_constraints: [
                  { selector: { attribute_name: "zone" }, predicate: { text_equals: { value: "a" } } },
                ],
              },
            ],
          },
        },
      },
    );
    expect(t).toMatchObject({
      ok: true,
      spec: {
        roles: ["a", "b"],
        suppressedRoles: ["b"],
        failoverTimeoutSeconds: 604801,
        capabilities: { gpuResources: true, partitionAware: true, taskKillingState: false },
        constraints: [{ attribute: "zone", operator: "In", values: ["a"] }],
        minAllocatable: { a: [{ cpu: "1", memory: "512Mi" }] },
        user: "root",
        displayName: "spark",
      },
    });
    // Without MULTI_ROLE the single (deprecated) role counts; the default is "*", failover 0.
    expect(frameworkSpecOf({ name: "x", role: "web" }, undefined, undefined)).toMatchObject({
      ok: true,
      spec: { roles: ["web"], failoverTimeoutSeconds: 0 },
    });
    expect(frameworkSpecOf({ name: "x" }, undefined, undefined)).toMatchObject({
      ok: true,
      spec: { roles: ["*"] },
    });
    expect(frameworkSpecOf({ name: "x", role: "web" }, ["other"], undefined)).toMatchObject({ ok: false });
    expect(frameworkSpecOf({ name: "x", role: "Bad Role" }, undefined, undefined)).toMatchObject({
      ok: false,
    });
    expect(
      frameworkSpecOf({ name: "x", role: "web" }, undefined, {
        role_constraints: {
          web: {
            groups: [
              {
                attribute_constraints: [
                  { selector: { attribute_name: "z" }, predicate: { text_matches: { regex: "a.*" } } },
                ],
              },
            ],
          },
        },
      }),
    ).toMatchObject({ ok: false, error: expect.stringMatching(/regular expressions/) });
  });
});
