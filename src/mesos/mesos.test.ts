// Unit tests of the Mesos API's pure parts: call validation, resources, ids, task and
// status translation, FrameworkInfo -> Framework spec, and the scheduler semantics that are pure
// (role checks, grace periods, operation updates, MasterInfo, the resource format).
import { describe, expect, it } from "vitest";
import { refuseSeconds } from "./accept-plan.ts";
import { masterIp, type OperationStatus, operationStatus } from "./events.ts";
import { frameworkSpecOf } from "./framework.ts";
import { frameworkNameFor, newFrameworkId, taskKeyFor } from "./ids.ts";
import { decodeCall, encodeCall } from "./proto/scheduler-codec.ts";
import { parseCall } from "./protocol.ts";
import { fromMesosResources, toMesosResources, toMesosTotals } from "./resources.ts";
import { namedRoles } from "./session.ts";
import { holderAddress, holderIdentity } from "./subscribe.ts";
import { graceSeconds } from "./task-calls.ts";
import { convertTask, copiedLabel, mesosIdsOf, mesosState, taskStatus } from "./tasks.ts";
import { OperationUpdates } from "./update-queue.ts";

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

describe("resource format by capability (Master::offer)", () => {
  const offer = () => ({ cpu: "2", memory: "1Gi" });
  const reservations: { id?: string; resources: Record<string, string> }[] = [
    { id: "r1", resources: { cpu: "1" } },
    { resources: { memory: "512Mi" } },
  ];

  it("MULTI_ROLE and RESERVATION_REFINEMENT: allocation_info, and the reservations stack without role", () => {
    const r = toMesosResources(offer(), "eng", reservations, { multiRole: true, refinement: true });
    for (const x of r) {
      expect(x.allocation_info).toEqual({ role: "eng" });
      expect(x).not.toHaveProperty("role");
      expect(x).not.toHaveProperty("reservation");
    }
    expect(r.find((x) => x.name === "cpus" && x.reservations)?.reservations).toEqual([
      {
        type: "DYNAMIC",
        role: "eng",
        labels: { labels: [{ key: "kubeoffers.io/reservation", value: "r1" }] },
      },
    ]);
    expect(r.find((x) => x.name === "mem" && x.reservations)?.reservations).toEqual([
      { type: "STATIC", role: "eng" },
    ]);
  });

  it("neither: no allocation_info, `role` ('*' unreserved) and `reservation` for a dynamic one", () => {
    const r = toMesosResources(offer(), "eng", reservations, { multiRole: false, refinement: false });
    for (const x of r) {
      expect(x).not.toHaveProperty("allocation_info");
      expect(x).not.toHaveProperty("reservations");
    }
    expect(r.filter((x) => x.role === "*").map((x) => x.name)).toEqual(["cpus", "mem"]);
    const dynamic = r.find((x) => x.name === "cpus" && x.role === "eng");
    expect(dynamic?.reservation).toEqual({
      labels: { labels: [{ key: "kubeoffers.io/reservation", value: "r1" }] },
    });
    const statik = r.find((x) => x.name === "mem" && x.role === "eng");
    expect(statik).not.toHaveProperty("reservation");
  });

  it("an UNRESERVE in either form finds the reservation's id", () => {
    const label = { labels: { labels: [{ key: "kubeoffers.io/reservation", value: "r9" }] } };
    const pre = fromMesosResources([{ ...cpus(1), role: "eng", reservation: label }]);
    const post = fromMesosResources([
      { ...cpus(1), reservations: [{ type: "DYNAMIC", role: "eng", ...label }] },
    ]);
    expect(pre).toMatchObject({ ok: true, reservation: "r9" });
    expect(post).toMatchObject({ ok: true, reservation: "r9" });
  });
});

describe("scheduler semantics (Master::suppress, revive, kill, reconcileOperations)", () => {
  it("SUPPRESS / REVIVE of a role the framework is not subscribed to is dropped whole", () => {
    expect(namedRoles({ roles: ["a"] }, ["a", "b"])).toEqual({ roles: ["a"] });
    expect(namedRoles({}, ["a", "b"])).toEqual({ roles: [] });
    expect(namedRoles({ role: "b" }, ["a", "b"])).toEqual({ roles: ["b"] });
    const dropped = namedRoles({ roles: ["a", "nope"] }, ["a", "b"]);
    expect(dropped).toEqual({ dropped: "role 'nope' is not one of the framework's subscribed roles (a, b)" });
  });

  it("kill_policy grace periods in whole seconds, rounded up", () => {
    expect(graceSeconds(undefined)).toBeUndefined();
    expect(graceSeconds({ nanoseconds: 0 })).toBe(0);
    expect(graceSeconds({ nanoseconds: 1 })).toBe(1);
    expect(graceSeconds({ nanoseconds: 7_500_000_000 })).toBe(8);
    expect(graceSeconds({ nanoseconds: -5 })).toBe(0);
  });

  it("ACKNOWLEDGE and ACKNOWLEDGE_OPERATION_STATUS carry a 16-byte uuid; the latter an agent_id", () => {
    const fw = { value: "f" };
    const uuid = Buffer.alloc(16, 7).toString("base64");
    const ack = (u: string) => ({
      framework_id: fw,
      type: "ACKNOWLEDGE",
      acknowledge: { agent_id: { value: "a" }, task_id: { value: "t" }, uuid: u },
    });
    expect(parseCall(ack(uuid)).ok).toBe(true);
    expect(parseCall(ack("AAAA"))).toEqual({
      ok: false,
      error: "Failed to validate scheduler::Call: uuid: not a valid UUID (16 bytes, base64)",
    });
    const opAck = (agent: boolean) => ({
      framework_id: fw,
      type: "ACKNOWLEDGE_OPERATION_STATUS",
      acknowledge_operation_status: {
        uuid,
        operation_id: { value: "op" },
        ...(agent ? { agent_id: { value: "a" } } : {}),
      },
    });
    expect(parseCall(opAck(true)).ok).toBe(true);
    expect(parseCall(opAck(false))).toEqual({
      ok: false,
      error: "Failed to validate scheduler::Call: Expecting 'agent_id' to be present",
    });
    expect(parseCall({ framework_id: fw, type: "UNKNOWN" }).ok).toBe(true);
  });

  it("operation status updates: a uuid each, re-sent until acknowledged, the latest kept for reconciliation", async () => {
    const sent: Record<string, unknown>[] = [];
    const q = new OperationUpdates({ stream: () => ({ send: (e) => sent.push(e) }), retryMs: 100 });
    q.enqueue(operationStatus("op-1", "node-a"));
    const first = sent[0] as { update_operation_status: { status: OperationStatus } };
    const uuid = first.update_operation_status.status.uuid?.value ?? "";
    expect(Buffer.from(uuid, "base64")).toHaveLength(16);
    expect(first.update_operation_status.status).toMatchObject({
      operation_id: { value: "op-1" },
      state: "OPERATION_FINISHED",
      agent_id: { value: "node-a" },
    });
    q.startRetries();
    try {
      const deadline = Date.now() + 5000;
      while (sent.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(sent.length).toBeGreaterThanOrEqual(2);
      expect(sent[1]).toEqual(sent[0]);
      expect(q.acknowledge("op-1", "not-it")).toBe(false);
      expect(q.acknowledge("op-1", uuid)).toBe(true);
      const after = sent.length;
      await new Promise((r) => setTimeout(r, 300));
      expect(sent.length).toBe(after);
    } finally {
      q.stopRetries();
    }
    // Reconciliation answers carry no uuid.
    expect(q.latestOf("op-1")).toEqual(operationStatus("op-1", "node-a"));
    expect(q.latestOf("op-1")).not.toHaveProperty("uuid");
    q.enqueue(operationStatus("op-2", "node-a", "InvalidReservation: no"));
    expect(q.all().map((s) => [s.operation_id.value, s.state])).toEqual([
      ["op-1", "OPERATION_FINISHED"],
      ["op-2", "OPERATION_ERROR"],
    ]);
  });
});

describe("SUBSCRIBED and its stream", () => {
  it("MasterInfo.ip in network order as Mesos fills it", () => {
    expect(masterIp("127.0.0.1")).toBe(16777343);
    expect(masterIp("::ffff:10.1.2.3")).toBe(0x0302010a);
    expect(masterIp("::1")).toBe(0);
    expect(masterIp(undefined)).toBe(0);
  });

  it("the Lease holder names the API instance to redirect to", () => {
    const id = holderIdentity("10.0.0.5:5050", 42, "0123456789abcdef");
    expect(id).toBe("mesos-api@10.0.0.5:5050/42-01234567");
    expect(holderAddress(id)).toBe("10.0.0.5:5050");
    expect(holderAddress("mesos-api-host-42-abc")).toBeUndefined();
    expect(holderAddress(undefined)).toBeUndefined();
  });
});

describe("repeated fields left out are empty, as protobuf has them", () => {
  it("a DECLINE or ACCEPT without offer ids parses (a protobuf DECLINE of no offers, as msh sends it)", () => {
    const fw = { value: "f" };
    const decline = parseCall(decodeCall(encodeCall({ framework_id: fw, type: "DECLINE", decline: {} })));
    expect(decline).toMatchObject({ ok: true, call: { decline: { offer_ids: [] } } });
    const accept = parseCall({ framework_id: fw, type: "ACCEPT", accept: {} });
    expect(accept).toMatchObject({ ok: true, call: { accept: { offer_ids: [] } } });
  });
});
