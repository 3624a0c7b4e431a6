// Patch helpers: client-node sends PATCH as JSON Patch unless told otherwise.
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
export const jsonPatch = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
export const applyPatch = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);

/** RFC 3339 with microseconds, as the API server wants for MicroTime fields (Lease renewTime). */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
