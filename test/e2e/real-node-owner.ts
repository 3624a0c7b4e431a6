// The owner of one real node, for real-node-teardown.test.ts, which SIGKILLs it: starts a node
// network and a real node on the shared control plane (everything recorded in `registryDir`),
// imports the images, prints one JSON line with the network and the node, and waits.
//
//   node test/e2e/real-node-owner.ts <stateDir> <server> <binDir> <registryDir> <node name> <image.tar>...
import { NodeNetwork } from "../../src/local/node-network.ts";
import { RealNodes, realNodeHost } from "../../src/local/real-node.ts";

const [stateDir = "", server = "", binDir = "", registryDir = "", name = "", ...tars] = process.argv.slice(2);
const log = (m: string) => process.stderr.write(`[real-node-owner] ${m}\n`);
const net = NodeNetwork.create(registryDir);
try {
  net.exposeApiserver(Number(new URL(server).port));
  const nodes = await RealNodes.start(
    realNodeHost({ stateDir, server, binDir, registryDir }),
    net,
    [{ name }],
    {
      log,
    },
  );
  nodes.importImages(tars);
  process.stdout.write(
    `${JSON.stringify({ net: { id: net.id, hostIp: net.hostIp }, node: nodes.nodes[0] })}\n`,
  );
} catch (err) {
  log(`could not start: ${(err as Error).stack}`);
  net.destroy();
  process.exit(1);
}
setInterval(() => {}, 1 << 30);
