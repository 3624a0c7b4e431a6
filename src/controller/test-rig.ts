// One controller over a memory cluster (memory-cluster.ts), for table tests: the allocation loop,
// the offer reconciler and the framework reconcilers wired as operator.ts wires them, reading memory
// stores, writing through the recording writer, on a clock the test moves.
import { AllocationLoop, type LoopDeps } from "./allocation-loop.ts";
import { ClusterCache } from "./cache.ts";
import { defaultOperatorConfig, type OperatorConfig } from "./config.ts";
import { agentOnNode } from "./fixtures.ts";
import { FrameworkLifecycle } from "./framework-lifecycle.ts";
import { frameworkKeyReconciler, frameworkReconcilers } from "./framework-reconcile.ts";
import { FrameworkStatusReconciler } from "./framework-status.ts";
import { createLogger, type Logger } from "./log.ts";
import { MemoryCluster } from "./memory-cluster.ts";
import { Metrics } from "./metrics.ts";
import { OfferReconciler } from "./offer-reconciler.ts";
import { RoleStatusReconciler } from "./role-status.ts";
import { Assumptions, FilterStore, PodTombstones } from "./state.ts";

/** The time table tests start at. */
export const T0 = Date.parse("2026-06-01T12:00:00Z");

export function rig(
  opts: {
    now?: number;
    config?: Partial<OperatorConfig>;
    offerBackoff?: LoopDeps["offerBackoff"];
    isLeader?: () => boolean;
    /** Where the controller's log lines go; default: nowhere. */
    log?: Logger;
  } = {},
) {
  const clock = { now: opts.now ?? T0 };
  const tick = () => clock.now;
  const cluster = new MemoryCluster(tick);
  const cache = new ClusterCache(cluster.stores, { clock: tick });
  const config = defaultOperatorConfig({ seed: 1, ...opts.config });
  const assumptions = new Assumptions(tick);
  const metrics = new Metrics(false);
  const common = {
    cache,
    writer: cluster,
    filters: new FilterStore(),
    config,
    log: opts.log ?? createLogger("table", "silent"),
    metrics,
    unreadable: () => {},
    clock: tick,
    trigger: () => {},
  };
  const busy = new Set<string>();
  const lifecycle = new FrameworkLifecycle({ ...common, assumptions });
  const status = new FrameworkStatusReconciler(common);
  return {
    clock,
    cluster,
    cache,
    assumptions,
    metrics,
    loop: new AllocationLoop({
      ...common,
      assumptions,
      isLeader: opts.isLeader ?? (() => true),
      busyOffers: busy,
      ...(opts.offerBackoff ? { offerBackoff: opts.offerBackoff } : {}),
    }),
    offers: new OfferReconciler({
      ...common,
      assumptions,
      tombstones: new PodTombstones(60_000, tick),
      busy,
    }),
    lifecycle,
    status,
    /** A Framework key as the framework queue runs it: lifecycle, failover, node states, status. */
    frameworks: frameworkKeyReconciler(lifecycle, frameworkReconcilers(common, status), tick),
    roles: new RoleStatusReconciler(common),
  };
}

export type Rig = ReturnType<typeof rig>;

/** An agent with its Node and Lease, renewed at the rig's time. */
export function seedAgent(
  r: Rig,
  name: string,
  resources: Record<string, string> = { cpu: "4", memory: "8Gi" },
): void {
  const { agent, node, lease } = agentOnNode(name, resources, r.clock.now);
  r.cluster.seed({ agents: [agent], nodes: [node], leases: [lease] });
}
