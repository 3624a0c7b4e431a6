// fast-check generators of small random clusters, shared by the allocator's property tests.

import fc from "fast-check";
import { normalizePorts } from "../resources/ports.ts";
import type { AttributeConstraint, PortRange, Resources, Scalars } from "../resources/types.ts";
import { DEFAULT_MIN_ALLOCATABLE } from "./eligibility.ts";
import type {
  AgentSnapshot,
  Allocation,
  FrameworkSnapshot,
  RefusalFilter,
  RoleSnapshot,
  Snapshot,
} from "./types.ts";

export const NOW = 1_000_000;
const MIB = 1024 * 1024;
const ROLE_POOL = ["a", "b", "a/x", "a/y", "a/x/deep", "c"];

const portsArb: fc.Arbitrary<PortRange[]> = fc
  .array(
    fc.tuple(fc.integer({ min: 31000, max: 31020 }), fc.integer({ min: 0, max: 4 })).map(([b, n]) => ({
      begin: b,
      end: b + n,
    })),
    { maxLength: 3 },
  )
  .map(normalizePorts);

const scalarsArb = (gpu: boolean): fc.Arbitrary<Scalars> =>
  fc
    .record({
      cpu: fc.integer({ min: 0, max: 16 }).map((x) => x * 500),
      memory: fc.integer({ min: 0, max: 16 }).map((x) => x * 256 * MIB),
      disk: fc.integer({ min: 0, max: 4 }).map((x) => x * 1000),
      gpu: gpu ? fc.integer({ min: 0, max: 2 }) : fc.constant(0),
    })
    .map(({ cpu, memory, disk, gpu: g }) => {
      const s: Scalars = {};
      if (cpu) s.cpu = cpu;
      if (memory) s.memory = memory;
      if (disk) s.disk = disk;
      if (g) s["nvidia.com/gpu"] = g;
      return s;
    });

/** A fraction (in quarters) of the scalars, and a subset of the ports. */
function part(r: Resources, quarters: number, portMask: number): Resources {
  const scalars: Scalars = {};
  for (const [k, v] of Object.entries(r.scalars)) {
    const x = Math.floor((v * quarters) / 4);
    if (x > 0) scalars[k] = x;
  }
  return { scalars, ports: r.ports.filter((_, i) => (portMask >> i) & 1) };
}

const agentArb = (i: number): fc.Arbitrary<AgentSnapshot> =>
  fc
    .record({
      total: fc.record({ scalars: scalarsArb(true), ports: portsArb }),
      zone: fc.constantFrom("a", "b", undefined),
      reservationRole: fc.option(fc.constantFrom(...ROLE_POOL), { nil: undefined }),
      quarters: fc.integer({ min: 1, max: 3 }),
      portMask: fc.integer({ min: 0, max: 7 }),
      available: fc.oneof(
        { weight: 5, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    })
    .map(({ total, zone, reservationRole, quarters, portMask, available }) => ({
      name: `agent-${i}`,
      attributes: (zone ? { zone } : {}) as Record<string, string>,
      total,
      reservations: reservationRole ? { [reservationRole]: part(total, quarters, portMask) } : {},
      available,
    }));

const constraintArb: fc.Arbitrary<AttributeConstraint> = fc.oneof(
  fc.record({
    attribute: fc.constant("zone"),
    operator: fc.constant("In" as const),
    values: fc.constant<string[]>(["a"]),
  }),
  fc.record({
    attribute: fc.constant("zone"),
    operator: fc.constant("NotIn" as const),
    values: fc.constant<string[]>(["a"]),
  }),
  fc.record({ attribute: fc.constant("zone"), operator: fc.constant("Exists" as const) }),
);

const frameworkArb = (i: number): fc.Arbitrary<FrameworkSnapshot> =>
  fc
    .record({
      roles: fc.uniqueArray(fc.constantFrom(...ROLE_POOL), { minLength: 1, maxLength: 2 }),
      suppress: fc.integer({ min: 0, max: 7 }),
      gpu: fc.boolean(),
      constraints: fc.oneof(
        { weight: 4, arbitrary: fc.constant<AttributeConstraint[]>([]) },
        { weight: 1, arbitrary: fc.array(constraintArb, { maxLength: 1 }) },
      ),
      active: fc.oneof(
        { weight: 5, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      bigMin: fc.oneof(
        { weight: 4, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
    })
    .map(({ roles, suppress, gpu, constraints, active, bigMin }) => ({
      id: `ns/fw-${i}`,
      roles,
      suppressedRoles: roles.filter((_, j) => suppress === 7 && j === 0),
      gpuResources: gpu,
      constraints,
      active,
      ...(bigMin ? { minAllocatable: { [roles[0] as string]: [{ cpu: 4000 }] } } : {}),
    }));

const roleArb: fc.Arbitrary<RoleSnapshot> = fc
  .record({
    name: fc.constantFrom(...ROLE_POOL),
    weight: fc.constantFrom(1, 1, 2, 3),
    guarantees: fc.option(scalarsArb(false), { nil: undefined }),
    limits: fc.option(scalarsArb(false), { nil: undefined }),
  })
  .map(({ name, weight, guarantees, limits }) => ({
    name,
    weight,
    guarantees: guarantees ?? {},
    limits: limits ?? {},
  }));

export interface ClusterOptions {
  maxAgents?: number;
  maxFrameworks?: number;
  quota?: boolean;
  /** Existing allocations fit the agent: a role uses only its own reservation and the unreserved part. */
  fit?: boolean;
}

export function clusterArb(opts: ClusterOptions = {}): fc.Arbitrary<Snapshot> {
  const maxAgents = opts.maxAgents ?? 6;
  const maxFrameworks = opts.maxFrameworks ?? 5;
  return fc
    .record({
      agentCount: fc.integer({ min: 1, max: maxAgents }),
      fwCount: fc.integer({ min: 1, max: maxFrameworks }),
      seed: fc.integer({ min: 0, max: 1000 }),
      roles:
        opts.quota === false
          ? fc.constant<RoleSnapshot[]>([])
          : fc.uniqueArray(roleArb, { maxLength: 3, selector: (r) => r.name }),
      minAlloc: fc.constantFrom("default", "none", "cpu"),
      excludeDisk: fc.boolean(),
    })
    .chain(({ agentCount, fwCount, seed, roles, minAlloc, excludeDisk }) =>
      fc
        .record({
          agents: fc.tuple(...Array.from({ length: agentCount }, (_, i) => agentArb(i))),
          frameworks: fc.tuple(...Array.from({ length: fwCount }, (_, i) => frameworkArb(i))),
          allocSpecs: fc.array(
            fc.record({
              f: fc.nat(),
              r: fc.nat(),
              a: fc.nat(),
              quarters: fc.integer({ min: 1, max: 2 }),
              portMask: fc.integer({ min: 0, max: 7 }),
            }),
            { maxLength: 4 },
          ),
          filterSpecs: fc.array(
            fc.record({
              f: fc.nat(),
              a: fc.nat(),
              until: fc.constantFrom(NOW - 1, NOW, NOW + 5000, Infinity),
            }),
            { maxLength: 4 },
          ),
        })
        .map(({ agents, frameworks, allocSpecs, filterSpecs }): Snapshot => {
          // Existing allocations take disjoint quarters of an agent's total, so nothing is overcommitted.
          const allocations: Allocation[] = [];
          const usedQuarters = new Map<string, number>();
          for (const s of allocSpecs) {
            const agent = agents[s.a % agents.length] as AgentSnapshot;
            const fw = frameworks[s.f % frameworks.length] as FrameworkSnapshot;
            const role = fw.roles[s.r % fw.roles.length] as string;
            const used = usedQuarters.get(agent.name) ?? 0;
            if (used + s.quarters > 2) continue;
            usedQuarters.set(agent.name, used + s.quarters);
            const unreservedPorts = agent.total.ports.filter(
              (p) => !Object.values(agent.reservations).some((r) => r.ports.some((q) => q.begin === p.begin)),
            );
            const reservation = Object.entries(agent.reservations)[0];
            let base = agent.total.scalars;
            if (opts.fit && reservation && reservation[0] !== role) {
              base = { ...base };
              for (const [k, v] of Object.entries(reservation[1].scalars)) base[k] = (base[k] ?? 0) - v;
            }
            const res = part({ scalars: base, ports: unreservedPorts }, s.quarters, s.portMask);
            // Ports may only be used once across allocations.
            res.ports = res.ports.filter(
              (p) =>
                !allocations.some(
                  (x) => x.agent === agent.name && x.resources.ports.some((q) => q.begin === p.begin),
                ),
            );
            allocations.push({ framework: fw.id, role, agent: agent.name, resources: res });
          }
          const filters: RefusalFilter[] = filterSpecs.map((s) => ({
            framework: (frameworks[s.f % frameworks.length] as FrameworkSnapshot).id,
            agent: (agents[s.a % agents.length] as AgentSnapshot).name,
            until: s.until,
          }));
          return {
            agents,
            frameworks,
            roles,
            allocations,
            filters,
            config: {
              minAllocatable:
                minAlloc === "default"
                  ? DEFAULT_MIN_ALLOCATABLE
                  : minAlloc === "none"
                    ? []
                    : [{ cpu: 1000, memory: 512 * MIB }],
              fairShareExcludedResources: excludeDisk ? ["disk"] : [],
              seed,
            },
          };
        }),
    );
}
