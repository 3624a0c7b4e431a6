// The allocator's vocabulary. Pure data: no Kubernetes types, no I/O. Resources, scalars,
// port ranges and attribute constraints are src/resources's (integers: see its types.ts).
import type { AttributeConstraint, Resources, Scalars } from "../resources/types.ts";

export interface AgentSnapshot {
  name: string;
  attributes: Record<string, string>;
  /** What the agent contributes to the pool in total (unreserved + reserved). */
  total: Resources;
  /** Statically or dynamically reserved slices of `total`, by role. */
  reservations: Record<string, Resources>;
  /** False when cordoned, draining or its lease lapsed: nothing new is offered. */
  available: boolean;
}

export interface FrameworkSnapshot {
  /** Unique id, "<namespace>/<name>". */
  id: string;
  roles: string[];
  suppressedRoles: string[];
  /** Agents with GPUs are offered only to frameworks with this capability. */
  gpuResources: boolean;
  /** Per-role minimum offer size; falls back to config.minAllocatable. */
  minAllocatable?: Record<string, Scalars[]>;
  constraints: AttributeConstraint[];
  /** A framework whose scheduler is disconnected gets no new offers. */
  active: boolean;
}

export interface RoleSnapshot {
  /** Hierarchical, "eng/frontend". */
  name: string;
  weight: number;
  /** Held back for the role until it uses them. */
  guarantees: Scalars;
  /** Never exceeded by the role (and its children). */
  limits: Scalars;
}

/** Resources held by a framework on an agent for a role: running tasks and outstanding offers. */
export interface Allocation {
  framework: string;
  role: string;
  agent: string;
  resources: Resources;
}

/** A refusal filter: the framework does not want this agent's resources until `until`. */
export interface RefusalFilter {
  framework: string;
  agent: string;
  /** Epoch milliseconds; Infinity for "forever". */
  until: number;
}

export interface AllocatorConfig {
  /** Any one of these alternatives being met makes a slice offerable. Default cpu 10m or memory 32Mi. */
  minAllocatable: Scalars[];
  /** Resource names excluded from dominant-share computation (Mesos --fair_sharing_excluded_resource_names). */
  fairShareExcludedResources: string[];
  /** Seed for the agent shuffle, so tests are reproducible. */
  seed: number;
}

export interface Snapshot {
  agents: AgentSnapshot[];
  frameworks: FrameworkSnapshot[];
  roles: RoleSnapshot[];
  allocations: Allocation[];
  filters: RefusalFilter[];
  config: AllocatorConfig;
}

/** One decision: offer these resources of this agent to this framework under this role. */
export interface OfferDecision {
  framework: string;
  role: string;
  agent: string;
  resources: Resources;
}
