// How the load test and bench:e2e split NODES agents over their agent processes (agents.ts):
// each process a contiguous share of the nodes, and its share of the start concurrency.

/** The default number of agents started at once, over all agent processes. */
export const AGENT_START_CONCURRENCY = 32;

export interface AgentShare {
  first: number;
  count: number;
  /** agents.ts's environment for this share (with KUBECONFIG and NODE_PREFIX from the caller). */
  env: { FIRST: string; COUNT: string; START_CONCURRENCY: string };
}

export function agentShares(
  nodes: number,
  procs: number,
  startConcurrency = AGENT_START_CONCURRENCY,
): AgentShare[] {
  return Array.from({ length: procs }, (_, k) => {
    const first = Math.floor((k * nodes) / procs);
    const count = Math.floor(((k + 1) * nodes) / procs) - first;
    const env = {
      FIRST: String(first),
      COUNT: String(count),
      START_CONCURRENCY: String(Math.max(1, Math.ceil(startConcurrency / procs))),
    };
    return { first, count, env };
  });
}
