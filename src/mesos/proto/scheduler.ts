// Our protobuf schema of package mesos.v1.scheduler (Call, Event and what they hold), as a
// protobufjs JSON descriptor written from the field numbers of Mesos's published
// include/mesos/v1/scheduler/scheduler.proto (proto2). Types of package mesos.v1 (mesos.ts) are
// named with their package, as the .proto does.
import { enumOf, map, msg, opt, rep, req, type TypeJson } from "./descriptor.ts";

const Roles = () => msg({ roles: rep(1, "string") });
const InverseOffers = () =>
  msg({ inverse_offer_ids: rep(1, "mesos.v1.OfferID"), filters: opt(2, "mesos.v1.Filters") });

const AttributeConstraint = msg(
  { selector: req(1, "Selector"), predicate: req(2, "Predicate") },
  {
    Selector: msg(
      { pseudoattribute_type: opt(1, "PseudoattributeType"), attribute_name: opt(2, "string") },
      { PseudoattributeType: enumOf({ UNKNOWN: 0, HOSTNAME: 1, REGION: 2, ZONE: 3 }) },
    ),
    Predicate: msg(
      {
        exists: opt(1, "Exists"),
        not_exists: opt(2, "NotExists"),
        text_equals: opt(3, "TextEquals"),
        text_not_equals: opt(4, "TextNotEquals"),
        text_matches: opt(5, "TextMatches"),
        text_not_matches: opt(6, "TextNotMatches"),
      },
      {
        Exists: msg({}),
        NotExists: msg({}),
        TextEquals: msg({ value: req(1, "string") }),
        TextNotEquals: msg({ value: req(1, "string") }),
        TextMatches: msg({ regex: req(1, "string") }),
        TextNotMatches: msg({ regex: req(1, "string") }),
      },
    ),
  },
);

const OfferConstraints = msg(
  { role_constraints: map(1, "RoleConstraints") },
  {
    RoleConstraints: msg(
      { groups: rep(1, "Group") },
      { Group: msg({ attribute_constraints: rep(1, "AttributeConstraint") }) },
    ),
  },
);

const Call = msg(
  {
    framework_id: opt(1, "mesos.v1.FrameworkID"),
    type: opt(2, "Type"),
    subscribe: opt(3, "Subscribe"),
    accept: opt(4, "Accept"),
    decline: opt(5, "Decline"),
    accept_inverse_offers: opt(13, "AcceptInverseOffers"),
    decline_inverse_offers: opt(14, "DeclineInverseOffers"),
    revive: opt(15, "Revive"),
    kill: opt(6, "Kill"),
    shutdown: opt(7, "Shutdown"),
    acknowledge: opt(8, "Acknowledge"),
    acknowledge_operation_status: opt(17, "AcknowledgeOperationStatus"),
    reconcile: opt(9, "Reconcile"),
    reconcile_operations: opt(18, "ReconcileOperations"),
    message: opt(10, "Message"),
    request: opt(11, "Request"),
    suppress: opt(16, "Suppress"),
    update_framework: opt(19, "UpdateFramework"),
  },
  {
    Type: enumOf({
      UNKNOWN: 0,
      SUBSCRIBE: 1,
      TEARDOWN: 2,
      ACCEPT: 3,
      DECLINE: 4,
      ACCEPT_INVERSE_OFFERS: 13,
      DECLINE_INVERSE_OFFERS: 14,
      REVIVE: 5,
      KILL: 6,
      SHUTDOWN: 7,
      ACKNOWLEDGE: 8,
      ACKNOWLEDGE_OPERATION_STATUS: 15,
      RECONCILE: 9,
      RECONCILE_OPERATIONS: 16,
      MESSAGE: 10,
      REQUEST: 11,
      SUPPRESS: 12,
      UPDATE_FRAMEWORK: 17,
    }),
    Subscribe: msg({
      framework_info: req(1, "mesos.v1.FrameworkInfo"),
      suppressed_roles: rep(2, "string"),
      offer_constraints: opt(3, "OfferConstraints"),
    }),
    Accept: msg({
      offer_ids: rep(1, "mesos.v1.OfferID"),
      operations: rep(2, "mesos.v1.Offer.Operation"),
      filters: opt(3, "mesos.v1.Filters"),
    }),
    Decline: msg({ offer_ids: rep(1, "mesos.v1.OfferID"), filters: opt(2, "mesos.v1.Filters") }),
    AcceptInverseOffers: InverseOffers(),
    DeclineInverseOffers: InverseOffers(),
    Revive: Roles(),
    Suppress: Roles(),
    Kill: msg({
      task_id: req(1, "mesos.v1.TaskID"),
      agent_id: opt(2, "mesos.v1.AgentID"),
      kill_policy: opt(3, "mesos.v1.KillPolicy"),
    }),
    Shutdown: msg({ executor_id: req(1, "mesos.v1.ExecutorID"), agent_id: req(2, "mesos.v1.AgentID") }),
    Acknowledge: msg({
      agent_id: req(1, "mesos.v1.AgentID"),
      task_id: req(2, "mesos.v1.TaskID"),
      uuid: req(3, "bytes"),
    }),
    AcknowledgeOperationStatus: msg({
      agent_id: opt(1, "mesos.v1.AgentID"),
      resource_provider_id: opt(2, "mesos.v1.ResourceProviderID"),
      uuid: req(3, "bytes"),
      operation_id: req(4, "mesos.v1.OperationID"),
    }),
    Reconcile: msg(
      { tasks: rep(1, "Task") },
      { Task: msg({ task_id: req(1, "mesos.v1.TaskID"), agent_id: opt(2, "mesos.v1.AgentID") }) },
    ),
    ReconcileOperations: msg(
      { operations: rep(1, "Operation") },
      {
        Operation: msg({
          operation_id: req(1, "mesos.v1.OperationID"),
          agent_id: opt(2, "mesos.v1.AgentID"),
          resource_provider_id: opt(3, "mesos.v1.ResourceProviderID"),
        }),
      },
    ),
    Message: msg({
      agent_id: req(1, "mesos.v1.AgentID"),
      executor_id: req(2, "mesos.v1.ExecutorID"),
      data: req(3, "bytes"),
    }),
    Request: msg({ requests: rep(1, "mesos.v1.Request") }),
    UpdateFramework: msg({
      framework_info: req(1, "mesos.v1.FrameworkInfo"),
      suppressed_roles: rep(2, "string"),
      offer_constraints: opt(3, "OfferConstraints"),
    }),
  },
);

// INVERSE_OFFERS and RESCIND_INVERSE_OFFER are never sent here: their messages are left out.
const Event = msg(
  {
    type: opt(1, "Type"),
    subscribed: opt(2, "Subscribed"),
    offers: opt(3, "Offers"),
    rescind: opt(4, "Rescind"),
    update: opt(5, "Update"),
    update_operation_status: opt(11, "UpdateOperationStatus"),
    message: opt(6, "Message"),
    failure: opt(7, "Failure"),
    error: opt(8, "Error"),
  },
  {
    Type: enumOf({
      UNKNOWN: 0,
      SUBSCRIBED: 1,
      OFFERS: 2,
      INVERSE_OFFERS: 9,
      RESCIND: 3,
      RESCIND_INVERSE_OFFER: 10,
      UPDATE: 4,
      UPDATE_OPERATION_STATUS: 11,
      MESSAGE: 5,
      FAILURE: 6,
      ERROR: 7,
      HEARTBEAT: 8,
    }),
    Subscribed: msg({
      framework_id: req(1, "mesos.v1.FrameworkID"),
      heartbeat_interval_seconds: opt(2, "double"),
      master_info: opt(3, "mesos.v1.MasterInfo"),
    }),
    Offers: msg({ offers: rep(1, "mesos.v1.Offer") }),
    Rescind: msg({ offer_id: req(1, "mesos.v1.OfferID") }),
    Update: msg({ status: req(1, "mesos.v1.TaskStatus") }),
    UpdateOperationStatus: msg({ status: req(1, "mesos.v1.OperationStatus") }),
    Message: msg({
      agent_id: req(1, "mesos.v1.AgentID"),
      executor_id: req(2, "mesos.v1.ExecutorID"),
      data: req(3, "bytes"),
    }),
    Failure: msg({
      agent_id: opt(1, "mesos.v1.AgentID"),
      executor_id: opt(2, "mesos.v1.ExecutorID"),
      status: opt(3, "int32"),
    }),
    Error: msg({ message: req(1, "string") }),
  },
);

/** package mesos.v1.scheduler. */
export const MESOS_V1_SCHEDULER: Record<string, TypeJson> = {
  AttributeConstraint,
  OfferConstraints,
  Call,
  Event,
};
