// Failpoints for the crash-safety and chaos tests: `KUBE_OFFERS_FAILPOINT=<name>[:<n>]` makes the
// operator SIGKILL itself the n-th time (default: the first) it reaches the named point, so a test
// can crash it between any two steps of the launch and teardown paths. Unset, a call costs a
// comparison. Names are listed here so the chaos suite can enumerate every point.
// `KUBE_OFFERS_FAILPOINT_GATE=<file>` counts hits only once that file exists, so a test can let a
// standby get ready before the armed replica may die.
import { existsSync } from "node:fs";

export const FAILPOINTS = [
  /** The answer is validated and its reservations written; nothing recorded yet. */
  "before-launch-record",
  /** The launch is recorded on the offer; no Pod created yet. */
  "after-launch-record",
  /** Some of the answer's Pods are created, not all. */
  "mid-launch",
  /** Every Pod of the answer is created; the final status not yet written. */
  "after-launch-before-status",
  /** A torn-down framework's offers are rescinded; its tasks not yet killed. */
  "teardown-after-rescind",
  /** Its tasks are killed; its reservations not yet released. */
  "teardown-after-kill",
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

const [armedName, armedHit] = (process.env.KUBE_OFFERS_FAILPOINT ?? "").split(":");
const armedAt = Math.max(1, Number(armedHit) || 1);
const gate = process.env.KUBE_OFFERS_FAILPOINT_GATE;
let hits = 0;

/** Crashes the process here if this point is armed and reached for the armed time. */
export function failpoint(name: Failpoint): void {
  if (name !== armedName) return;
  if (gate && !existsSync(gate)) return;
  hits++;
  if (hits >= armedAt) process.kill(process.pid, "SIGKILL");
}
