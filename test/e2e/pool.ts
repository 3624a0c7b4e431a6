// An isolated kube-offers pool for one test file on the shared control plane: simulated nodes,
// an agent per node, and an operator, all scoped by the kubeoffers.io/pool label, plus a
// namespace for the test's frameworks. stop() tears all of it down.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { NodeAgent } from "../../src/agent/agent.ts";
import type { OperatorConfig } from "../../src/controller/config.ts";
import { createLogger } from "../../src/controller/log.ts";
import { Metrics } from "../../src/controller/metrics.ts";
import { Operator } from "../../src/controller/operator.ts";
import { DEFAULT_LEASE_NAMESPACE, GROUP, LABEL_POOL, PLURAL, VERSION } from "../../src/crds/contract.ts";
import { isAlreadyExists } from "../../src/kube/errors.ts";
import { NodeSimulator, type SimNode } from "../../src/local/node-simulator.ts";
import { adminKubeConfig, createNamespace, deleteNamespace, uniqueName } from "./support.ts";

export const LEASE_NAMESPACE = DEFAULT_LEASE_NAMESPACE;

export interface PoolOptions {
  /**
   * Scope agents and operator by the kubeoffers.io/pool label (default). `false` runs the
   * default, unlabelled pool — as a user's cluster would; only one test file may do that.
   */
  scoped?: boolean;
  nodes?: number | SimNode[];
  operator?: Partial<OperatorConfig> | false;
  agentLeaseSeconds?: number;
  reserve?: Record<string, string>;
  staticReservations?: Record<string, Record<string, string>>;
}

export class Pool {
  readonly name: string;
  readonly kc: KubeConfig;
  namespace = "";
  sim!: NodeSimulator;
  agents: NodeAgent[] = [];
  operator: Operator | undefined;
  nodes: SimNode[] = [];

  private constructor(name: string, kc: KubeConfig) {
    this.name = name;
    this.kc = kc;
  }

  static async start(prefix: string, opts: PoolOptions = {}): Promise<Pool> {
    const pool = new Pool(uniqueName(prefix), adminKubeConfig());
    try {
      await pool.init(opts);
    } catch (err) {
      await pool.stop();
      throw err;
    }
    return pool;
  }

  private scoped = true;

  private async init(opts: PoolOptions): Promise<void> {
    this.scoped = opts.scoped ?? true;
    const core = this.kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: LEASE_NAMESPACE } } }).catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
    this.namespace = await createNamespace(this.kc, this.name);
    const n = opts.nodes ?? 3;
    this.nodes =
      typeof n === "number"
        ? Array.from({ length: n }, (_, i) => ({
            name: `${this.name}-n${i + 1}`,
            capacity: { cpu: "4", memory: "8Gi" },
            labels: { zone: i % 2 === 0 ? "a" : "b", rack: `r${i + 1}` },
          }))
        : n;
    this.sim = new NodeSimulator(this.kc);
    await this.sim.start(this.nodes);
    for (const node of this.nodes) await this.startAgent(node.name, opts);
    if (opts.operator !== false) await this.startOperator(opts.operator ?? {});
  }

  async startAgent(node: string, opts: PoolOptions = {}): Promise<NodeAgent> {
    const agent = new NodeAgent(this.kc, {
      nodeName: node,
      ...(this.scoped ? { pool: this.name } : {}),
      leaseNamespace: LEASE_NAMESPACE,
      // Generous: a test worker under CI load must not lose its agents to event-loop lag.
      leaseDurationSeconds: opts.agentLeaseSeconds ?? 10,
      renewIntervalMs: 2000,
      ...(opts.reserve ? { reserve: opts.reserve } : {}),
      ...(opts.staticReservations ? { staticReservations: opts.staticReservations } : {}),
    });
    await agent.start();
    this.agents.push(agent);
    return agent;
  }

  async stopAgent(node: string): Promise<void> {
    const a = this.agents.find((x) => x.nodeName === node);
    await a?.stop();
    this.agents = this.agents.filter((x) => x !== a);
  }

  async startOperator(config: Partial<OperatorConfig> = {}): Promise<Operator> {
    const op = new Operator(this.kc, {
      config: {
        ...(this.scoped ? { pool: this.name } : {}),
        agentLeaseNamespace: LEASE_NAMESPACE,
        offerRetentionMs: 30_000,
        ...config,
      },
      log: createLogger(`operator-${this.name}`, process.env.LOG_LEVEL ?? "warn"),
      metrics: new Metrics(false),
    });
    await op.start();
    this.operator = op;
    return op;
  }

  async stopOperator(): Promise<void> {
    await this.operator?.stop();
    this.operator = undefined;
  }

  /** Framework labels this pool's operator manages. */
  get labels(): Record<string, string> {
    return this.scoped ? { [LABEL_POOL]: this.name } : {};
  }

  async stop(): Promise<void> {
    await this.stopOperator().catch(() => {});
    for (const a of this.agents) await a.stop().catch(() => {});
    await this.sim?.stop().catch(() => {});
    const co = this.kc.makeApiClient(CustomObjectsApi);
    const core = this.kc.makeApiClient(CoreV1Api);
    for (const node of this.nodes) {
      await core.deleteNode({ name: node.name }).catch(() => {});
      await co
        .deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.agent, name: node.name })
        .catch(() => {});
    }
    if (this.namespace) {
      // Frameworks carry a finalizer that only the (now stopped) operator removes.
      const fws = (await co
        .listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: this.namespace,
          plural: PLURAL.framework,
        })
        .catch(() => ({ items: [] }))) as { items: { metadata: { name: string } }[] };
      for (const f of fws.items) {
        await co
          .patchNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: this.namespace,
            plural: PLURAL.framework,
            name: f.metadata.name,
            body: [{ op: "remove", path: "/metadata/finalizers" }],
          })
          .catch(() => {});
      }
      await deleteNamespace(this.kc, this.namespace);
    }
  }
}
