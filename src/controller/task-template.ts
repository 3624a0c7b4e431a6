// Checks of a task's Pod template that the API server cannot make for the operator: its shape
// where the CRD leaves it schemaless, and the operator's own keys. Pure.
import { GROUP } from "../crds/contract.ts";
import type { TaskInfo } from "../crds/offer.ts";

/**
 * Template labels and annotations may not use the operator's keys (kubeoffers.io/…): they would
 * hide the Pod from the operator (framework, task id, offer) or move it to another pool. Refused,
 * not stripped, so the framework learns which key. Sub-domains (sim., mesos.) are not the operator's.
 */
export function reservedKey(template: TaskInfo["template"], field: string): string | undefined {
  for (const part of ["labels", "annotations"] as const) {
    for (const key of Object.keys(template.metadata?.[part] ?? {})) {
      if (key.startsWith(`${GROUP}/`))
        return `${field}.metadata.${part}["${key}"]: ${GROUP}/ keys are set by the operator only`;
    }
  }
  return undefined;
}

/**
 * Where a Pod template spec (schemaless in the CRD: the API server checks it only when the Pod is
 * created) is not the shape the planner and the pod policy read — lists of objects — so that
 * such an answer ends Invalid naming the field instead of throwing on every retry.
 */
export function templateShapeError(spec: Record<string, unknown>): string | undefined {
  const isObject = (x: unknown) => typeof x === "object" && x !== null && !Array.isArray(x);
  const objects = (v: unknown, path: string): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return `${path}: must be a list`;
    const i = v.findIndex((x) => !isObject(x));
    return i < 0 ? undefined : `${path}[${i}]: must be an object`;
  };
  for (const kind of ["containers", "initContainers", "ephemeralContainers"]) {
    const bad = objects(spec[kind], kind);
    if (bad) return bad;
    for (const [i, c] of ((spec[kind] ?? []) as Record<string, unknown>[]).entries()) {
      const inner = objects(c.ports, `${kind}[${i}].ports`) ?? objects(c.env, `${kind}[${i}].env`);
      if (inner) return inner;
    }
  }
  return objects(spec.volumes, "volumes");
}
