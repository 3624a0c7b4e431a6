// `npm start`: the local control plane with simulated nodes, kept running until Ctrl-C.

import { ensureBinaries } from "../local/binaries.ts";
import { ControlPlane } from "../local/controlplane.ts";
import { NodeSimulator } from "../local/node-simulator.ts";

const NODES = Number(process.env.KUBE_OFFERS_NODES ?? 3);

async function main(): Promise<void> {
  const bins = await ensureBinaries();
  const cp = await ControlPlane.start({ controllerManager: true });
  let stopping = false;
  const sim = new NodeSimulator(cp.kubeConfig());
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write("\nstopping…\n");
    await sim.stop();
    await cp.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));
  cp.on("process-exit", () => void shutdown(1));
  await sim.start(
    Array.from({ length: NODES }, (_, i) => ({
      name: `node-${i + 1}`,
      capacity: { cpu: "8", memory: "16Gi" },
      labels: { zone: i % 2 === 0 ? "a" : "b", rack: `r${i + 1}` },
    })),
  );
  process.stdout.write(
    [
      "",
      `kube-offers local control plane is up (${NODES} simulated nodes).`,
      `  kubeconfig: ${cp.kubeconfigPath}`,
      `  try:        ${bins.dir}/kubectl --kubeconfig ${cp.kubeconfigPath} get nodes`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
