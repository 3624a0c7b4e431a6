// Generators of ResourceOffer answers (spec.response) shared by the unit suite (planLaunch) and
// the e2e suite (answers through the API server): tasks asking small parts of an offer, Pod
// templates with hostile parts (sidecars with their own requests, host namespaces, hostPath,
// privileged, host ports, operator label keys), operations at and past their limits; plus the
// oracle's reading of a refusal (does its message name the field?).
import fc from "fast-check";
import { LABEL_FRAMEWORK, LABEL_OFFER, LABEL_TASK_ID } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import {
  dnsLabel,
  dnsSubdomain,
  hostileNumber,
  hostileString,
  mutated,
  PROTO_KEYS,
  quantityValue,
  resourceName,
  sameType,
  smallQuantity,
  withOwnKey,
  word,
  wrongType,
} from "./arbitraries.ts";

/** The first offered host port (the agents' default range starts here). */
export const PORT_BASE = 31000;

export const taskId = fc.oneof(
  { weight: 8, arbitrary: word(4, false).map((w) => `t${w}`) },
  { weight: 1, arbitrary: fc.constantFrom("t".repeat(63), "t".repeat(64), "T1", "t_1", "-t", ...PROTO_KEYS) },
);

/** Task resources: mostly small asks of the offer, sometimes extended, hostile or wrongly typed ones. */
const taskResources = fc
  .tuple(
    fc.record(
      {
        cpu: smallQuantity("cpu"),
        memory: smallQuantity("memory"),
        "nvidia.com/gpu": smallQuantity("nvidia.com/gpu"),
      },
      { requiredKeys: [] },
    ),
    fc.option(
      fc.array(
        fc
          .integer({ min: 0, max: 40 })
          .chain((b) =>
            fc.integer({ min: b, max: b + 3 }).map((e) => ({ begin: PORT_BASE + b, end: PORT_BASE + e })),
          ),
        { maxLength: 2 },
      ),
      { nil: undefined },
    ),
    fc.oneof(
      { weight: 4, arbitrary: fc.constant([]) },
      {
        weight: 1,
        arbitrary: fc.array(fc.tuple(resourceName, quantityValue), { minLength: 1, maxLength: 2 }),
      },
    ),
  )
  .map(([known, ports, extra]) => {
    const r: Record<string, unknown> = { ...known };
    if (ports) r.ports = ports;
    for (const [k, v] of extra) if (k !== "ports") withOwnKey(r, k, v);
    return r;
  });

const container = fc.record(
  {
    name: dnsLabel,
    image: fc.constantFrom("busybox", "registry.example.com/app:1"),
    resources: fc.record(
      {
        requests: fc.record(
          { cpu: smallQuantity("cpu"), memory: smallQuantity("memory") },
          { requiredKeys: [] },
        ),
        limits: fc.record({ cpu: smallQuantity("cpu") }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
    ports: fc.array(
      fc.record(
        { containerPort: fc.integer({ min: 1, max: 65535 }), hostPort: fc.integer({ min: 1, max: 65535 }) },
        { requiredKeys: ["containerPort"] },
      ),
      { maxLength: 2 },
    ),
    env: fc.array(
      fc.record({ name: fc.constantFrom("A", "PORT0", "KUBEOFFERS_TASK_ID"), value: hostileString }),
      {
        maxLength: 2,
      },
    ),
    securityContext: fc.record({ privileged: fc.boolean() }, { requiredKeys: [] }),
    restartPolicy: fc.constant("Always"),
  },
  { requiredKeys: ["name"] },
);

export const podSpec = fc.record(
  {
    containers: fc.array(container, { maxLength: 3 }),
    initContainers: fc.array(container, { maxLength: 2 }),
    hostNetwork: fc.boolean(),
    hostPID: fc.boolean(),
    volumes: fc.array(
      fc.record(
        { name: dnsLabel, hostPath: fc.record({ path: fc.constantFrom("/", "/var/run") }) },
        { requiredKeys: ["name"] },
      ),
      { maxLength: 2 },
    ),
    overhead: fc.record({ cpu: smallQuantity("cpu") }),
    nodeName: dnsSubdomain,
    restartPolicy: fc.constantFrom("Always", "OnFailure"),
  },
  { requiredKeys: ["containers"] },
);

export const template = fc.record(
  {
    metadata: fc.record(
      {
        labels: fc.dictionary(
          fc.constantFrom(LABEL_FRAMEWORK, LABEL_TASK_ID, LABEL_OFFER, "app", "a/b", "__proto__"),
          fc.oneof({ weight: 6, arbitrary: dnsLabel }, { weight: 1, arbitrary: hostileString }),
          { maxKeys: 3 },
        ),
        annotations: fc.dictionary(fc.constantFrom("note", "kubeoffers.io/resources", "x/y"), hostileString, {
          maxKeys: 2,
        }),
      },
      { requiredKeys: [] },
    ),
    spec: podSpec,
  },
  { requiredKeys: ["spec"] },
);

export const task = fc.record({ id: taskId, resources: taskResources, template });

export const tasks = fc.oneof(
  { weight: 80, arbitrary: fc.uniqueArray(task, { minLength: 1, maxLength: 4, selector: (t) => t.id }) },
  // Duplicate ids within one operation.
  { weight: 4, arbitrary: fc.array(task, { minLength: 2, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(task, { minLength: 0, maxLength: 0 }) },
  // At and past the per-operation limit (128).
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 127, max: 129 })
      .chain((n) => fc.array(task, { minLength: n, maxLength: n })),
  },
);

export const operation = fc.oneof(
  { weight: 6, arbitrary: tasks.map((t) => ({ launch: { tasks: t } })) },
  { weight: 3, arbitrary: tasks.map((t) => ({ launchGroup: { tasks: t } })) },
  { weight: 1, arbitrary: taskResources.map((r) => ({ reserve: { resources: r } })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ resources: taskResources, id: fc.option(dnsLabel, { nil: undefined }) })
      .map((u) => ({ unreserve: u })),
  },
  { weight: 1, arbitrary: tasks.map((t) => ({ launch: { tasks: t }, launchGroup: { tasks: t } })) },
);

export const response = fc.record(
  {
    action: fc.oneof(
      { weight: 20, arbitrary: fc.constant("Accept") },
      { weight: 1, arbitrary: fc.constantFrom("Decline", "accept") },
    ),
    operations: fc.oneof(
      { weight: 40, arbitrary: fc.array(operation, { minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: fc.array(operation, { minLength: 33, maxLength: 33 }) },
    ),
    filters: fc.record({
      refuseSeconds: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 0, max: 10 }) },
        { weight: 1, arbitrary: hostileNumber },
      ),
    }),
  },
  { requiredKeys: ["action"] },
);

/**
 * Answers as the API server can hand them on: clean ones, ones with anything inside the Pod
 * template specs and extended resources (the CRD preserves unknown fields there), and ones with a
 * hostile value of the right type in typed fields.
 */
export const hostileResponse: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: response },
  // Anything at all inside the Pod template specs (the CRD preserves unknown fields there).
  { weight: 3, arbitrary: mutated(response, wrongType, { within: (p) => p.includes("spec"), max: 3 }) },
  // Extended resources of tasks may hold any type too.
  {
    weight: 1,
    arbitrary: mutated(response, wrongType, {
      within: (p) => p.at(-2) === "resources" && p.at(-1) !== "ports",
    }),
  },
  // Typed fields: a hostile value of their own type.
  { weight: 2, arbitrary: mutated(response, sameType, { max: 3 }) },
);

/** The task ids an answer names, in order (what TASK_ERROR statuses must cover). */
export function answerTaskIds(offer: ResourceOffer): string[] {
  const ops = offer.spec.response?.operations;
  if (!Array.isArray(ops)) return [];
  return ops.flatMap((op) =>
    [op?.launch?.tasks, op?.launchGroup?.tasks].flatMap((list) =>
      Array.isArray(list)
        ? list.map((t) => (t as { id?: unknown })?.id).filter((id): id is string => typeof id === "string")
        : [],
    ),
  );
}

/** A refusal names its field: a spec.… path, or the task and what it asked for. */
export function namesField(message: string, offer: ResourceOffer): boolean {
  if (/^spec\.(response|resources|reservations)\b/.test(message)) return true;
  const m = /^task (id )?(\S+?)[ :]/.exec(message);
  if (!m) return false;
  const rest = message.slice(m[0].length);
  if (/\b(ports?|Pod|spec\.[A-Za-z]+)\b/.test(rest)) return true;
  const names = new Set<string>();
  for (const op of offer.spec.response?.operations ?? [])
    for (const t of [...(op.launch?.tasks ?? []), ...(op.launchGroup?.tasks ?? [])])
      for (const k of Object.keys(t.resources ?? {})) names.add(k);
  return [...names].some((k) => rest.includes(k));
}
