import { describe, expect, it } from "vitest";
import { parseCall } from "../protocol.ts";
import {
  CALL,
  DecodeError,
  decodeCall,
  decodeEvent,
  decodeMessage,
  EVENT,
  encodeCall,
  encodeEvent,
  messageType,
} from "./scheduler-codec.ts";

const fw = { value: "fw-1" };
const agent = { value: "node-a" };
const task = { value: "task-1" };
const UUID = Buffer.from("00112233445566778899aabbccddeeff", "hex").toString("base64");
const cpus = { name: "cpus", type: "SCALAR", scalar: { value: 0.5 } };

const taskInfo = {
  name: "web",
  task_id: task,
  agent_id: agent,
  resources: [cpus, { name: "ports", type: "RANGES", ranges: { range: [{ begin: 31000, end: 31005 }] } }],
  command: {
    value: "sleep 10",
    shell: false,
    arguments: ["sleep", "10"],
    environment: { variables: [{ name: "A", type: "VALUE", value: "1" }] },
    uris: [{ value: "http://x/y.tgz", extract: true }],
  },
  container: {
    type: "DOCKER",
    docker: {
      image: "busybox:1.35",
      network: "BRIDGE",
      privileged: true,
      force_pull_image: true,
      port_mappings: [{ host_port: 31000, container_port: 80, protocol: "tcp" }],
      parameters: [{ key: "k", value: "v" }],
    },
    hostname: "web-1",
    volumes: [{ mode: "RO", container_path: "/data", host_path: "/srv" }],
    mesos: { image: { type: "DOCKER", docker: { name: "busybox" } } },
  },
  kill_policy: { grace_period: { nanoseconds: 7_500_000_000 } },
  max_completion_time: { nanoseconds: 3_600_000_000_000 },
  data: Buffer.from("payload").toString("base64"),
  labels: { labels: [{ key: "team", value: "web" }, { key: "bare" }] },
};

const executor = {
  type: "DEFAULT",
  executor_id: { value: "ex" },
  framework_id: fw,
  resources: [cpus],
  shutdown_grace_period: { nanoseconds: 1 },
};

const frameworkInfo = {
  user: "root",
  name: "spark",
  id: fw,
  failover_timeout: 604800,
  checkpoint: true,
  role: "*",
  roles: ["a", "b/c"],
  hostname: "h",
  principal: "spark",
  webui_url: "http://ui",
  capabilities: [{ type: "MULTI_ROLE" }, { type: "RESERVATION_REFINEMENT" }, { type: "PARTITION_AWARE" }],
  labels: { labels: [{ key: "k", value: "v" }] },
  offer_filters: {
    a: {
      min_allocatable_resources: { quantities: [{ quantities: { cpus: { value: 1 }, mem: { value: 64 } } }] },
    },
  },
};

const offerConstraints = {
  role_constraints: {
    a: {
      groups: [
        {
          attribute_constraints: [
            { selector: { attribute_name: "rack" }, predicate: { text_equals: { value: "r1" } } },
            { selector: { pseudoattribute_type: "HOSTNAME" }, predicate: { exists: {} } },
          ],
        },
      ],
    },
  },
};

/** One Call of every type, with the fields each carries. */
const CALLS: Record<string, Record<string, unknown>> = {
  UNKNOWN: { framework_id: fw, type: "UNKNOWN" },
  SUBSCRIBE: {
    framework_id: fw,
    type: "SUBSCRIBE",
    subscribe: {
      framework_info: frameworkInfo,
      suppressed_roles: ["b/c"],
      offer_constraints: offerConstraints,
    },
  },
  TEARDOWN: { framework_id: fw, type: "TEARDOWN" },
  ACCEPT: {
    framework_id: fw,
    type: "ACCEPT",
    accept: {
      offer_ids: [{ value: "o-1" }, { value: "o-2" }],
      operations: [
        { type: "LAUNCH", launch: { task_infos: [taskInfo] } },
        { type: "LAUNCH_GROUP", launch_group: { executor, task_group: { tasks: [taskInfo] } } },
        {
          type: "RESERVE",
          id: { value: "op-1" },
          reserve: {
            resources: [
              {
                ...cpus,
                reservations: [
                  { type: "DYNAMIC", role: "a", principal: "spark", labels: { labels: [{ key: "x" }] } },
                ],
              },
            ],
          },
        },
        {
          type: "UNRESERVE",
          unreserve: { resources: [{ ...cpus, role: "a", reservation: { principal: "p" } }] },
        },
        { type: "CREATE", create: { volumes: [{ ...cpus, disk: { persistence: { id: "v" } } }] } },
        { type: "DESTROY", destroy: { volumes: [cpus] } },
      ],
      filters: { refuse_seconds: 30 },
    },
  },
  DECLINE: {
    framework_id: fw,
    type: "DECLINE",
    decline: { offer_ids: [{ value: "o-1" }], filters: { refuse_seconds: 1 } },
  },
  ACCEPT_INVERSE_OFFERS: {
    framework_id: fw,
    type: "ACCEPT_INVERSE_OFFERS",
    accept_inverse_offers: { inverse_offer_ids: [{ value: "i" }] },
  },
  DECLINE_INVERSE_OFFERS: {
    framework_id: fw,
    type: "DECLINE_INVERSE_OFFERS",
    decline_inverse_offers: { inverse_offer_ids: [{ value: "i" }], filters: { refuse_seconds: 2 } },
  },
  REVIVE: { framework_id: fw, type: "REVIVE", revive: { roles: ["a"] } },
  SUPPRESS: { framework_id: fw, type: "SUPPRESS", suppress: { roles: ["a", "b/c"] } },
  KILL: {
    framework_id: fw,
    type: "KILL",
    kill: { task_id: task, agent_id: agent, kill_policy: { grace_period: { nanoseconds: 2_000_000_000 } } },
  },
  SHUTDOWN: {
    framework_id: fw,
    type: "SHUTDOWN",
    shutdown: { executor_id: { value: "ex" }, agent_id: agent },
  },
  ACKNOWLEDGE: {
    framework_id: fw,
    type: "ACKNOWLEDGE",
    acknowledge: { agent_id: agent, task_id: task, uuid: UUID },
  },
  ACKNOWLEDGE_OPERATION_STATUS: {
    framework_id: fw,
    type: "ACKNOWLEDGE_OPERATION_STATUS",
    acknowledge_operation_status: { agent_id: agent, uuid: UUID, operation_id: { value: "op-1" } },
  },
  RECONCILE: {
    framework_id: fw,
    type: "RECONCILE",
    reconcile: { tasks: [{ task_id: task, agent_id: agent }] },
  },
  RECONCILE_OPERATIONS: {
    framework_id: fw,
    type: "RECONCILE_OPERATIONS",
    reconcile_operations: { operations: [{ operation_id: { value: "op-1" }, agent_id: agent }] },
  },
  MESSAGE: {
    framework_id: fw,
    type: "MESSAGE",
    message: { agent_id: agent, executor_id: { value: "ex" }, data: Buffer.from("hi").toString("base64") },
  },
  REQUEST: {
    framework_id: fw,
    type: "REQUEST",
    request: { requests: [{ agent_id: agent, resources: [cpus] }] },
  },
  UPDATE_FRAMEWORK: {
    framework_id: fw,
    type: "UPDATE_FRAMEWORK",
    update_framework: {
      framework_info: frameworkInfo,
      suppressed_roles: ["a"],
      offer_constraints: offerConstraints,
    },
  },
};

const offer = {
  id: { value: "o-1" },
  framework_id: fw,
  agent_id: agent,
  hostname: "node-a",
  resources: [
    { ...cpus, allocation_info: { role: "a" } },
    { name: "mem", type: "SCALAR", scalar: { value: 1024 }, role: "a", reservation: { principal: "p" } },
    {
      name: "disk",
      type: "SCALAR",
      scalar: { value: 10 },
      reservations: [
        { type: "STATIC", role: "a" },
        {
          type: "DYNAMIC",
          role: "a/b",
          labels: { labels: [{ key: "kubeoffers.io/reservation", value: "r1" }] },
        },
      ],
    },
    { name: "ports", type: "RANGES", ranges: { range: [{ begin: 1, end: 65535 }] } },
  ],
  attributes: [
    { name: "rack", type: "TEXT", text: { value: "r1" } },
    { name: "n", type: "SCALAR", scalar: { value: 2 } },
    { name: "s", type: "SET", set: { item: ["x"] } },
    { name: "r", type: "RANGES", ranges: { range: [{ begin: 0, end: 9007199254740991 }] } },
  ],
  executor_ids: [{ value: "ex" }],
  allocation_info: { role: "a" },
};

/** One Event of every type the API sends. */
const EVENTS: Record<string, Record<string, unknown>> = {
  SUBSCRIBED: {
    type: "SUBSCRIBED",
    subscribed: {
      framework_id: fw,
      heartbeat_interval_seconds: 15,
      master_info: {
        id: "m-1",
        ip: 16777343,
        port: 5050,
        pid: "master@127.0.0.1:5050",
        hostname: "localhost",
        version: "1.11.0",
        address: { hostname: "localhost", ip: "127.0.0.1", port: 5050 },
        capabilities: [{ type: "AGENT_UPDATE" }],
      },
    },
  },
  OFFERS: { type: "OFFERS", offers: { offers: [offer] } },
  RESCIND: { type: "RESCIND", rescind: { offer_id: { value: "o-1" } } },
  UPDATE: {
    type: "UPDATE",
    update: {
      status: {
        task_id: task,
        state: "TASK_STARTING",
        message: "m",
        source: "SOURCE_EXECUTOR",
        reason: "REASON_RECONCILIATION",
        agent_id: agent,
        timestamp: 1700000000.25,
        uuid: UUID,
        healthy: true,
        labels: { labels: [{ key: "k", value: "v" }] },
        unreachable_time: { nanoseconds: 1 },
      },
    },
  },
  UPDATE_OPERATION_STATUS: {
    type: "UPDATE_OPERATION_STATUS",
    update_operation_status: {
      status: {
        operation_id: { value: "op-1" },
        state: "OPERATION_FINISHED",
        message: "done",
        converted_resources: [cpus],
        uuid: { value: UUID },
        agent_id: agent,
      },
    },
  },
  MESSAGE: {
    type: "MESSAGE",
    message: { agent_id: agent, executor_id: { value: "ex" }, data: Buffer.from("x").toString("base64") },
  },
  FAILURE: { type: "FAILURE", failure: { agent_id: agent, executor_id: { value: "ex" }, status: -1 } },
  ERROR: { type: "ERROR", error: { message: "Framework failed over" } },
  HEARTBEAT: { type: "HEARTBEAT" },
};

const bytes = (hex: string) => Buffer.from(hex.replace(/\s+/g, ""), "hex");
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");
const decodeError = (hex: string) => {
  try {
    decodeCall(bytes(hex));
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return (err as Error).message;
  }
  throw new Error(`decoded: ${hex}`);
};

describe("scheduler protobuf codec", () => {
  it("has a sample of every Call type and every Event type it sends", () => {
    const callTypes = Object.keys(messageType(CALL).lookupEnum("Type").values);
    expect(Object.keys(CALLS).sort()).toEqual(callTypes.sort());
    const eventTypes = Object.keys(messageType(EVENT).lookupEnum("Type").values).filter(
      (t) => !["UNKNOWN", "INVERSE_OFFERS", "RESCIND_INVERSE_OFFER"].includes(t),
    );
    expect(Object.keys(EVENTS).sort()).toEqual(eventTypes.sort());
  });

  it.each(Object.entries(CALLS))("round-trips a %s call to the JSON path's shape", (_, call) => {
    expect(decodeCall(encodeCall(call))).toEqual(call);
  });

  it.each(Object.entries(EVENTS))("round-trips a %s event", (_, event) => {
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
  });

  it("decodes calls that parseCall takes as they are (the JSON path after decoding is shared)", () => {
    for (const [type, call] of Object.entries(CALLS)) {
      const parsed = parseCall(decodeCall(encodeCall(call)));
      expect(parsed.ok, `${type}: ${parsed.ok ? "" : parsed.error}`).toBe(true);
    }
  });

  it("encodes golden bytes for a DECLINE call, computed by hand from the field numbers", () => {
    const call = {
      framework_id: { value: "fw" },
      type: "DECLINE",
      decline: { offer_ids: [{ value: "o1" }], filters: { refuse_seconds: 1 } },
    };
    // Call.framework_id (1, LEN 4) = FrameworkID.value (1, LEN 2) "fw"; Call.type (2, varint) = DECLINE 4;
    // Call.decline (5, LEN 17) = Decline.offer_ids (1, LEN 4) {value "o1"}, Decline.filters (2, LEN 9) =
    // Filters.refuse_seconds (1, fixed64) 1.0.
    const golden = "0a04 0a02 6677  1004  2a11 0a04 0a02 6f31 1209 09 000000000000f03f";
    expect(hexOf(encodeCall(call))).toBe(hexOf(bytes(golden)));
    expect(decodeCall(bytes(golden))).toEqual(call);
  });

  it("encodes golden bytes for an UPDATE event: a required enum of value 0 is written", () => {
    const event = { type: "UPDATE", update: { status: { task_id: { value: "t" }, state: "TASK_STARTING" } } };
    // Event.type (1) = UPDATE 4; Event.update (5, LEN 9) = Update.status (1, LEN 7) = TaskStatus.task_id
    // (1, LEN 3) {value "t"}, TaskStatus.state (2, varint) = TASK_STARTING 0 (required: written although 0).
    expect(hexOf(encodeEvent(event))).toBe("08042a090a070a030a01741000");
    expect(hexOf(encodeEvent({ type: "HEARTBEAT" }))).toBe("0808");
  });

  it("writes every required field, also those whose value is the default", () => {
    // Resource.type SCALAR is 0 and Value.Scalar.value 0: both are still on the wire.
    const r = messageType("mesos.v1.Resource");
    const encoded = hexOf(
      r.encode(r.fromObject({ name: "x", type: "SCALAR", scalar: { value: 0 } })).finish(),
    );
    // name (1, LEN 1) "x"; type (2, varint) 0; scalar (3, LEN 9) = value (1, fixed64) 0.0
    expect(encoded).toBe("0a0178 1000 1a09 09 0000000000000000".replace(/\s+/g, ""));
    const offerBytes = encodeEvent({ type: "OFFERS", offers: { offers: [offer] } });
    const back = decodeEvent(offerBytes) as { offers: { offers: Record<string, unknown>[] } };
    for (const f of ["id", "framework_id", "agent_id", "hostname"])
      expect(back.offers.offers[0]).toHaveProperty(f);
  });

  it("refuses to encode an event that misses a required field, names an unknown enum value or an unknown field", () => {
    expect(() => encodeEvent({ type: "UPDATE", update: { status: { task_id: task } } })).toThrow(
      /update\.status\.state: required field is missing/,
    );
    expect(() =>
      encodeEvent({ type: "UPDATE", update: { status: { task_id: task, state: "TASK_NOPE" } } }),
    ).toThrow(/update\.status\.state: "TASK_NOPE" is not a value of enum mesos\.v1\.TaskState/);
    expect(() => encodeEvent({ type: "RESCIND", rescind: { offer_id: { value: "o" }, extra: 1 } })).toThrow(
      /rescind\.extra: not a field of mesos\.v1\.scheduler\.Event\.Rescind/,
    );
  });

  describe("bad protobuf input is a DecodeError that says what is wrong", () => {
    it("truncated input", () => {
      // framework_id says 4 bytes follow, 3 do.
      expect(decodeError("0a04 0a02 66")).toMatch(/^truncated/);
      // A tag with nothing after it.
      expect(decodeError("08")).toMatch(/^truncated/);
    });

    it("invalid wire types", () => {
      expect(decodeError("0f")).toMatch(/invalid wire type 7/);
      expect(decodeError("1004 0e")).toMatch(/invalid wire type 6/);
    });

    it("a known field sent with the wrong wire type is skipped as protobuf does, so a required one is missing", () => {
      // Acknowledge.uuid (3) as a varint instead of bytes.
      const msg = decodeError("1008 420c 0a03 0a01 61 1203 0a01 74 1801");
      expect(msg).toBe("acknowledge.uuid: required field is missing");
    });

    it("unknown enum values, with their path", () => {
      expect(decodeError("1063")).toBe("type: 99 is not a value of enum mesos.v1.scheduler.Call.Type");
      // SUBSCRIBE whose framework_info (user "u", name "n") has a capability of type 42.
      const call = "1001 1a0c 0a0a 0a0175 12016e 5202082a";
      expect(decodeError(call)).toBe(
        "subscribe.framework_info.capabilities.0.type: 42 is not a value of enum mesos.v1.FrameworkInfo.Capability.Type",
      );
    });

    it("missing required fields, with their path", () => {
      expect(decodeError("1001 1a00")).toBe("subscribe.framework_info: required field is missing");
      expect(decodeError("1001 1a02 0a00")).toBe("subscribe.framework_info.user: required field is missing");
    });

    it("strings with bytes that are not UTF-8 are read as the JSON path reads them (replaced), as proto2 does not check them", () => {
      // SUBSCRIBE whose framework_info has user "u" and name 0xff.
      const call = decodeCall(bytes("1001 1a08 0a06 0a0175 1201ff")) as {
        subscribe: { framework_info: { name: string } };
      };
      expect(call.subscribe.framework_info.name).toBe("\ufffd");
    });

    it("huge lengths", () => {
      // subscribe (3) claims 2^28-1 bytes.
      expect(decodeError("1affffff7f")).toMatch(/^truncated/);
      // A length beyond 32 bits.
      expect(decodeError("1affffffff7f")).toBe("a length or tag does not fit in 32 bits");
    });

    it("garbage of every length never throws anything but a DecodeError", () => {
      let seed = 7;
      const next = () => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed & 0xff;
      };
      for (let n = 0; n < 2000; n++) {
        const b = Buffer.from(Array.from({ length: n % 64 }, next));
        try {
          decodeMessage(CALL, b);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }
    });
  });
});
