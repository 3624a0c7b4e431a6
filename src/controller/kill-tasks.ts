// Killing a framework's tasks (Mesos KILL from the master's side): every live task Pod in the
// cache is deleted, with its uid as precondition, and the kill is logged and told as an Event.
import { KIND } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { Obj } from "./cache.ts";
import type { ControllerDeps } from "./deps.ts";
import { frameworkId } from "./names.ts";
import { isTerminalPod } from "./views.ts";

/** Deletes the framework's live task Pods; returns how many. */
export async function killTasks(
  d: Pick<ControllerDeps, "cache" | "writer" | "log">,
  fw: Obj<Framework>,
  reason: string,
  message: string,
): Promise<number> {
  const ns = fw.metadata.namespace ?? "";
  const name = fw.metadata.name ?? "";
  const live = d.cache.podsOf(ns, name).filter((p) => !isTerminalPod(p) && !p.metadata?.deletionTimestamp);
  await Promise.all(live.map((p) => d.writer.deletePod(ns, p.metadata?.name ?? "", p.metadata?.uid)));
  if (live.length) {
    d.log.info({ framework: frameworkId(ns, name), killed: live.length, reason }, "tasks killed");
    void d.writer.event(
      { kind: KIND.framework, namespace: ns, name, uid: fw.metadata.uid ?? "" },
      "Warning",
      reason,
      `${message}: killed ${live.length} task(s)`,
    );
  }
  return live.length;
}
