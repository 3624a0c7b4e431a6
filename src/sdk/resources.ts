// Offer matching for framework authors: does a task fit an offer, what is left, which host
// ports to take, and packing several tasks into several offers (all or nothing). Pure: exact
// integer arithmetic from src/resources (milli-cores, bytes), no Kubernetes calls.
import { portCount, portsDifference, takePorts } from "../resources/ports.ts";
import { formatQuantity } from "../resources/quantity.ts";
import {
  add,
  contains,
  emptyResources,
  formatResources as formatParsed,
  fromResources,
  subtract,
  toResources,
} from "../resources/resources.ts";
import type { Resources as Parsed, ResourceMap } from "../resources/types.ts";
import { InvalidLaunchError } from "./errors.ts";

// Pure resource helpers the SDK exports as they are: the operator uses the same definitions.
export { matchesConstraints } from "../resources/constraints.ts";
export { takePorts } from "../resources/ports.ts";
/** Resources as they appear in offers and tasks: `{cpu: "500m", memory: "1Gi", ports: [{begin, end}]}`. */
export type { ResourceMap } from "../resources/types.ts";

/** What a task needs: scalars as quantities, plus how many host ports (picked from the offer). */
export interface ResourceRequest {
  [name: string]: string | number | undefined;
  /** Number of host ports to take from the offer's port ranges. */
  ports?: number;
}

export function parseResources(map: ResourceMap | undefined): Parsed {
  try {
    return toResources(map ?? {});
  } catch (err) {
    throw new InvalidLaunchError(`invalid resources ${JSON.stringify(map)}: ${(err as Error).message}`);
  }
}

export function formatResources(map: ResourceMap | Parsed): string {
  return formatParsed(isParsed(map) ? map : parseResources(map));
}

function isParsed(x: ResourceMap | Parsed): x is Parsed {
  return typeof (x as Parsed).scalars === "object" && Array.isArray((x as Parsed).ports);
}

function requestScalars(req: ResourceRequest): { scalars: Parsed; ports: number } {
  const map: ResourceMap = {};
  for (const [k, v] of Object.entries(req)) if (k !== "ports" && v !== undefined) map[k] = v;
  const ports = req.ports ?? 0;
  if (!Number.isInteger(ports) || ports < 0)
    throw new InvalidLaunchError(`ports must be a whole number of host ports, not ${JSON.stringify(ports)}`);
  return { scalars: parseResources(map), ports };
}

/** True when `need` fits in `available` (both resource maps or parsed resources). */
export function fits(available: ResourceMap | Parsed, need: ResourceMap | Parsed): boolean {
  const a = isParsed(available) ? available : parseResources(available);
  const b = isParsed(need) ? need : parseResources(need);
  return contains(a, b);
}

/**
 * What is left of one offer while tasks are packed into it. `place()` takes a request (picking
 * concrete host ports) and returns the resources to put in the task, or undefined when it does
 * not fit; nothing is taken then.
 */
export class OfferBin {
  readonly offerName: string;
  private left: Parsed;
  private readonly total: Parsed;

  constructor(offerName: string, resources: ResourceMap) {
    this.offerName = offerName;
    this.total = parseResources(resources);
    this.left = this.total;
  }

  /** The resources not yet taken, as a resource map. */
  get remaining(): ResourceMap {
    return fromResources(this.left);
  }

  /** The resources taken so far. */
  get used(): ResourceMap {
    return fromResources(subtract(this.total, this.left));
  }

  canPlace(req: ResourceRequest): boolean {
    return this.resolve(req) !== undefined;
  }

  place(req: ResourceRequest): ResourceMap | undefined {
    const r = this.resolve(req);
    if (!r) return undefined;
    this.left = subtract(this.left, r);
    return fromResources(r);
  }

  private resolve(req: ResourceRequest): Parsed | undefined {
    const { scalars, ports } = requestScalars(req);
    const picked = takePorts(this.left.ports, ports);
    if (!picked) return undefined;
    const r = add(scalars, { scalars: {}, ports: picked });
    return contains(this.left, r) ? r : undefined;
  }
}

/** One unit of work to place: an id and what it needs. */
export interface Placement<T> {
  item: T;
  request: ResourceRequest;
}

export interface OfferLike {
  name: string;
  resources: ResourceMap;
}

/**
 * Places every item in some offer, or none at all (gang scheduling): first-fit decreasing by
 * the items' largest scalar, trying the fullest offers first so a group stays compact. Returns
 * the resources assigned to each item per offer name, or undefined when the items do not fit
 * all at once.
 */
export function packAll<T>(
  offers: readonly OfferLike[],
  items: readonly Placement<T>[],
): Map<string, { item: T; resources: ResourceMap }[]> | undefined {
  const bins = offers.map((o) => new OfferBin(o.name, o.resources));
  const weight = (req: ResourceRequest) => {
    const { scalars } = requestScalars(req);
    return Math.max(0, ...Object.values(scalars.scalars));
  };
  const order = [...items].sort((a, b) => weight(b.request) - weight(a.request));
  const out = new Map<string, { item: T; resources: ResourceMap }[]>();
  for (const it of order) {
    const bin = bins.find((b) => b.canPlace(it.request));
    if (!bin) return undefined;
    const resources = bin.place(it.request)!;
    const list = out.get(bin.offerName) ?? [];
    list.push({ item: it.item, resources });
    out.set(bin.offerName, list);
  }
  return out;
}

/** Sum of resource maps. */
export function sumResources(maps: readonly ResourceMap[]): ResourceMap {
  return fromResources(maps.reduce((acc, m) => add(acc, parseResources(m)), emptyResources()));
}

/**
 * Checks that tasks fit an offer as the operator will: every scalar offered, the sum within the
 * offer, ports inside the offered ranges and not shared. Throws InvalidLaunchError naming the
 * task and resource.
 */
export function checkTasksFit(
  offerName: string,
  offered: ResourceMap,
  tasks: readonly { id: string; resources: ResourceMap }[],
): void {
  const total = parseResources(offered);
  let used = emptyResources();
  for (const t of tasks) {
    const r = parseResources(t.resources);
    for (const name of Object.keys(r.scalars)) {
      if (total.scalars[name] === undefined)
        throw new InvalidLaunchError(
          `task ${t.id} asks for ${name}, which offer ${offerName} does not hold (offered: ${formatResources(total)})`,
        );
    }
    if (r.ports.length && portsDifference(r.ports, total.ports).length > 0)
      throw new InvalidLaunchError(
        `task ${t.id} asks for ports ${formatResources({ scalars: {}, ports: r.ports })} outside offer ${offerName}'s ${formatResources({ scalars: {}, ports: total.ports })}`,
      );
    if (r.ports.length && portCount(portsDifference(r.ports, used.ports)) !== portCount(r.ports))
      throw new InvalidLaunchError(`task ${t.id} asks for ports another task of this answer already uses`);
    const next = add(used, r);
    if (!contains(total, next)) {
      const over = Object.keys(next.scalars).find((k) => (next.scalars[k] ?? 0) > (total.scalars[k] ?? 0));
      const k = over ?? "";
      throw new InvalidLaunchError(
        `task ${t.id} asks ${k} ${formatQuantity(k, r.scalars[k] ?? 0)}, more than the ${formatQuantity(k, (total.scalars[k] ?? 0) - (used.scalars[k] ?? 0))} left of offer ${offerName} (offered: ${formatResources(total)})`,
      );
    }
    used = next;
  }
}
