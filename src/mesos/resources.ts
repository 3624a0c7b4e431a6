// Resources between Kubernetes and Mesos: {cpu: "1500m", memory: 2Gi, ephemeral-storage: 10Gi,
// nvidia.com/gpu: 1, ports: [{begin, end}]} <-> [{name: cpus, scalar 1.5}, {name: mem, scalar
// 2048} (MB), {name: disk, …} (MB), {name: gpus, …}, {name: ports, ranges}]. Other extended
// resources keep their names. Mesos scalars have three decimals (fixed point); offers round
// down and task requests round up, so whatever a framework takes of an offer fits it.
import { RESERVATION_LABEL } from "../crds/contract.ts";
import { formatQuantity } from "../resources/quantity.ts";
import { emptyResources, subtractClamped, toResources } from "../resources/resources.ts";
import type { PortRange, ResourceMap, Resources } from "../resources/types.ts";
import type { MesosResource } from "./messages.ts";

const MB = 1024 * 1024;

/**
 * Kubernetes name -> Mesos name, and how many allocator units make one Mesos unit. Maps: a
 * framework's resource called `constructor` or `toString` is an unknown name, not a property.
 */
const K8S_TO_MESOS = new Map<string, { name: string; unit: number }>([
  ["cpu", { name: "cpus", unit: 1000 }],
  ["memory", { name: "mem", unit: MB }],
  ["ephemeral-storage", { name: "disk", unit: MB }],
  ["nvidia.com/gpu", { name: "gpus", unit: 1 }],
]);
const MESOS_TO_K8S = new Map([...K8S_TO_MESOS].map(([k, v]) => [v.name, { name: k, unit: v.unit }]));

const floor3 = (x: number) => Math.floor(x * 1000 + 1e-9) / 1000;

function parsed(map: ResourceMap | undefined): Resources {
  try {
    return toResources(map ?? {});
  } catch {
    return emptyResources();
  }
}

interface Reservation {
  role: string;
  type: "STATIC" | "DYNAMIC";
  id?: string;
}

/**
 * How resources are shown to a framework (Master::offer): `allocation_info` only with MULTI_ROLE;
 * reservations as the `reservations` stack with RESERVATION_REFINEMENT, otherwise in the
 * pre-refinement form (`role`, and `reservation` for a dynamic one).
 */
export interface ResourceFormat {
  multiRole: boolean;
  refinement: boolean;
}

/** Both capabilities: what the state endpoints and tests show. */
export const FULL_FORMAT: ResourceFormat = { multiRole: true, refinement: true };

function entries(
  r: Resources,
  role: string,
  format: ResourceFormat,
  reservation?: Reservation,
): MesosResource[] {
  const out: MesosResource[] = [];
  const labels = reservation?.id
    ? { labels: { labels: [{ key: RESERVATION_LABEL, value: reservation.id }] } }
    : {};
  const reserved = format.refinement
    ? reservation
      ? { reservations: [{ type: reservation.type, role: reservation.role, ...labels }] }
      : {}
    : {
        role: reservation ? reservation.role : "*",
        ...(reservation?.type === "DYNAMIC" ? { reservation: labels } : {}),
      };
  const extra = { ...reserved, ...(format.multiRole ? { allocation_info: { role } } : {}) };
  for (const name of Object.keys(r.scalars).sort()) {
    const v = r.scalars[name] ?? 0;
    if (v <= 0) continue;
    const m = K8S_TO_MESOS.get(name) ?? { name, unit: 1 };
    out.push({ name: m.name, type: "SCALAR", scalar: { value: floor3(v / m.unit) }, ...extra });
  }
  if (r.ports.length)
    out.push({
      name: "ports",
      type: "RANGES",
      ranges: { range: r.ports.map((p) => ({ begin: p.begin, end: p.end })) },
      ...extra,
    });
  return out;
}

/**
 * An offer's resources in Mesos form, allocated to `role`. Reserved parts (offer
 * spec.reservations) carry a reservation for the role, dynamic ones labelled with their id.
 */
export function toMesosResources(
  map: ResourceMap,
  role: string,
  reservations: { id?: string | undefined; resources: ResourceMap }[] = [],
  format: ResourceFormat = FULL_FORMAT,
): MesosResource[] {
  let rest = parsed(map);
  const out: MesosResource[] = [];
  for (const res of reservations) {
    const r = parsed(res.resources);
    rest = subtractClamped(rest, r);
    out.push(
      ...entries(r, role, format, {
        role,
        type: res.id ? "DYNAMIC" : "STATIC",
        ...(res.id ? { id: res.id } : {}),
      }),
    );
  }
  return [...entries(rest, role, format), ...out];
}

/** Agent totals (no allocation) for the read-only state endpoints: name -> scalar, ports as "[a-b, …]". */
export function toMesosTotals(map: ResourceMap | undefined): Record<string, number | string> {
  const r = parsed(map);
  // No prototype: every name (`__proto__` too) is a key of its own.
  const out: Record<string, number | string> = Object.assign(Object.create(null), {
    cpus: 0,
    mem: 0,
    disk: 0,
    gpus: 0,
  });
  for (const [name, v] of Object.entries(r.scalars)) {
    const m = K8S_TO_MESOS.get(name) ?? { name, unit: 1 };
    out[m.name] = floor3(v / m.unit);
  }
  if (r.ports.length) out.ports = `[${r.ports.map((p) => `${p.begin}-${p.end}`).join(", ")}]`;
  return out;
}

export type Converted =
  | { ok: true; resources: ResourceMap; reservation?: string }
  | { ok: false; error: string };

/**
 * Mesos resources (of a task, or of a RESERVE/UNRESERVE) as a Kubernetes resource map. Scalars
 * of one name are added up (a task may take reserved and unreserved cpus); requests round up to
 * the allocator's units. Set resources and persistent volumes are refused.
 */
export function fromMesosResources(list: readonly MesosResource[] | undefined): Converted {
  const scalars = new Map<string, number>();
  const ports: PortRange[] = [];
  let reservation: string | undefined;
  for (const res of list ?? []) {
    if (res.disk !== undefined && res.disk !== null)
      return {
        ok: false,
        error: `resource ${res.name}: disk info (persistent volumes, disk sources) is not supported`,
      };
    // The reservation id label: on the stack (RESERVATION_REFINEMENT) or the pre-refinement `reservation`.
    for (const rsv of [...(res.reservations ?? []), ...(res.reservation ? [res.reservation] : [])]) {
      const labels =
        (rsv as { labels?: { labels?: { key?: string; value?: string }[] } }).labels?.labels ?? [];
      const id = labels.find((l) => l.key === RESERVATION_LABEL)?.value;
      if (id) reservation = id;
    }
    const type = res.type ?? (res.scalar ? "SCALAR" : res.ranges ? "RANGES" : res.set ? "SET" : undefined);
    if (type === "SCALAR") {
      const v = res.scalar?.value;
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
        return { ok: false, error: `resource ${res.name}: scalar value must be a non-negative number` };
      const m = MESOS_TO_K8S.get(res.name) ?? { name: res.name, unit: 1 };
      if (m.name === "ports") return { ok: false, error: "resource ports must be RANGES" };
      if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(m.name))
        return { ok: false, error: `resource ${res.name}: not a name Kubernetes accepts` };
      // Fixed point with three decimals as Mesos does, then up to whole allocator units.
      const units = Math.ceil(Math.round(v * 1000) * (m.unit / 1000) - 1e-9);
      const total = (scalars.get(m.name) ?? 0) + units;
      // Beyond this the quantity cannot be written back (formatQuantity would throw).
      if (!Number.isSafeInteger(total))
        return { ok: false, error: `resource ${res.name}: scalar value ${v} is too large` };
      scalars.set(m.name, total);
    } else if (type === "RANGES") {
      if (res.name !== "ports")
        return { ok: false, error: `resource ${res.name}: only ports may be a RANGES resource` };
      for (const r of res.ranges?.range ?? []) {
        const begin = Number(r.begin);
        const end = Number(r.end);
        if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 1 || end > 65535 || begin > end)
          return { ok: false, error: `resource ports: invalid range ${begin}-${end}` };
        ports.push({ begin, end });
      }
    } else {
      return { ok: false, error: `resource ${res.name}: ${type ?? "untyped"} resources are not supported` };
    }
  }
  const out: ResourceMap = {};
  for (const [name, v] of scalars) if (v > 0) out[name] = formatQuantity(name, v);
  if (ports.length) out.ports = ports;
  return { ok: true, resources: out, ...(reservation ? { reservation } : {}) };
}

/** Mesos attributes (TEXT) from an agent's attributes. */
export function toMesosAttributes(attrs: Record<string, string> | undefined): Record<string, unknown>[] {
  return Object.entries(attrs ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, type: "TEXT", text: { value } }));
}
