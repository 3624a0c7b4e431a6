// Kubeconfigs for identities on a local control plane: an admin's, a restricted user's (a
// client certificate the control plane's CA signs) or a ServiceAccount's (a token).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { loadPki, mintClientCert } from "./certs.ts";

export interface Identity {
  user: string;
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

/**
 * Writes a kubeconfig for `user` on this server, authenticating with `credentials` (client
 * certificate and key data, or a token), and loads it. `tlsServerName`: the name the serving
 * certificate is checked for, when `server`'s address is not among its names.
 */
export function writeIdentity(
  kubeconfigPath: string,
  server: string,
  caPem: string,
  user: string,
  credentials: Record<string, string>,
  tlsServerName?: string,
): Identity {
  writeFileSync(
    kubeconfigPath,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "kube-offers-local",
          cluster: {
            server,
            "certificate-authority-data": b64(caPem),
            // The name to check the serving certificate for, when `server`'s address is not in it.
            ...(tlsServerName ? { "tls-server-name": tlsServerName } : {}),
          },
        },
      ],
      users: [{ name: user, user: credentials }],
      contexts: [{ name: "kube-offers-local", context: { cluster: "kube-offers-local", user } }],
      "current-context": "kube-offers-local",
    }),
  );
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return { user, kubeconfigPath, kubeConfig };
}

export function certCredentials(certPem: string, keyPem: string): Record<string, string> {
  return { "client-certificate-data": b64(certPem), "client-key-data": b64(keyPem) };
}

let identities = 0;

/** A client-certificate identity for `user` in `groups`, signed by the control plane's CA in `stateDir`. */
export function mintIdentity(
  stateDir: string,
  server: string,
  user: string,
  groups: string[] = [],
): Identity {
  const pki = loadPki(join(stateDir, "pki"));
  const cert = mintClientCert(pki, user, groups);
  const kubeconfigPath = join(stateDir, `user-${process.pid}-${++identities}.kubeconfig`);
  return writeIdentity(
    kubeconfigPath,
    server,
    readFileSync(pki.caCert, "utf8"),
    user,
    certCredentials(cert.certPem, cert.keyPem),
  );
}
