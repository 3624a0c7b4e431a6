// The names kube-offers shares with everything outside a single module: the API group, the
// label, annotation, finalizer, taint and condition keys that the operator, the agent, the SDK,
// the Mesos API, the local harness, the Helm chart and the docs agree on, the builders of the
// object names they derive from each other, and the defaults they must agree on. docs/design.md
// fixes some of them; contract.test.ts fails when a `kubeoffers.io` key is written down anywhere
// else in src/ or mentioned in the chart or the docs without being defined here.
import { createHash, randomFillSync } from "node:crypto";

// ---- API group ----

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

/** Keys of the Mesos API (src/mesos) live under this sub-domain. */
export const MESOS_DOMAIN = `mesos.${GROUP}`;
/** Annotations the local node simulator obeys live under this sub-domain. */
export const SIM_DOMAIN = `sim.${GROUP}`;

// ---- labels ----

/** Labels on task Pods (and offers) that tests and tooling select on (design.md: fixed). */
export const LABEL_FRAMEWORK = `${GROUP}/framework`;
export const LABEL_TASK_ID = `${GROUP}/task-id`;
/** As a label: the role in label-value form (roleLabelValue); as an annotation (ANNOTATION_ROLE): the role. */
export const LABEL_ROLE = `${GROUP}/role`;
export const LABEL_OFFER = `${GROUP}/offer`;

export const LABELS = {
  framework: LABEL_FRAMEWORK,
  taskId: LABEL_TASK_ID,
  role: LABEL_ROLE,
  offer: LABEL_OFFER,
} as const;

/** The node, on Agents, offers, task Pods and agent Leases. */
export const LABEL_AGENT = `${GROUP}/agent`;
/** Scopes an operator (and its agents) to one pool of agents and frameworks. */
export const LABEL_POOL = `${GROUP}/pool`;
/** Marks the agents' liveness Leases (value "agent"). */
export const AGENT_LEASE_LABEL = `${GROUP}/lease`;
/** On Frameworks registered through the Mesos API (value "v1"). */
export const LABEL_MESOS = `${MESOS_DOMAIN}/api`;
/** Label (and NoSchedule taint key) of the local harness's real nodes (src/local/real-node.ts). */
export const REAL_NODE_LABEL = `${GROUP}/real-node`;

/** Label selector of one pool's objects (no pool: the objects of none, i.e. without LABEL_POOL). */
export function poolSelector(pool: string | undefined): string {
  return pool ? `${LABEL_POOL}=${pool}` : `!${LABEL_POOL}`;
}

/** True when an object with these labels is in `pool` (no pool: it has no LABEL_POOL), as poolSelector selects. */
export function inPool(labels: Record<string, string> | undefined, pool: string | undefined): boolean {
  return labels?.[LABEL_POOL] === (pool || undefined);
}

// ---- annotations ----

/** On task Pods: JSON of the resources the task was granted. */
export const ANNOTATION_RESOURCES = `${GROUP}/resources`;
/** On task Pods: the task's role as it is ("eng/frontend", "*"); the label of the same key holds roleLabelValue. */
export const ANNOTATION_ROLE = LABEL_ROLE;
/** On task-group Pods (launchGroup): the task ids of the group, comma-separated. */
export const ANNOTATION_TASK_GROUP = `${GROUP}/task-group`;
/** Framework annotation a REVIVE bumps (a timestamp): its change clears the framework's refusal filters. */
export const ANNOTATION_REVIVE = `${GROUP}/revive`;
/**
 * Kept by the operator on task Pods whose node is in trouble ("unreachable": not Ready or its
 * agent stopped renewing; "lost": the Node is gone), so that readers without access to Nodes
 * and agent Leases (framework schedulers, the Mesos API) map task states the same way.
 */
export const NODE_STATE_ANNOTATION = `${GROUP}/node-state`;
/** Pod annotation: JSON {kube-offers task id: {id: Mesos task id, name}} for the tasks of the Pod. */
export const ANNOTATION_MESOS_TASKS = `${MESOS_DOMAIN}/tasks`;
/** Framework annotations of the Mesos API: the Mesos framework id, the principal, the FrameworkInfo. */
export const ANNOTATION_FRAMEWORK_ID = `${MESOS_DOMAIN}/framework-id`;
export const ANNOTATION_PRINCIPAL = `${MESOS_DOMAIN}/principal`;
export const ANNOTATION_FRAMEWORK_INFO = `${MESOS_DOMAIN}/framework-info`;
/** Pod annotation prefix: `acked.mesos.kubeoffers.io/<task>` = the last state the scheduler acknowledged. */
export const ACKED_PREFIX = `acked.${MESOS_DOMAIN}/`;
/**
 * Annotations the local node simulator (src/local/node-simulator.ts) obeys, so tasks complete on
 * simulated nodes (`npm start`, tests): seconds Pending, seconds running (absent: until deleted),
 * exit code (0: Succeeded). Real kubelets ignore them.
 */
export const SIM_START_SECONDS = `${SIM_DOMAIN}/start-seconds`;
export const SIM_RUN_SECONDS = `${SIM_DOMAIN}/run-seconds`;
export const SIM_EXIT_CODE = `${SIM_DOMAIN}/exit-code`;
/** On the Nodes the simulator plays the kubelet for. */
export const SIMULATED_ANNOTATION = `${GROUP}/simulated`;

// ---- other keys ----

/** The Framework finalizer: deleting a Framework tears it down first. */
export const FINALIZER = `${GROUP}/teardown`;
/** A node carrying a taint with this key is draining: nothing new is offered on it. */
export const DRAINING_TAINT = `${GROUP}/draining`;
/** Label on a reserved Mesos resource naming the kube-offers dynamic reservation it belongs to. */
export const RESERVATION_LABEL = `${GROUP}/reservation`;
/** reportingController of the operator's Events. */
export const REPORTING_CONTROLLER = `${GROUP}/controller`;

/** Condition types: an offer's final status, and whether a framework's scheduler is connected. */
export const CONDITION_FINISHED = "Finished";
export const CONDITION_CONNECTED = "Connected";
/** Framework condition: whether every role in spec.roles is one its namespace may use (ResourceRole spec.namespaces). */
export const CONDITION_ROLES_AUTHORIZED = "RolesAuthorized";

// ---- defaults ----

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

/** The operator's namespace unless configured: the agents' liveness Leases and the leader-election Lease live there. */
export const DEFAULT_LEASE_NAMESPACE = "kube-offers-system";
/** The operator's leader-election Lease unless configured (the chart's controller.leaderElection.leaseName). */
export const LEADER_ELECTION_LEASE_NAME = "kube-offers-controller";
/**
 * An agent's liveness Lease lasts this long unless configured (the chart's agent.leaseDurationSeconds),
 * renewed every quarter of it: the kubelet's node Lease terms (40 s, every 10 s). At 1,000 nodes
 * a 20 s Lease was 200 renewals a second, more than this API server creates Pods at.
 */
export const DEFAULT_AGENT_LEASE_SECONDS = 40;
/** Host ports an agent offers unless configured (the chart's agent.ports), as in Mesos. */
export const DEFAULT_AGENT_PORTS: readonly { readonly begin: number; readonly end: number }[] = [
  { begin: 31000, end: 32000 },
];
/** A scheduler's liveness Lease (SDK) lasts this long unless configured. */
export const DEFAULT_SCHEDULER_LEASE_SECONDS = 10;
/** The operator's leader election, as client-go's defaults (the chart's controller.leaderElection). */
export const LEASE_DURATION_MS = 15_000;
export const RENEW_DEADLINE_MS = 10_000;
export const RETRY_PERIOD_MS = 2_000;
/** Deadline of one API request (not a watch) by the controller, the agent and the SDK unless configured. */
export const DEFAULT_API_TIMEOUT_MS = 10_000;

// ---- names ----

/** Kubernetes' limits: label values and DNS-1123 labels (Pod hostnames), and subdomains (object names). */
export const MAX_LABEL_VALUE = 63;
export const MAX_SUBDOMAIN = 253;

function shortHash(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 8);
}

/**
 * `value` when it has at most `max` characters; otherwise a prefix of it, "-" and a hash of the
 * whole, `max` characters in all. A function of the value (a replay builds the same name, two
 * values collide only if their hashes do), readable, and valid wherever the value was — a DNS
 * label, a subdomain or a label value — since the prefix is cut back to end in a letter or digit.
 * Every name and label value built from user or cloud input goes through here.
 */
export function fitName(value: string, max: number): string {
  if (value.length <= max) return value;
  const hash = shortHash(value);
  const prefix = value.slice(0, Math.max(0, max - hash.length - 1)).replace(/[^A-Za-z0-9]+$/, "");
  return prefix ? `${prefix}-${hash}` : hash.slice(0, max);
}

/**
 * The Pod of a task (design.md: `<framework>-<task id>`); deterministic, so a replayed accept
 * cannot launch twice. A framework name and a task id are DNS labels (63 each), so it always fits
 * a Pod name's 253; fitName only guards the limit.
 */
export function taskPodName(framework: string, taskId: string): string {
  return fitName(`${framework}-${taskId}`, MAX_SUBDOMAIN);
}

/**
 * Role names may hold "/" and "*", which label values may not: eng/frontend → eng.frontend,
 * * → "". Roles may be 253 characters long, label values 63: longer ones are fitted (fitName);
 * the annotation of the same key keeps the role whole.
 */
export function roleLabelValue(role: string): string {
  return role === "*" ? "" : fitName(role.replaceAll("/", "."), MAX_LABEL_VALUE);
}

/** The `kubeoffers.io/agent` label value of a node: node names reach 253 characters, label values 63. */
export function agentLabelValue(node: string): string {
  return fitName(node, MAX_LABEL_VALUE);
}

/** An Event's metadata.generateName for an object: the API server appends 5 characters. */
export function eventNamePrefix(objectName: string): string {
  return `${fitName(objectName, MAX_SUBDOMAIN - 6)}-`;
}

/**
 * The longest offer name: it is also the `kubeoffers.io/offer` label value of its task Pods,
 * and label values stop at 63 characters (the CRD's CEL rule refuses longer ones).
 */
export const MAX_OFFER_NAME = MAX_LABEL_VALUE;

/**
 * `<framework>-<agent>-<random>`. When that is too long — a framework name up to 63 characters,
 * node names as long as managed clouds make them (`ip-10-0-12-34.eu-west-1.compute.internal`) —
 * it keeps a prefix of each and adds a hash of the pair, so names stay readable, unique per
 * framework and agent, and always fit.
 */
export function offerName(framework: string, agent: string): string {
  const suffix = randomSuffix();
  const full = `${clean(framework)}-${clean(agent)}-${suffix}`;
  if (full.length <= MAX_OFFER_NAME) return full;
  const hash = shortHash(`${framework}/${agent}`);
  const budget = MAX_OFFER_NAME - suffix.length - hash.length - 3;
  const fw = clean(clean(framework).slice(0, Math.min(framework.length, Math.floor(budget / 2))));
  const ag = clean(clean(agent).slice(0, budget - fw.length - 1));
  return [fw, ag, hash, suffix].filter(Boolean).join("-");
}

/** A name part with dots as dashes, runs of dashes as one, none at either end. */
function clean(s: string): string {
  // Most names need nothing (checked with one scan): three replacements per part, for every
  // offer, were a third of building a 10k-agent cycle's offers (bench:controller's CPU profile).
  if (!NEEDS_CLEANING.test(s)) return s;
  // Node names with dots (managed clouds') are cleaned once each, not for every offer.
  let out = cleaned.get(s);
  if (out === undefined) {
    if (cleaned.size >= MAX_CLEANED) cleaned.clear();
    out = s.replaceAll(".", "-").replace(/-+/g, "-").replace(/^-|-$/g, "");
    cleaned.set(s, out);
  }
  return out;
}
const cleaned = new Map<string, string>();
/** More names than any pool has: the memo starts over past this. */
const MAX_CLEANED = 100_000;
const NEEDS_CLEANING = /\.|--|^-|-$/;

// Random bytes drawn in bulk: one randomBytes call per offer was a sixth of a 10k-agent cycle
// (bench:controller's CPU profile), the cost being the call, not the bytes.
const suffixPool = Buffer.alloc(4096);
let suffixAt = suffixPool.length;

/** 5 random hex characters (20 bits), as an offer name's last part. */
function randomSuffix(): string {
  if (suffixAt + 3 > suffixPool.length) {
    randomFillSync(suffixPool);
    suffixAt = 0;
  }
  const hex = suffixPool.toString("hex", suffixAt, suffixAt + 3).slice(0, 5);
  suffixAt += 3;
  return hex;
}

/** The liveness Lease of a node's agent, in the agent lease namespace. */
export function agentLeaseName(node: string): string {
  return fitName(`${AGENT_LEASE_PREFIX}${node}`, MAX_SUBDOMAIN);
}
/** Every agent liveness Lease name starts so (the operator tells them from schedulers' Leases by it). */
export const AGENT_LEASE_PREFIX = "agent-";

/** The liveness Lease a framework's scheduler renews unless it names one (SDK, Mesos API). */
export function schedulerLeaseName(framework: string): string {
  return fitName(`${framework}-scheduler`, MAX_SUBDOMAIN);
}
