// One Framework key as the framework queue runs it (operator.ts; bench:controller runs the same):
// its lifecycle first; when it is registered, every other reconciler, each on its own (one failing
// does not hold the others back), looking again at the earliest time any of them asks for.
import { isNotFound } from "../kube/errors.ts";
import type { Clock } from "./clock.ts";
import type { FrameworkReconciler } from "./deps.ts";
import { failoverReconciler } from "./failover.ts";
import type { FrameworkLifecycle } from "./framework-lifecycle.ts";
import { type FrameworkStatusDeps, FrameworkStatusReconciler } from "./framework-status.ts";
import { nodeStateReconciler } from "./node-state.ts";
import type { ReconcileResult } from "./workqueue.ts";

/** What runs on each registered Framework, in order: failover, node states, the status roll-up. */
export function frameworkReconcilers(
  d: FrameworkStatusDeps,
  status: FrameworkReconciler = new FrameworkStatusReconciler(d),
): FrameworkReconciler[] {
  return [failoverReconciler(d), nodeStateReconciler(d), status];
}

const ok = (ms: number | undefined) => ({ ms });
const fail = (err: unknown) => ({ err });

export function frameworkKeyReconciler(
  lifecycle: FrameworkLifecycle,
  reconcilers: readonly FrameworkReconciler[],
  clock: Clock,
): (key: string) => Promise<ReconcileResult | undefined> {
  return async (key) => {
    try {
      const fw = await lifecycle.reconcile(key);
      if (!fw) return undefined;
      const now = clock();
      const results = [];
      for (const r of reconcilers) results.push(await r.reconcile(fw, now).then(ok, fail));
      const failed = results.find((x) => "err" in x);
      if (failed && "err" in failed) throw failed.err;
      const after = results.flatMap((x) => ("ms" in x && x.ms !== undefined ? [x.ms] : []));
      return after.length ? { requeueAfterMs: Math.min(...after) } : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined; // deleted meanwhile: the delete event brings us back
      throw err;
    }
  };
}
