// A KubeConfig for unit tests that build API clients but never reach a server: it names a
// loopback port nothing listens on.
import { KubeConfig } from "@kubernetes/client-node";

export function unreachableKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:1" }],
    users: [{ name: "u" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}
