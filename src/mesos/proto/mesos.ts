// Our protobuf schema of the mesos.v1 messages the scheduler API reads or writes, as a
// protobufjs JSON descriptor. Field names, numbers, types and `required` follow Mesos's
// published include/mesos/v1/mesos.proto (proto2); fields nothing here reads are left out
// (a decoder skips them, as the JSON path ignores them). Messages we refuse on sight
// (DiskInfo, ExecutorInfo of a task, volumes) keep enough fields that their presence is seen.
// scheduler.ts holds the mesos.v1.scheduler messages; scheduler-codec.ts builds the Root.
// Over 400 lines on purpose: one table, mesos.proto's messages, kept whole as the .proto has them.
import { enumOf, map, msg, opt, rep, req, type TypeJson } from "./descriptor.ts";

/** The `{value}` id messages: FrameworkID, OfferID, AgentID, TaskID, ExecutorID, … */
const id = () => msg({ value: req(1, "string") });

const TASK_STATES = {
  TASK_STAGING: 6,
  TASK_STARTING: 0,
  TASK_RUNNING: 1,
  TASK_KILLING: 8,
  TASK_FINISHED: 2,
  TASK_FAILED: 3,
  TASK_KILLED: 4,
  TASK_ERROR: 7,
  TASK_LOST: 5,
  TASK_DROPPED: 9,
  TASK_UNREACHABLE: 10,
  TASK_GONE: 11,
  TASK_GONE_BY_OPERATOR: 12,
  TASK_UNKNOWN: 13,
};

/** TaskStatus.Reason: name -> number (messages.ts takes the names from here). */
export const TASK_STATUS_REASON_VALUES = {
  REASON_COMMAND_EXECUTOR_FAILED: 0,
  REASON_CONTAINER_LAUNCH_FAILED: 21,
  REASON_CONTAINER_LIMITATION: 19,
  REASON_CONTAINER_LIMITATION_DISK: 20,
  REASON_CONTAINER_LIMITATION_MEMORY: 8,
  REASON_CONTAINER_PREEMPTED: 17,
  REASON_CONTAINER_UPDATE_FAILED: 22,
  REASON_MAX_COMPLETION_TIME_REACHED: 33,
  REASON_EXECUTOR_REGISTRATION_TIMEOUT: 23,
  REASON_EXECUTOR_REREGISTRATION_TIMEOUT: 24,
  REASON_EXECUTOR_TERMINATED: 1,
  REASON_EXECUTOR_UNREGISTERED: 2,
  REASON_FRAMEWORK_REMOVED: 3,
  REASON_GC_ERROR: 4,
  REASON_INVALID_FRAMEWORKID: 5,
  REASON_INVALID_OFFERS: 6,
  REASON_IO_SWITCHBOARD_EXITED: 27,
  REASON_MASTER_DISCONNECTED: 7,
  REASON_RECONCILIATION: 9,
  REASON_RESOURCES_UNKNOWN: 18,
  REASON_AGENT_DISCONNECTED: 10,
  REASON_AGENT_DRAINING: 34,
  REASON_AGENT_REMOVED: 11,
  REASON_AGENT_REMOVED_BY_OPERATOR: 31,
  REASON_AGENT_REREGISTERED: 32,
  REASON_AGENT_RESTARTED: 12,
  REASON_AGENT_UNKNOWN: 13,
  REASON_TASK_KILLED_DURING_LAUNCH: 30,
  REASON_TASK_CHECK_STATUS_UPDATED: 28,
  REASON_TASK_HEALTH_CHECK_STATUS_UPDATED: 29,
  REASON_TASK_GROUP_INVALID: 25,
  REASON_TASK_GROUP_UNAUTHORIZED: 26,
  REASON_TASK_INVALID: 14,
  REASON_TASK_UNAUTHORIZED: 15,
  REASON_TASK_UNKNOWN: 16,
};

const OPERATION_STATES = {
  OPERATION_UNSUPPORTED: 0,
  OPERATION_PENDING: 1,
  OPERATION_FINISHED: 2,
  OPERATION_FAILED: 3,
  OPERATION_ERROR: 4,
  OPERATION_DROPPED: 5,
  OPERATION_UNREACHABLE: 6,
  OPERATION_GONE_BY_OPERATOR: 7,
  OPERATION_RECOVERING: 8,
  OPERATION_UNKNOWN: 9,
};

const Image = msg(
  { type: req(1, "Type"), appc: opt(2, "Appc"), docker: opt(3, "Docker"), cached: opt(4, "bool") },
  {
    Type: enumOf({ APPC: 1, DOCKER: 2 }),
    Appc: msg({ name: req(1, "string"), id: opt(2, "string"), labels: opt(3, "Labels") }),
    // credential and config (secrets) are not read.
    Docker: msg({ name: req(1, "string") }),
  },
);

const Volume = msg(
  {
    mode: req(3, "Mode"),
    container_path: req(1, "string"),
    host_path: opt(2, "string"),
    image: opt(4, "Image"),
  },
  { Mode: enumOf({ RW: 1, RO: 2 }) },
);

const Resource = msg(
  {
    provider_id: opt(12, "ResourceProviderID"),
    name: req(1, "string"),
    type: req(2, "Value.Type"),
    scalar: opt(3, "Value.Scalar"),
    ranges: opt(4, "Value.Ranges"),
    set: opt(5, "Value.Set"),
    role: opt(6, "string"),
    allocation_info: opt(11, "AllocationInfo"),
    reservation: opt(8, "ReservationInfo"),
    reservations: rep(13, "ReservationInfo"),
    disk: opt(7, "DiskInfo"),
    revocable: opt(9, "RevocableInfo"),
    shared: opt(10, "SharedInfo"),
  },
  {
    AllocationInfo: msg({ role: opt(1, "string") }),
    ReservationInfo: msg(
      { type: opt(4, "Type"), role: opt(3, "string"), principal: opt(1, "string"), labels: opt(2, "Labels") },
      { Type: enumOf({ UNKNOWN: 0, STATIC: 1, DYNAMIC: 2 }) },
    ),
    // Refused wherever it appears (persistent volumes, disk sources): the source is not read.
    DiskInfo: msg(
      { persistence: opt(1, "Persistence"), volume: opt(2, "Volume") },
      { Persistence: msg({ id: req(1, "string"), principal: opt(2, "string") }) },
    ),
    RevocableInfo: msg({}),
    SharedInfo: msg({}),
  },
);

const ContainerInfo = msg(
  {
    type: req(1, "Type"),
    volumes: rep(2, "Volume"),
    hostname: opt(4, "string"),
    docker: opt(3, "DockerInfo"),
    mesos: opt(5, "MesosInfo"),
  },
  {
    Type: enumOf({ DOCKER: 1, MESOS: 2 }),
    DockerInfo: msg(
      {
        image: req(1, "string"),
        network: opt(2, "Network"),
        port_mappings: rep(3, "PortMapping"),
        privileged: opt(4, "bool"),
        parameters: rep(5, "Parameter"),
        force_pull_image: opt(6, "bool"),
        volume_driver: opt(7, "string"),
      },
      {
        Network: enumOf({ HOST: 1, BRIDGE: 2, NONE: 3, USER: 4 }),
        PortMapping: msg({
          host_port: req(1, "uint32"),
          container_port: req(2, "uint32"),
          protocol: opt(3, "string"),
        }),
      },
    ),
    MesosInfo: msg({ image: opt(1, "Image") }),
  },
);

const CommandInfo = msg(
  {
    uris: rep(1, "URI"),
    environment: opt(2, "Environment"),
    shell: opt(6, "bool"),
    value: opt(3, "string"),
    arguments: rep(7, "string"),
    user: opt(5, "string"),
  },
  {
    URI: msg({
      value: req(1, "string"),
      executable: opt(2, "bool"),
      extract: opt(3, "bool"),
      cache: opt(4, "bool"),
      output_file: opt(5, "string"),
    }),
  },
);

const Offer = msg(
  {
    id: req(1, "OfferID"),
    framework_id: req(2, "FrameworkID"),
    agent_id: req(3, "AgentID"),
    hostname: req(4, "string"),
    resources: rep(5, "Resource"),
    attributes: rep(7, "Attribute"),
    executor_ids: rep(6, "ExecutorID"),
    allocation_info: opt(10, "Resource.AllocationInfo"),
  },
  {
    Operation: msg(
      {
        type: opt(1, "Type"),
        id: opt(12, "OperationID"),
        launch: opt(2, "Launch"),
        launch_group: opt(7, "LaunchGroup"),
        reserve: opt(3, "Reserve"),
        unreserve: opt(4, "Unreserve"),
        create: opt(5, "Create"),
        destroy: opt(6, "Destroy"),
        grow_volume: opt(13, "GrowVolume"),
        shrink_volume: opt(14, "ShrinkVolume"),
        create_disk: opt(15, "CreateDisk"),
        destroy_disk: opt(16, "DestroyDisk"),
      },
      {
        Type: enumOf({
          UNKNOWN: 0,
          LAUNCH: 1,
          LAUNCH_GROUP: 6,
          RESERVE: 2,
          UNRESERVE: 3,
          CREATE: 4,
          DESTROY: 5,
          GROW_VOLUME: 11,
          SHRINK_VOLUME: 12,
          CREATE_DISK: 13,
          DESTROY_DISK: 14,
        }),
        Launch: msg({ task_infos: rep(1, "TaskInfo") }),
        LaunchGroup: msg({ executor: req(1, "ExecutorInfo"), task_group: req(2, "TaskGroupInfo") }),
        Reserve: msg({ source: rep(2, "Resource"), resources: rep(1, "Resource") }),
        Unreserve: msg({ resources: rep(1, "Resource") }),
        Create: msg({ volumes: rep(1, "Resource") }),
        Destroy: msg({ volumes: rep(1, "Resource") }),
        // Refused by type (OPERATION_ERROR): their fields are not read.
        GrowVolume: msg({}),
        ShrinkVolume: msg({}),
        CreateDisk: msg({}),
        DestroyDisk: msg({}),
      },
    ),
  },
);

/** package mesos.v1, the messages the scheduler API uses. */
export const MESOS_V1: Record<string, TypeJson> = {
  FrameworkID: id(),
  OfferID: id(),
  AgentID: id(),
  TaskID: id(),
  ExecutorID: id(),
  OperationID: id(),
  ResourceProviderID: id(),
  UUID: msg({ value: req(1, "bytes") }),
  DurationInfo: msg({ nanoseconds: req(1, "int64") }),
  TimeInfo: msg({ nanoseconds: req(1, "int64") }),
  Label: msg({ key: req(1, "string"), value: opt(2, "string") }),
  Labels: msg({ labels: rep(1, "Label") }),
  Parameter: msg({ key: req(1, "string"), value: req(2, "string") }),
  Address: msg({ hostname: opt(1, "string"), ip: opt(2, "string"), port: req(3, "int32") }),
  MasterInfo: msg(
    {
      id: req(1, "string"),
      ip: req(2, "uint32"),
      port: req(3, "uint32"),
      pid: opt(4, "string"),
      hostname: opt(5, "string"),
      version: opt(6, "string"),
      address: opt(7, "Address"),
      capabilities: rep(9, "Capability"),
    },
    {
      Capability: msg(
        { type: opt(1, "Type") },
        { Type: enumOf({ UNKNOWN: 0, AGENT_UPDATE: 1, AGENT_DRAINING: 2, QUOTA_V2: 3 }) },
      ),
    },
  ),
  FrameworkInfo: msg(
    {
      user: req(1, "string"),
      name: req(2, "string"),
      id: opt(3, "FrameworkID"),
      failover_timeout: opt(4, "double"),
      checkpoint: opt(5, "bool"),
      role: opt(6, "string"),
      roles: rep(12, "string"),
      hostname: opt(7, "string"),
      principal: opt(8, "string"),
      webui_url: opt(9, "string"),
      capabilities: rep(10, "Capability"),
      labels: opt(11, "Labels"),
      offer_filters: map(13, "OfferFilters"),
    },
    {
      Capability: msg(
        { type: opt(1, "Type") },
        {
          Type: enumOf({
            UNKNOWN: 0,
            REVOCABLE_RESOURCES: 1,
            TASK_KILLING_STATE: 2,
            GPU_RESOURCES: 3,
            SHARED_RESOURCES: 4,
            PARTITION_AWARE: 5,
            MULTI_ROLE: 6,
            RESERVATION_REFINEMENT: 7,
            REGION_AWARE: 8,
          }),
        },
      ),
    },
  ),
  OfferFilters: msg(
    { min_allocatable_resources: opt(1, "MinAllocatableResources") },
    {
      MinAllocatableResources: msg({ quantities: rep(1, "ResourceQuantities") }),
      ResourceQuantities: msg({ quantities: map(1, "Value.Scalar") }),
    },
  ),
  Filters: msg({ refuse_seconds: opt(1, "double") }),
  Value: msg(
    {
      type: req(1, "Type"),
      scalar: opt(2, "Scalar"),
      ranges: opt(3, "Ranges"),
      set: opt(4, "Set"),
      text: opt(5, "Text"),
    },
    {
      Type: enumOf({ SCALAR: 0, RANGES: 1, SET: 2, TEXT: 3 }),
      Scalar: msg({ value: req(1, "double") }),
      Range: msg({ begin: req(1, "uint64"), end: req(2, "uint64") }),
      Ranges: msg({ range: rep(1, "Range") }),
      Set: msg({ item: rep(1, "string") }),
      Text: msg({ value: req(1, "string") }),
    },
  ),
  Attribute: msg({
    name: req(1, "string"),
    type: req(2, "Value.Type"),
    scalar: opt(3, "Value.Scalar"),
    ranges: opt(4, "Value.Ranges"),
    set: opt(6, "Value.Set"),
    text: opt(5, "Value.Text"),
  }),
  Resource,
  Request: msg({ agent_id: opt(1, "AgentID"), resources: rep(2, "Resource") }),
  Environment: msg(
    { variables: rep(1, "Variable") },
    {
      // secret (4) is not read: a SECRET variable is refused by its type.
      Variable: msg(
        { name: req(1, "string"), type: opt(3, "Type"), value: opt(2, "string") },
        { Type: enumOf({ UNKNOWN: 0, VALUE: 1, SECRET: 2 }) },
      ),
    },
  ),
  CommandInfo,
  Image,
  Volume,
  ContainerInfo,
  KillPolicy: msg({ grace_period: opt(1, "DurationInfo") }),
  ExecutorInfo: msg(
    {
      type: opt(15, "Type"),
      executor_id: req(1, "ExecutorID"),
      framework_id: opt(8, "FrameworkID"),
      command: opt(7, "CommandInfo"),
      container: opt(11, "ContainerInfo"),
      resources: rep(5, "Resource"),
      name: opt(9, "string"),
      source: opt(10, "string"),
      data: opt(4, "bytes"),
      shutdown_grace_period: opt(13, "DurationInfo"),
      labels: opt(14, "Labels"),
    },
    { Type: enumOf({ UNKNOWN: 0, DEFAULT: 1, CUSTOM: 2 }) },
  ),
  // health_check (8), check (13), discovery (11) and limits (15) are not read.
  TaskInfo: msg({
    name: req(1, "string"),
    task_id: req(2, "TaskID"),
    agent_id: req(3, "AgentID"),
    resources: rep(4, "Resource"),
    executor: opt(5, "ExecutorInfo"),
    command: opt(7, "CommandInfo"),
    container: opt(9, "ContainerInfo"),
    kill_policy: opt(12, "KillPolicy"),
    data: opt(6, "bytes"),
    labels: opt(10, "Labels"),
    max_completion_time: opt(14, "DurationInfo"),
  }),
  TaskGroupInfo: msg({ tasks: rep(1, "TaskInfo") }),
  Offer,
  TaskState: enumOf(TASK_STATES),
  TaskStatus: msg(
    {
      task_id: req(1, "TaskID"),
      state: req(2, "TaskState"),
      message: opt(4, "string"),
      source: opt(9, "Source"),
      reason: opt(10, "Reason"),
      data: opt(3, "bytes"),
      agent_id: opt(5, "AgentID"),
      executor_id: opt(7, "ExecutorID"),
      timestamp: opt(6, "double"),
      uuid: opt(11, "bytes"),
      healthy: opt(8, "bool"),
      labels: opt(12, "Labels"),
      unreachable_time: opt(14, "TimeInfo"),
    },
    {
      Source: enumOf({ SOURCE_MASTER: 0, SOURCE_AGENT: 1, SOURCE_EXECUTOR: 2 }),
      Reason: enumOf(TASK_STATUS_REASON_VALUES),
    },
  ),
  OperationState: enumOf(OPERATION_STATES),
  OperationStatus: msg({
    operation_id: opt(1, "OperationID"),
    state: req(2, "OperationState"),
    message: opt(3, "string"),
    converted_resources: rep(4, "Resource"),
    uuid: opt(5, "UUID"),
    agent_id: opt(6, "AgentID"),
    resource_provider_id: opt(7, "ResourceProviderID"),
  }),
};
