// What the operator's parts share: the cache they read, the writer they write through, and
// the operator-wide state, configuration and telemetry.
import type { ClusterCache } from "./cache.ts";
import type { OperatorConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { FilterStore } from "./state.ts";
import type { KubeWriter } from "./writer.ts";

export interface ControllerDeps {
  cache: ClusterCache;
  writer: KubeWriter;
  filters: FilterStore;
  config: OperatorConfig;
  log: Logger;
  metrics: Metrics;
}
