// Failover: a Framework whose scheduler stopped renewing its liveness Lease has
// failoverTimeoutSeconds (default 60) to come back; after that its tasks are killed (Mesos
// framework failover timeout). Level-based: from the Lease in the cache and the clock, kill
// whatever still runs past the deadline, and look again at the deadline.
import type { V1Lease } from "@kubernetes/client-node";
import type { Framework } from "../crds/framework.ts";
import type { Obj } from "./cache.ts";
import type { ControllerDeps, FrameworkReconciler } from "./deps.ts";
import { killTasks } from "./kill-tasks.ts";
import { type Connectivity, frameworkConnectivity } from "./views.ts";

export const DEFAULT_FAILOVER_TIMEOUT_SECONDS = 60;

/** The scheduler's connectivity, from its liveness Lease in the cache. */
export function connectivityOf(
  d: Pick<ControllerDeps, "cache">,
  fw: Obj<Framework>,
  now: number,
): { connectivity: Connectivity; lease: V1Lease | undefined } {
  const leaseName = fw.spec.liveness?.leaseName;
  const lease = leaseName ? d.cache.lease(leaseName, fw.metadata.namespace) : undefined;
  return { connectivity: frameworkConnectivity(fw, lease, now), lease };
}

export function failoverReconciler(d: ControllerDeps): FrameworkReconciler {
  return {
    /** Returns when to look again (ms), if the deadline is still ahead. */
    async reconcile(fw: Obj<Framework>, now: number): Promise<number | undefined> {
      const conn = connectivityOf(d, fw, now).connectivity;
      if (conn.connected || conn.since === undefined) return undefined;
      const deadline =
        conn.since + (fw.spec.failoverTimeoutSeconds ?? DEFAULT_FAILOVER_TIMEOUT_SECONDS) * 1000;
      if (now < deadline) return deadline - now + 10;
      await killTasks(
        d,
        fw,
        "FailoverTimeout",
        "the scheduler did not reconnect within failoverTimeoutSeconds",
      );
      return undefined;
    },
  };
}
