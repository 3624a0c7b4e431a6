// A real node's registry record: what it leaves on the host, written before anything of it is
// made, so that a run that dies uncleanly is cleaned up by the next one (reapRealNodes in
// node-teardown.ts).
import { writeFileSync } from "node:fs";

/** What a node leaves on the host, as its registry file records it (enough to remove it all). */
export interface NodeRecord {
  owner: number;
  name: string;
  /** The node's directory: config, containerd root and state, kubelet root, logs, Pod netns. */
  dir: string;
  /** containerd's socket (in `dir`): shims are started with it. */
  socket: string;
  /** The kubelet's cgroupRoot, in every cgroup hierarchy. */
  cgroupRoot: string;
  /** The CNI network name: the CNI result cache (/var/lib/cni/results) is keyed by it. */
  cniNetwork: string;
  /** The node's daemons (containerd, kubelet, kube-proxy). */
  processes: { name: string; pid: number; command: string }[];
}

export function saveRecord(node: NodeRecord & { recordFile: string }): void {
  const record: NodeRecord = {
    owner: node.owner,
    name: node.name,
    dir: node.dir,
    socket: node.socket,
    cgroupRoot: node.cgroupRoot,
    cniNetwork: node.cniNetwork,
    processes: node.processes,
  };
  writeFileSync(node.recordFile, JSON.stringify(record));
}
