// The kube-offers objects of one pool as a test reads them: its Agents, offers and Frameworks,
// and what of it has no live owner (an orphan no controller would ever clean up).
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { Agent } from "../../src/crds/agent.ts";
import { GROUP, LABEL_FRAMEWORK, LABEL_POOL, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { isNotFound } from "../../src/kube/errors.ts";

type Owners = { kind: string; name: string; uid: string }[] | undefined;

export class PoolObjects {
  private readonly co: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly pool: string;

  constructor(kc: KubeConfig, pool: string) {
    this.co = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.pool = pool;
  }

  /** A node's Agent; it must exist. */
  async agent(node: string): Promise<Agent> {
    return (await this.co.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL.agent,
      name: node,
    })) as Agent;
  }

  /** The pool's ResourceOffers, in every namespace. */
  async offers(): Promise<ResourceOffer[]> {
    const list = (await this.co.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL.resourceOffer,
      labelSelector: `${LABEL_POOL}=${this.pool}`,
    })) as { items: ResourceOffer[] };
    return list.items;
  }

  /** An offer's phase ("Offered" before it has one), or undefined once it is gone. */
  async offerPhase(name: string): Promise<string | undefined> {
    const o = (await this.offers()).find((x) => x.metadata.name === name);
    return o ? (o.status?.phase ?? "Offered") : undefined;
  }

  async frameworkExists(namespace: string, name: string): Promise<boolean> {
    return this.co
      .getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL.framework,
        name,
      })
      .then(() => true)
      .catch((err: unknown) => {
        if (isNotFound(err)) return false;
        throw err;
      });
  }

  /**
   * What the pool holds without a live owner: task Pods (in `namespaces`, not being deleted) and outstanding offers
   * whose Framework (by uid) is gone, and reservations on the node's Agent naming a Framework
   * that is gone.
   */
  async orphans(node: string, namespaces: string[]): Promise<string[]> {
    const fws = (await this.co.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL.framework,
      labelSelector: `${LABEL_POOL}=${this.pool}`,
    })) as { items: { metadata: { namespace: string; name: string; uid: string } }[] };
    const live = new Map(
      fws.items.map((f) => [`${f.metadata.namespace}/${f.metadata.name}`, f.metadata.uid]),
    );
    const owned = (namespace: string, owners: Owners) => {
      const o = owners?.find((x) => x.kind === "Framework");
      return o !== undefined && live.get(`${namespace}/${o.name}`) === o.uid;
    };
    const out: string[] = [];
    for (const namespace of namespaces) {
      const pods = await this.core.listNamespacedPod({ namespace, labelSelector: LABEL_FRAMEWORK });
      for (const p of pods.items) {
        // A Pod being deleted is on its way out (a killed task's, within its grace period).
        if (p.metadata?.deletionTimestamp) continue;
        if (!owned(namespace, p.metadata?.ownerReferences)) out.push(`Pod ${namespace}/${p.metadata?.name}`);
      }
    }
    for (const o of await this.offers()) {
      const namespace = o.metadata.namespace ?? "";
      if ((o.status?.phase ?? "Offered") === "Offered" && !owned(namespace, o.metadata.ownerReferences))
        out.push(`ResourceOffer ${namespace}/${o.metadata.name}`);
    }
    for (const r of (await this.agent(node)).spec?.dynamicReservations ?? [])
      if (!r.framework || !live.has(r.framework))
        out.push(`reservation ${r.id} of ${r.framework ?? "no framework"}`);
    return out;
  }

  /** Removes the finalizer of every Framework left in `namespace` (what only a controller does). */
  async dropFinalizers(namespace: string): Promise<void> {
    if (!namespace) return;
    const ident = { group: GROUP, version: VERSION, namespace, plural: PLURAL.framework };
    const fws = (await this.co.listNamespacedCustomObject(ident).catch(() => ({ items: [] }))) as {
      items: { metadata: { name: string; finalizers?: string[] } }[];
    };
    for (const f of fws.items) {
      if (!f.metadata.finalizers?.length) continue;
      await this.co
        .patchNamespacedCustomObject({
          ...ident,
          name: f.metadata.name,
          body: [{ op: "remove", path: "/metadata/finalizers" }],
        })
        .catch(() => {});
    }
  }
}
