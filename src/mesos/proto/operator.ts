// Our protobuf schema of the v1 operator API: package mesos.v1.master (Call, Response, Event)
// and mesos.v1.maintenance, plus the mesos.v1 messages only the operator API uses (Task,
// AgentInfo, VersionInfo, Flag, Metric, Role, MachineID, Unavailability). Field names, numbers,
// types and `required` follow Mesos's include/mesos/v1/master/master.proto,
// maintenance/maintenance.proto and mesos.proto; fields nothing here writes are left out (a
// reader skips what it does not know). The other mesos.v1 messages are the scheduler API's
// (mesos.ts). operator-codec.ts builds the Root.
import { enumOf, msg, opt, rep, req, type TypeJson } from "./descriptor.ts";

/** mesos.v1 messages of the operator API that the scheduler API's schema does not have. */
export const MESOS_V1_OPERATOR: Record<string, TypeJson> = {
  Task: msg({
    name: req(1, "string"),
    task_id: req(2, "TaskID"),
    framework_id: req(3, "FrameworkID"),
    executor_id: opt(4, "ExecutorID"),
    agent_id: req(5, "AgentID"),
    state: req(6, "TaskState"),
    resources: rep(7, "Resource"),
    statuses: rep(8, "TaskStatus"),
    status_update_state: opt(9, "TaskState"),
    status_update_uuid: opt(10, "bytes"),
    labels: opt(11, "Labels"),
    user: opt(14, "string"),
  }),
  AgentInfo: msg(
    {
      hostname: req(1, "string"),
      port: opt(8, "int32"),
      resources: rep(3, "Resource"),
      attributes: rep(5, "Attribute"),
      id: opt(6, "AgentID"),
    },
    {
      Capability: msg(
        { type: opt(1, "Type") },
        {
          Type: enumOf({
            UNKNOWN: 0,
            MULTI_ROLE: 1,
            HIERARCHICAL_ROLE: 2,
            RESERVATION_REFINEMENT: 3,
            RESOURCE_PROVIDER: 4,
            RESIZE_VOLUME: 5,
            AGENT_OPERATION_FEEDBACK: 6,
            AGENT_DRAINING: 7,
            TASK_RESOURCE_LIMITS: 8,
          }),
        },
      ),
    },
  ),
  VersionInfo: msg({
    version: req(1, "string"),
    build_date: opt(2, "string"),
    build_time: opt(3, "double"),
    build_user: opt(4, "string"),
    git_sha: opt(5, "string"),
    git_branch: opt(6, "string"),
    git_tag: opt(7, "string"),
  }),
  Flag: msg({ name: req(1, "string"), value: opt(2, "string") }),
  Metric: msg({ name: req(1, "string"), value: opt(2, "double") }),
  Role: msg({
    name: req(1, "string"),
    weight: req(2, "double"),
    frameworks: rep(3, "FrameworkID"),
    resources: rep(4, "Resource"),
  }),
  MachineID: msg({ hostname: opt(1, "string"), ip: opt(2, "string") }),
  Unavailability: msg({ start: req(1, "TimeInfo"), duration: opt(2, "DurationInfo") }),
};

/** package mesos.v1.maintenance. */
export const MESOS_V1_MAINTENANCE: Record<string, TypeJson> = {
  Window: msg({
    machine_ids: rep(1, "mesos.v1.MachineID"),
    unavailability: req(2, "mesos.v1.Unavailability"),
  }),
  Schedule: msg({ windows: rep(1, "Window") }),
  ClusterStatus: msg(
    { draining_machines: rep(1, "DrainingMachine"), down_machines: rep(2, "mesos.v1.MachineID") },
    // statuses (allocator.InverseOfferStatus) are left out: no inverse offers are sent.
    { DrainingMachine: msg({ id: req(1, "mesos.v1.MachineID") }) },
  ),
};

/** master.proto Call.Type. */
const CALL_TYPES = {
  UNKNOWN: 0,
  GET_HEALTH: 1,
  GET_FLAGS: 2,
  GET_VERSION: 3,
  GET_METRICS: 4,
  GET_LOGGING_LEVEL: 5,
  SET_LOGGING_LEVEL: 6,
  LIST_FILES: 7,
  READ_FILE: 8,
  GET_STATE: 9,
  GET_AGENTS: 10,
  GET_FRAMEWORKS: 11,
  GET_EXECUTORS: 12,
  GET_OPERATIONS: 33,
  GET_TASKS: 13,
  GET_ROLES: 14,
  GET_WEIGHTS: 15,
  UPDATE_WEIGHTS: 16,
  GET_MASTER: 17,
  SUBSCRIBE: 18,
  RESERVE_RESOURCES: 19,
  UNRESERVE_RESOURCES: 20,
  CREATE_VOLUMES: 21,
  DESTROY_VOLUMES: 22,
  GROW_VOLUME: 34,
  SHRINK_VOLUME: 35,
  GET_MAINTENANCE_STATUS: 23,
  GET_MAINTENANCE_SCHEDULE: 24,
  UPDATE_MAINTENANCE_SCHEDULE: 25,
  START_MAINTENANCE: 26,
  STOP_MAINTENANCE: 27,
  DRAIN_AGENT: 37,
  DEACTIVATE_AGENT: 38,
  REACTIVATE_AGENT: 39,
  GET_QUOTA: 28,
  UPDATE_QUOTA: 36,
  SET_QUOTA: 29,
  REMOVE_QUOTA: 30,
  TEARDOWN: 31,
  MARK_AGENT_GONE: 32,
};

/** master.proto Response.Type. */
const RESPONSE_TYPES = {
  UNKNOWN: 0,
  GET_HEALTH: 1,
  GET_FLAGS: 2,
  GET_VERSION: 3,
  GET_METRICS: 4,
  GET_LOGGING_LEVEL: 5,
  LIST_FILES: 6,
  READ_FILE: 7,
  GET_STATE: 8,
  GET_AGENTS: 9,
  GET_FRAMEWORKS: 10,
  GET_EXECUTORS: 11,
  GET_OPERATIONS: 19,
  GET_TASKS: 12,
  GET_ROLES: 13,
  GET_WEIGHTS: 14,
  GET_MASTER: 15,
  GET_MAINTENANCE_STATUS: 16,
  GET_MAINTENANCE_SCHEDULE: 17,
  GET_QUOTA: 18,
};

const GetAgents = msg(
  { agents: rep(1, "Agent"), recovered_agents: rep(2, "mesos.v1.AgentInfo") },
  {
    Agent: msg({
      agent_info: req(1, "mesos.v1.AgentInfo"),
      active: req(2, "bool"),
      deactivated: opt(12, "bool"),
      version: req(3, "string"),
      pid: opt(4, "string"),
      registered_time: opt(5, "mesos.v1.TimeInfo"),
      reregistered_time: opt(6, "mesos.v1.TimeInfo"),
      total_resources: rep(7, "mesos.v1.Resource"),
      allocated_resources: rep(8, "mesos.v1.Resource"),
      offered_resources: rep(9, "mesos.v1.Resource"),
      capabilities: rep(10, "mesos.v1.AgentInfo.Capability"),
    }),
  },
);

const GetFrameworks = msg(
  { frameworks: rep(1, "Framework"), completed_frameworks: rep(2, "Framework") },
  {
    Framework: msg({
      framework_info: req(1, "mesos.v1.FrameworkInfo"),
      active: req(2, "bool"),
      connected: req(3, "bool"),
      recovered: req(11, "bool"),
      registered_time: opt(4, "mesos.v1.TimeInfo"),
      reregistered_time: opt(5, "mesos.v1.TimeInfo"),
      unregistered_time: opt(6, "mesos.v1.TimeInfo"),
      offers: rep(7, "mesos.v1.Offer"),
      allocated_resources: rep(9, "mesos.v1.Resource"),
      offered_resources: rep(10, "mesos.v1.Resource"),
    }),
  },
);

const GetExecutors = msg(
  { executors: rep(1, "Executor"), orphan_executors: rep(2, "Executor") },
  { Executor: msg({ executor_info: req(1, "mesos.v1.ExecutorInfo"), agent_id: req(2, "mesos.v1.AgentID") }) },
);

const GetTasks = msg({
  pending_tasks: rep(1, "mesos.v1.Task"),
  tasks: rep(2, "mesos.v1.Task"),
  unreachable_tasks: rep(5, "mesos.v1.Task"),
  completed_tasks: rep(3, "mesos.v1.Task"),
  orphan_tasks: rep(4, "mesos.v1.Task"),
});

/** package mesos.v1.master. */
export const MESOS_V1_MASTER: Record<string, TypeJson> = {
  Call: msg(
    // The calls' own messages are left out: the calls answered here take none but GET_METRICS's.
    { type: opt(1, "Type"), get_metrics: opt(2, "GetMetrics") },
    { Type: enumOf(CALL_TYPES), GetMetrics: msg({ timeout: opt(1, "mesos.v1.DurationInfo") }) },
  ),
  Response: msg(
    {
      type: opt(1, "Type"),
      get_health: opt(2, "GetHealth"),
      get_flags: opt(3, "GetFlags"),
      get_version: opt(4, "GetVersion"),
      get_metrics: opt(5, "GetMetrics"),
      get_state: opt(9, "GetState"),
      get_agents: opt(10, "GetAgents"),
      get_frameworks: opt(11, "GetFrameworks"),
      get_executors: opt(12, "GetExecutors"),
      get_tasks: opt(13, "GetTasks"),
      get_roles: opt(14, "GetRoles"),
      get_master: opt(16, "GetMaster"),
      get_maintenance_status: opt(17, "GetMaintenanceStatus"),
      get_maintenance_schedule: opt(18, "GetMaintenanceSchedule"),
    },
    {
      Type: enumOf(RESPONSE_TYPES),
      GetHealth: msg({ healthy: req(1, "bool") }),
      GetFlags: msg({ flags: rep(1, "mesos.v1.Flag") }),
      GetVersion: msg({ version_info: req(1, "mesos.v1.VersionInfo") }),
      GetMetrics: msg({ metrics: rep(1, "mesos.v1.Metric") }),
      GetState: msg({
        get_tasks: opt(1, "GetTasks"),
        get_executors: opt(2, "GetExecutors"),
        get_frameworks: opt(3, "GetFrameworks"),
        get_agents: opt(4, "GetAgents"),
      }),
      GetAgents,
      GetFrameworks,
      GetExecutors,
      GetTasks,
      GetRoles: msg({ roles: rep(1, "mesos.v1.Role") }),
      GetMaster: msg({
        master_info: opt(1, "mesos.v1.MasterInfo"),
        start_time: opt(2, "double"),
        elected_time: opt(3, "double"),
      }),
      GetMaintenanceStatus: msg({ status: req(1, "mesos.v1.maintenance.ClusterStatus") }),
      GetMaintenanceSchedule: msg({ schedule: req(1, "mesos.v1.maintenance.Schedule") }),
    },
  ),
  Event: msg(
    {
      type: opt(1, "Type"),
      subscribed: opt(2, "Subscribed"),
      task_added: opt(3, "TaskAdded"),
      task_updated: opt(4, "TaskUpdated"),
      agent_added: opt(5, "AgentAdded"),
      agent_removed: opt(6, "AgentRemoved"),
      framework_added: opt(7, "FrameworkAdded"),
      framework_updated: opt(8, "FrameworkUpdated"),
      framework_removed: opt(9, "FrameworkRemoved"),
    },
    {
      Type: enumOf({
        UNKNOWN: 0,
        SUBSCRIBED: 1,
        TASK_ADDED: 2,
        TASK_UPDATED: 3,
        AGENT_ADDED: 4,
        AGENT_REMOVED: 5,
        FRAMEWORK_ADDED: 6,
        FRAMEWORK_UPDATED: 7,
        FRAMEWORK_REMOVED: 8,
        HEARTBEAT: 9,
      }),
      Subscribed: msg({
        get_state: opt(1, "Response.GetState"),
        heartbeat_interval_seconds: opt(2, "double"),
      }),
      TaskAdded: msg({ task: req(1, "mesos.v1.Task") }),
      TaskUpdated: msg({
        framework_id: req(1, "mesos.v1.FrameworkID"),
        status: req(2, "mesos.v1.TaskStatus"),
        state: req(3, "mesos.v1.TaskState"),
      }),
      FrameworkAdded: msg({ framework: req(1, "Response.GetFrameworks.Framework") }),
      FrameworkUpdated: msg({ framework: req(1, "Response.GetFrameworks.Framework") }),
      FrameworkRemoved: msg({ framework_info: req(1, "mesos.v1.FrameworkInfo") }),
      AgentAdded: msg({ agent: req(1, "Response.GetAgents.Agent") }),
      AgentRemoved: msg({ agent_id: req(1, "mesos.v1.AgentID") }),
    },
  ),
};
