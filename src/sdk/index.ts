// kube-offers framework SDK: `import { FrameworkClient } from "kube-offers/sdk"`.
// See docs/writing-a-framework.md for a walk-through built on examples/batch.

/** The image of tasks that name none; the annotations the local node simulator obeys. */
export { DEFAULT_TASK_IMAGE, SIM_EXIT_CODE, SIM_RUN_SECONDS, SIM_START_SECONDS } from "../crds/contract.ts";
export type { TaskInfoInput } from "../crds/offer.ts";
export {
  type AnswerResult,
  FrameworkClient,
  type FrameworkClientOptions,
  type FrameworkRegistration,
  type LogFn,
  type LogLevel,
  type Operation,
  type StopOptions,
} from "./client.ts";
export {
  ApiError,
  FrameworkTerminatingError,
  InvalidLaunchError,
  KubeOffersError,
  NotConnectedError,
  NotStartedError,
  OfferAlreadyAnsweredError,
  OfferNotUsableError,
  type SdkErrorCode,
  TimeoutError,
} from "./errors.ts";
export {
  checkTasksFit,
  fits,
  formatResources,
  matchesConstraints,
  OfferBin,
  type OfferLike,
  type Placement,
  packAll,
  parseResources,
  type ResourceMap,
  type ResourceRequest,
  sumResources,
  takePorts,
} from "./resources.ts";
export { type CommandTaskOptions, commandTask } from "./task.ts";
export { isTerminalState } from "./tracker.ts";
export type {
  EventOf,
  Offer,
  OfferOutcome,
  SchedulerEvent,
  SchedulerEventType,
  Task,
  TaskSource,
  TaskState,
  TaskUpdate,
} from "./types.ts";
