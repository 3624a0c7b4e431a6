// Names that the API contract (../../../shared/design.md) fixes: group, version, kinds, labels.

export const GROUP = "kubeoffers.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Every CRD is listed under this category, so `kubectl get kube-offers` shows them all. */
export const CATEGORY = "kube-offers";

export const KIND = {
  agent: "Agent",
  framework: "Framework",
  resourceOffer: "ResourceOffer",
  resourceRole: "ResourceRole",
} as const;

export const PLURAL = {
  agent: "agents",
  framework: "frameworks",
  resourceOffer: "resourceoffers",
  resourceRole: "resourceroles",
} as const;

/** Labels on task Pods (and offers) that tests and tooling select on. */
export const LABEL_FRAMEWORK = `${GROUP}/framework`;
export const LABEL_TASK_ID = `${GROUP}/task-id`;
export const LABEL_ROLE = `${GROUP}/role`;
export const LABEL_OFFER = `${GROUP}/offer`;

export const LABELS = {
  framework: LABEL_FRAMEWORK,
  taskId: LABEL_TASK_ID,
  role: LABEL_ROLE,
  offer: LABEL_OFFER,
} as const;

/** The Mesos default for `filters.refuseSeconds` when a framework declines without one. */
export const DEFAULT_REFUSE_SECONDS = 5;
/** How long a disconnected framework's tasks survive (Mesos defaults to 0; see framework.ts). */
export const DEFAULT_FAILOVER_TIMEOUT_SECONDS = 60;

/**
 * The image of tasks that name none (SDK command tasks, the examples, Mesos CommandInfo tasks
 * without a ContainerInfo). Debian bookworm's busybox-static is 1.35, and the local real nodes'
 * image is built from it (src/local/images.ts), so the tag is the version it really holds.
 */
export const DEFAULT_TASK_IMAGE = "busybox:1.35";
