// The ResourceOffer object for one allocator decision. Pure.
import type { OfferDecision } from "../allocator/index.ts";
import {
  API_VERSION,
  agentLabelValue,
  KIND,
  LABEL_AGENT,
  LABEL_FRAMEWORK,
  LABEL_POOL,
  LABEL_ROLE,
  offerName,
  roleLabelValue,
} from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import { portsIntersection } from "../resources/ports.ts";
import { add, emptyResources, fromResources, subtractClamped, toResources } from "../resources/resources.ts";
import type { PortRange, Resources, Scalars } from "../resources/types.ts";
import type { Obj } from "./cache.ts";
import type { AgentView } from "./views.ts";

export interface OfferObjectConfig {
  pool?: string | undefined;
  defaultOfferTimeoutSeconds?: number | undefined;
  /** The term of the leader making the offer (deposed-offers.ts); none without an election. */
  leaderTerm?: number | undefined;
}

/** The offer for decision `d` of framework `fw` on `agent`, made at `now`. */
export function offerObject(
  d: OfferDecision,
  fw: Obj<Framework>,
  agent: AgentView,
  now: number,
  config: OfferObjectConfig,
): ResourceOffer {
  const namespace = fw.metadata.namespace ?? "";
  const fwName = fw.metadata.name ?? "";
  const timeout = fw.spec.offerTimeoutSeconds ?? config.defaultOfferTimeoutSeconds;
  const reservations = offerReservations(agent, d.role, d.resources);
  return {
    apiVersion: API_VERSION,
    kind: KIND.resourceOffer,
    metadata: {
      name: offerName(fwName, d.agent),
      namespace,
      labels: {
        [LABEL_FRAMEWORK]: fwName,
        [LABEL_AGENT]: agentLabelValue(d.agent),
        [LABEL_ROLE]: roleLabelValue(d.role),
        ...(config.pool ? { [LABEL_POOL]: config.pool } : {}),
      },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: KIND.framework,
          name: fwName,
          uid: fw.metadata.uid ?? "",
          controller: true,
        },
      ],
    },
    spec: {
      framework: fwName,
      role: d.role,
      agent: d.agent,
      resources: fromResources(d.resources) as ResourceOffer["spec"]["resources"],
      attributes: agent.attributes,
      ...(reservations.length ? { reservations } : {}),
      ...(timeout ? { expiresAt: new Date(now + timeout * 1000).toISOString() } : {}),
      ...(config.leaderTerm !== undefined ? { leaderTerm: config.leaderTerm } : {}),
    },
  } as ResourceOffer;
}

/**
 * The reserved parts of an offer: each dynamic reservation of the role on the agent (with its
 * id, for unreserve) and then the static reservation, as far as the offer covers them.
 */
function offerReservations(agent: AgentView, role: string, offered: Resources) {
  const out: { id?: string; resources: ResourceOffer["spec"]["resources"] }[] = [];
  let left = offered;
  const take = (r: Resources, id?: string) => {
    const part = intersect(r, left);
    if (!part) return;
    out.push({ ...(id ? { id } : {}), resources: fromResources(part) as ResourceOffer["spec"]["resources"] });
    left = subtractClamped(left, part);
  };
  let dynamicTotal = emptyResources();
  for (const d of agent.dynamic) {
    if (d.role !== role) continue;
    // Parsed already when the agent's view was built (agentView), so this cannot throw here.
    const r = toResources(d.resources as Record<string, string | PortRange[]>);
    dynamicTotal = add(dynamicTotal, r);
    take(r, d.id);
  }
  const all = agent.reservations[role];
  if (all) take(subtractClamped(all, dynamicTotal));
  return out;
}

function intersect(a: Resources, b: Resources): Resources | undefined {
  const scalars: Scalars = {};
  for (const [k, v] of Object.entries(a.scalars)) {
    const m = Math.min(v, b.scalars[k] ?? 0);
    if (m > 0) scalars[k] = m;
  }
  const ports = portsIntersection(a.ports, b.ports);
  return Object.keys(scalars).length || ports.length ? { scalars, ports } : undefined;
}
