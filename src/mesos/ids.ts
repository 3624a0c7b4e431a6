// Mesos ids <-> Kubernetes names, deterministically: the same Mesos id always names the same
// object, so a re-subscription, a KILL or a RECONCILE finds what an earlier call created, even
// after the operator restarted. Mesos ids are free-form strings; Kubernetes names are DNS labels.
//   framework id   <-> Framework name (in the principal's namespace)
//   task id        <-> kube-offers task id (Pod `<framework>-<task>`); the Mesos id is kept on the Pod
//   agent id       == Agent name == node name
//   offer id       == ResourceOffer name
import { createHash, randomBytes } from "node:crypto";

/** Framework names stay short: offers are named `<framework>-<agent>-<suffix>` (at most 63). */
const MAX_FRAMEWORK_NAME = 30;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function hash(s: string, n: number): string {
  return createHash("sha256").update(s).digest("hex").slice(0, n);
}

function sanitize(s: string, max: number): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-+/, "")
    .slice(0, max)
    .replace(/-+$/, "");
}

/** A new framework id for a SUBSCRIBE without one: `<name>-<8 hex>`, itself a valid Framework name. */
export function newFrameworkId(frameworkName: string): string {
  const base = sanitize(frameworkName, MAX_FRAMEWORK_NAME - 9) || "mesos";
  return `${base}-${randomBytes(4).toString("hex")}`;
}

/** The Framework object's name for a Mesos framework id. */
export function frameworkNameFor(frameworkId: string): string {
  if (frameworkId.length <= MAX_FRAMEWORK_NAME && DNS_LABEL.test(frameworkId)) return frameworkId;
  const base = sanitize(frameworkId, MAX_FRAMEWORK_NAME - 11) || "mf";
  return `${base}-${hash(frameworkId, 10)}`;
}

/** The kube-offers task id (a DNS label, at most 63) for a Mesos task id. */
export function taskKeyFor(mesosTaskId: string): string {
  if (mesosTaskId.length <= 63 && DNS_LABEL.test(mesosTaskId)) return mesosTaskId;
  const base = sanitize(mesosTaskId, 50) || "t";
  return `${base}-${hash(mesosTaskId, 12)}`;
}

/** A status update uuid: 16 random bytes, base64 as protobuf JSON writes `bytes`. */
export function newUuid(): string {
  return randomBytes(16).toString("base64");
}
