// Per framework x agent gates that do not depend on what is left on the agent.

import { matchesConstraints } from "../resources/constraints.ts";
import { isEmpty, meetsAny } from "../resources/resources.ts";
import type { Resources, Scalars } from "../resources/types.ts";
import type { AgentSnapshot, AllocatorConfig, FrameworkSnapshot } from "./types.ts";

export const GPU_RESOURCE = "nvidia.com/gpu";
const MIB = 1024 * 1024;

/** Mesos's --min_allocatable_resources default, cpus:0.01|mem:32. */
export const DEFAULT_MIN_ALLOCATABLE: Scalars[] = [{ cpu: 10 }, { memory: 32 * MIB }];

export function defaultConfig(overrides: Partial<AllocatorConfig> = {}): AllocatorConfig {
  return {
    minAllocatable: DEFAULT_MIN_ALLOCATABLE.map((a) => ({ ...a })),
    fairShareExcludedResources: [],
    seed: 0,
    ...overrides,
  };
}

export function isGpuAgent(agent: AgentSnapshot): boolean {
  return (agent.total.scalars[GPU_RESOURCE] ?? 0) > 0;
}

/** Does the framework accept offers from this agent at all (GPU capability, attribute constraints)? */
export function agentAcceptable(framework: FrameworkSnapshot, agent: AgentSnapshot): boolean {
  if (!framework.gpuResources && isGpuAgent(agent)) return false;
  return matchesConstraints(agent.attributes, framework.constraints);
}

export function minAllocatableFor(
  framework: FrameworkSnapshot | undefined,
  role: string,
  config: AllocatorConfig,
): Scalars[] {
  return framework?.minAllocatable?.[role] ?? config.minAllocatable;
}

/** An offer must be non-empty and meet one of the minimum-size alternatives. */
export function allocatable(offer: Resources, alternatives: readonly Scalars[]): boolean {
  return !isEmpty(offer) && meetsAny(offer.scalars, alternatives);
}
