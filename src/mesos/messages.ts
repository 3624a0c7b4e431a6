// The mesos.v1 messages of the scheduler API in their JSON form (include/mesos/v1/mesos.proto):
// resources, tasks (TaskInfo with its CommandInfo, ContainerInfo and kill policy), executors,
// offer operations, filters, FrameworkInfo and offer constraints, as zod schemas. Unknown fields
// are ignored: clients of newer Mesos versions send fields older masters never knew. The Call
// that carries them is protocol.ts; their protobuf form is proto/mesos.ts.
import { z } from "zod";
import { TASK_STATUS_REASON_VALUES } from "./proto/mesos.ts";

/** Mesos TaskStatus.Reason names (mesos.proto): only these may appear in a TaskStatus. */
export const TASK_STATUS_REASONS: ReadonlySet<string> = new Set(Object.keys(TASK_STATUS_REASON_VALUES));

const MAX_ID = 1024;
export const IdSchema = z.object({ value: z.string().min(1).max(MAX_ID) });
export type Id = z.infer<typeof IdSchema>;

/** protobuf JSON: 64-bit integers may arrive as numbers or strings. */
const Int64 = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number),
]);

export const LabelsSchema = z.object({
  labels: z
    .array(z.object({ key: z.string().max(MAX_ID), value: z.string().max(65536).optional() }))
    .max(256)
    .optional(),
});

export const ValueScalar = z.object({ value: z.number() });
export const ValueRanges = z.object({
  range: z
    .array(z.object({ begin: Int64, end: Int64 }))
    .max(1024)
    .optional(),
});

export const ResourceSchema = z.object({
  name: z.string().min(1).max(256),
  type: z.enum(["SCALAR", "RANGES", "SET"]).optional(),
  scalar: ValueScalar.optional(),
  ranges: ValueRanges.optional(),
  set: z.object({ item: z.array(z.string()).optional() }).optional(),
  role: z.string().optional(),
  allocation_info: z.object({ role: z.string().optional() }).optional(),
  reservations: z
    .array(z.object({ type: z.string().optional(), role: z.string().optional() }).loose())
    .optional(),
  /** The pre-RESERVATION_REFINEMENT form of a dynamic reservation (its role is `role`). */
  reservation: z
    .object({ principal: z.string().optional(), labels: LabelsSchema.optional() })
    .loose()
    .optional(),
  disk: z.unknown().optional(),
  shared: z.unknown().optional(),
  provider_id: z.unknown().optional(),
  revocable: z.unknown().optional(),
});
export type MesosResource = z.infer<typeof ResourceSchema>;

const EnvironmentSchema = z.object({
  variables: z
    .array(
      z.object({
        name: z.string().min(1).max(4096),
        type: z.enum(["UNKNOWN", "VALUE", "SECRET"]).optional(),
        value: z
          .string()
          .max(1 << 20)
          .optional(),
        secret: z.unknown().optional(),
      }),
    )
    .max(1024)
    .optional(),
});

export const CommandInfoSchema = z.object({
  uris: z
    .array(z.object({ value: z.string() }).loose())
    .max(256)
    .optional(),
  environment: EnvironmentSchema.optional(),
  shell: z.boolean().optional(),
  value: z
    .string()
    .max(1 << 20)
    .optional(),
  arguments: z
    .array(z.string().max(1 << 16))
    .max(4096)
    .optional(),
  user: z.string().optional(),
});
export type CommandInfo = z.infer<typeof CommandInfoSchema>;

const ImageSchema = z.object({
  type: z.enum(["APPC", "DOCKER"]).optional(),
  docker: z
    .object({ name: z.string().min(1).max(1024) })
    .loose()
    .optional(),
  appc: z.object({ name: z.string() }).loose().optional(),
  cached: z.boolean().optional(),
});

export const ContainerInfoSchema = z.object({
  type: z.enum(["DOCKER", "MESOS"]).optional(),
  docker: z
    .object({
      image: z.string().min(1).max(1024),
      network: z.enum(["HOST", "BRIDGE", "NONE", "USER"]).optional(),
      privileged: z.boolean().optional(),
      force_pull_image: z.boolean().optional(),
      port_mappings: z
        .array(z.object({ host_port: Int64, container_port: Int64, protocol: z.string().optional() }))
        .optional(),
      parameters: z.array(z.object({ key: z.string(), value: z.string() })).optional(),
    })
    .loose()
    .optional(),
  mesos: z.object({ image: ImageSchema.optional() }).loose().optional(),
  volumes: z.array(z.unknown()).optional(),
  hostname: z.string().optional(),
  network_infos: z.array(z.unknown()).optional(),
});
export type ContainerInfo = z.infer<typeof ContainerInfoSchema>;

const DurationInfo = z.object({ nanoseconds: Int64 });
export const KillPolicySchema = z.object({ grace_period: DurationInfo.optional() });

export const TaskInfoSchema = z.object({
  name: z.string().max(MAX_ID),
  task_id: IdSchema,
  agent_id: IdSchema.optional(),
  /** Pre-1.0 name of agent_id, still sent by some libraries. */
  slave_id: IdSchema.optional(),
  resources: z.array(ResourceSchema).max(256).optional(),
  executor: z.unknown().optional(),
  command: CommandInfoSchema.optional(),
  container: ContainerInfoSchema.optional(),
  health_check: z.unknown().optional(),
  check: z.unknown().optional(),
  kill_policy: KillPolicySchema.optional(),
  data: z.string().optional(),
  labels: LabelsSchema.optional(),
  discovery: z.unknown().optional(),
  max_completion_time: DurationInfo.optional(),
});
export type MesosTaskInfo = z.infer<typeof TaskInfoSchema>;

export const ExecutorInfoSchema = z
  .object({
    type: z.enum(["UNKNOWN", "DEFAULT", "CUSTOM"]).optional(),
    executor_id: IdSchema.optional(),
    resources: z.array(ResourceSchema).optional(),
    command: CommandInfoSchema.optional(),
    container: ContainerInfoSchema.optional(),
  })
  .loose();

export const OperationSchema = z.object({
  type: z.enum([
    "UNKNOWN",
    "LAUNCH",
    "LAUNCH_GROUP",
    "RESERVE",
    "UNRESERVE",
    "CREATE",
    "DESTROY",
    "GROW_VOLUME",
    "SHRINK_VOLUME",
    "CREATE_DISK",
    "DESTROY_DISK",
  ]),
  id: IdSchema.optional(),
  launch: z.object({ task_infos: z.array(TaskInfoSchema).max(1024).optional() }).optional(),
  launch_group: z
    .object({
      executor: ExecutorInfoSchema.optional(),
      task_group: z.object({ tasks: z.array(TaskInfoSchema).max(1024).optional() }),
    })
    .optional(),
  reserve: z
    .object({ resources: z.array(ResourceSchema).max(256).optional(), source: z.unknown().optional() })
    .optional(),
  unreserve: z.object({ resources: z.array(ResourceSchema).max(256).optional() }).optional(),
});
export type MesosOperation = z.infer<typeof OperationSchema>;

export const FiltersSchema = z.object({ refuse_seconds: z.number().optional() });

const OfferFiltersSchema = z.object({
  min_allocatable_resources: z
    .object({
      quantities: z
        .array(z.object({ quantities: z.record(z.string(), z.object({ value: z.number() })).optional() }))
        .optional(),
    })
    .optional(),
});

export const FrameworkInfoSchema = z.object({
  user: z.string().max(MAX_ID).optional(),
  name: z.string().max(MAX_ID),
  id: IdSchema.optional(),
  failover_timeout: z.number().min(0).optional(),
  checkpoint: z.boolean().optional(),
  role: z.string().max(MAX_ID).optional(),
  roles: z.array(z.string().max(MAX_ID)).max(64).optional(),
  hostname: z.string().max(MAX_ID).optional(),
  principal: z.string().max(MAX_ID).optional(),
  webui_url: z.string().max(4096).optional(),
  capabilities: z
    .array(z.object({ type: z.string().max(64).optional() }))
    .max(64)
    .optional(),
  labels: LabelsSchema.optional(),
  offer_filters: z.record(z.string(), OfferFiltersSchema).optional(),
});
export type FrameworkInfo = z.infer<typeof FrameworkInfoSchema>;

const AttributeConstraintSchema = z.object({
  selector: z.object({ attribute_name: z.string().optional(), pseudoattribute_type: z.string().optional() }),
  predicate: z.object({
    exists: z.object({}).loose().optional(),
    not_exists: z.object({}).loose().optional(),
    text_equals: z.object({ value: z.string() }).optional(),
    text_not_equals: z.object({ value: z.string() }).optional(),
    text_matches: z.object({ regex: z.string() }).optional(),
    text_not_matches: z.object({ regex: z.string() }).optional(),
  }),
});
export const OfferConstraintsSchema = z.object({
  role_constraints: z
    .record(
      z.string(),
      z.object({
        groups: z
          .array(z.object({ attribute_constraints: z.array(AttributeConstraintSchema).optional() }))
          .optional(),
      }),
    )
    .optional(),
});
export type OfferConstraints = z.infer<typeof OfferConstraintsSchema>;
