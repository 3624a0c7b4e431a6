// Watching the framework's offers, task Pods and Framework object, feeding what is seen to the
// trackers, which turn it into events that happen once. The informers are supervised (restarted
// after any error); after a restart the fresh list is diffed against what was reported, so an
// offer or Pod deleted while the watch was down is still reported. reconcile() does the same
// from an explicit relist.
import type { KubernetesListObject, KubernetesObject, V1Pod } from "@kubernetes/client-node";
import { GROUP, LABEL_FRAMEWORK, PLURAL, VERSION } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import { SupervisedInformer, waitForSync } from "../kube/informer.ts";
import type { ClientContext } from "./context.ts";

type Obj<T> = T & KubernetesObject;

export interface WatchHooks {
  /** Every offer as seen (watch or relist), after its events were emitted. */
  offerSeen(o: ResourceOffer): void;
  /** The Framework object was deleted (not reported once the client stops). */
  frameworkDeleted(): void;
}

export class Watches {
  private readonly ctx: ClientContext;
  private readonly hooks: WatchHooks;
  private offerInf: SupervisedInformer<Obj<ResourceOffer>> | undefined;
  private podInf: SupervisedInformer<V1Pod> | undefined;
  private fwInf: SupervisedInformer<Obj<Framework>> | undefined;

  constructor(ctx: ClientContext, hooks: WatchHooks) {
    this.ctx = ctx;
    this.hooks = hooks;
  }

  /** The Framework as last seen. */
  get framework(): Framework | undefined {
    return this.fwInf?.get(this.ctx.name, this.ctx.namespace);
  }

  /** An offer as last seen. */
  offer(name: string): ResourceOffer | undefined {
    return this.offerInf?.get(name, this.ctx.namespace);
  }

  private get selector(): string {
    return `${LABEL_FRAMEWORK}=${this.ctx.name}`;
  }

  private listOffers(): Promise<KubernetesListObject<Obj<ResourceOffer>>> {
    const { api } = this.ctx;
    return api.co.listNamespacedCustomObject({
      ...api.custom(PLURAL.resourceOffer),
      labelSelector: this.selector,
    }) as Promise<KubernetesListObject<Obj<ResourceOffer>>>;
  }

  private listPods(): Promise<KubernetesListObject<V1Pod>> {
    return this.ctx.api.core.listNamespacedPod({
      namespace: this.ctx.namespace,
      labelSelector: this.selector,
    });
  }

  /** Starts the three watches; resolves once each has synced (the initial events delivered). */
  async start(): Promise<void> {
    const { api, kubeConfig: kc, namespace: ns, name, events, offers, tasks } = this.ctx;
    const selector = this.selector;
    const onError = (what: string, err: unknown, ms: number) =>
      events.warn(`watch ${what} failed; restarting in ${ms} ms`, err);
    const base = `/apis/${GROUP}/${VERSION}/namespaces/${ns}`;
    const offerInf = new SupervisedInformer<Obj<ResourceOffer>>(
      "resourceoffers",
      kc,
      `${base}/${PLURAL.resourceOffer}`,
      () => this.listOffers(),
      { labelSelector: selector, resyncMs: 15_000, onError },
    );
    const podInf = new SupervisedInformer<V1Pod>(
      "pods",
      kc,
      `/api/v1/namespaces/${ns}/pods`,
      () => this.listPods(),
      { labelSelector: selector, resyncMs: 60_000, onError },
    );
    const byName = `metadata.name=${name}`;
    const fwInf = new SupervisedInformer<Obj<Framework>>(
      "framework",
      kc,
      `${base}/${PLURAL.framework}`,
      () =>
        api.co.listNamespacedCustomObject({
          ...api.custom(PLURAL.framework),
          fieldSelector: byName,
        }) as Promise<KubernetesListObject<Obj<Framework>>>,
      { fieldSelector: byName, onError },
    );
    this.offerInf = offerInf;
    this.podInf = podInf;
    this.fwInf = fwInf;
    for (const ev of ["add", "update", "resync"] as const) {
      offerInf.on(ev, (o: Obj<ResourceOffer>) => this.onOffer(o));
      podInf.on(ev, (p: V1Pod) => events.emitUpdates(tasks.observePod(p)));
    }
    offerInf.on("delete", (o: Obj<ResourceOffer>) => {
      events.emitAll(offers.gone(o));
      events.emitUpdates(tasks.offerGone(o));
    });
    podInf.on("delete", (p: V1Pod) => events.emitUpdates(tasks.podGone(p)));
    let invalidSaid = "";
    const checkFramework = (f: Obj<Framework>) => {
      // The operator judged the spec unusable: say why, once per message.
      const msg = f.status?.phase === "Invalid" ? (f.status.message ?? f.status.reason ?? "invalid") : "";
      if (msg && msg !== invalidSaid)
        events.warn(
          `the operator marked Framework ${ns}/${name} Invalid: ${msg}; no offers until the spec is fixed`,
        );
      invalidSaid = msg;
    };
    fwInf.on("add", checkFramework);
    fwInf.on("update", checkFramework);
    fwInf.on("delete", () => {
      if (!this.ctx.signal.aborted) this.hooks.frameworkDeleted();
    });
    // After a watch restart, whatever is in the fresh cache is the truth: report what vanished.
    offerInf.on("synced", () => {
      const present = new Set(offerInf.list(ns).map((o) => o.metadata.name ?? ""));
      events.emitAll(offers.diff(present));
    });
    podInf.on("synced", () => {
      const present = new Set(podInf.list(ns).map((p) => p.metadata?.name ?? ""));
      events.emitUpdates(tasks.diffPods(present));
    });
    const all = [fwInf, podInf, offerInf] as SupervisedInformer<KubernetesObject>[];
    await Promise.all(all.map((i) => i.start()));
    await waitForSync(all, 60_000);
  }

  stop(): void {
    this.offerInf?.stop();
    this.podInf?.stop();
    this.fwInf?.stop();
  }

  /**
   * Lists the Pods and offers afresh and feeds them in as the watches would, then reports the
   * tasks whose Pods are missing from the list.
   */
  async reconcile(): Promise<void> {
    const { api, name, events, tasks } = this.ctx;
    const pods = await api.request(`list Pods of ${name}`, () => this.listPods());
    const offers = await api.request(`list ResourceOffers of ${name}`, () => this.listOffers());
    for (const o of offers.items) this.onOffer(o);
    for (const p of pods.items) events.emitUpdates(tasks.observePod(p));
    events.emitUpdates(tasks.diffPods(new Set(pods.items.map((p) => p.metadata?.name ?? ""))));
  }

  private onOffer(o: Obj<ResourceOffer>): void {
    const { events, offers, tasks } = this.ctx;
    // Tasks first: a handler reacting to "answered" sees the tasks' states already.
    events.emitUpdates(tasks.observeOffer(o));
    events.emitAll(offers.observe(o));
    this.hooks.offerSeen(o);
  }
}
