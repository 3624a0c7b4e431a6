// FrameworkInfo (+ SUBSCRIBE's suppressed roles and offer constraints) -> the Framework spec the
// SDK registers, and back for the read-only endpoints. The parts of FrameworkInfo that have no
// field in the Framework spec are kept in an annotation, so GET /master/state shows what the
// scheduler sent.
import { FrameworkSpecSchema } from "../crds/framework.ts";
import { formatErrors, toFieldErrors } from "../crds/validate.ts";
import type { FrameworkRegistration } from "../sdk/client.ts";
import type { FrameworkInfo, OfferConstraints } from "./messages.ts";
import { fromMesosResources } from "./resources.ts";

const MAX_FAILOVER = 31_536_000;

export type Translated = { ok: true; spec: FrameworkRegistration } | { ok: false; error: string };

function constraintsOf(
  oc: OfferConstraints | undefined,
  roles: string[],
): FrameworkRegistration["constraints"] | string {
  const per = Object.entries(oc?.role_constraints ?? {});
  if (!per.length) return undefined;
  // kube-offers constraints are per framework: every role must ask the same single group.
  const key = (g: unknown) => JSON.stringify(g);
  const groups = per.map(([, c]) => c.groups ?? []);
  if (per.length !== roles.length || groups.some((g) => key(g) !== key(groups[0])))
    return "offer_constraints must be the same for every role of the framework";
  const only = groups[0] ?? [];
  if (only.length > 1) return "offer_constraints with more than one group (OR) are not supported";
  const out: NonNullable<FrameworkRegistration["constraints"]> = [];
  for (const c of only[0]?.attribute_constraints ?? []) {
    const attribute = c.selector.attribute_name;
    if (!attribute) return "offer_constraints: only attribute_name selectors are supported";
    const p = c.predicate;
    if (p.exists) out.push({ attribute, operator: "Exists" });
    else if (p.not_exists) out.push({ attribute, operator: "DoesNotExist" });
    else if (p.text_equals) out.push({ attribute, operator: "In", values: [p.text_equals.value] });
    else if (p.text_not_equals) out.push({ attribute, operator: "NotIn", values: [p.text_not_equals.value] });
    else return "offer_constraints: text_matches / text_not_matches (regular expressions) are not supported";
  }
  return out;
}

/** The Framework spec for a FrameworkInfo; invalid combinations are reported, not guessed at. */
export function frameworkSpecOf(
  info: FrameworkInfo,
  suppressed: string[] | undefined,
  constraints: OfferConstraints | undefined,
): Translated {
  const capabilities = new Set((info.capabilities ?? []).map((c) => c.type ?? "").filter(Boolean));
  const roles = capabilities.has("MULTI_ROLE")
    ? info.roles?.length
      ? info.roles
      : ["*"]
    : info.roles?.length && !info.role
      ? info.roles
      : [info.role ?? "*"];
  const failover = Math.min(MAX_FAILOVER, Math.ceil(info.failover_timeout ?? 0));
  const cons = constraintsOf(constraints, roles);
  if (typeof cons === "string") return { ok: false, error: cons };
  let minAllocatable: FrameworkRegistration["minAllocatable"];
  for (const [role, f] of Object.entries(info.offer_filters ?? {})) {
    const alts = (f.min_allocatable_resources?.quantities ?? []).map((q) => {
      const r = fromMesosResources(
        Object.entries(q.quantities ?? {}).map(([name, s]) => ({ name, type: "SCALAR" as const, scalar: s })),
      );
      return r.ok ? (r.resources as Record<string, string>) : {};
    });
    if (alts.length) minAllocatable = { ...(minAllocatable ?? {}), [role]: alts };
  }
  const spec: FrameworkRegistration = {
    roles,
    suppressedRoles: suppressed ?? [],
    failoverTimeoutSeconds: failover,
    capabilities: {
      gpuResources: capabilities.has("GPU_RESOURCES"),
      partitionAware: capabilities.has("PARTITION_AWARE"),
      taskKillingState: capabilities.has("TASK_KILLING_STATE"),
    },
    ...(cons ? { constraints: cons } : {}),
    ...(minAllocatable ? { minAllocatable } : {}),
    ...(info.user ? { user: info.user.slice(0, 256) } : {}),
    ...(info.name ? { displayName: info.name.slice(0, 256) } : {}),
  };
  const parsed = FrameworkSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const errs = toFieldErrors(parsed.error).map((e) => ({ ...e, path: e.path ? `spec.${e.path}` : "spec" }));
    return { ok: false, error: `invalid FrameworkInfo: ${formatErrors(errs)}` };
  }
  return { ok: true, spec };
}

/** FrameworkInfo as kept on the Framework (id and principal have annotations of their own). */
export function infoAnnotation(info: FrameworkInfo): string {
  const { id: _id, ...rest } = info;
  return JSON.stringify(rest).slice(0, 60_000);
}
