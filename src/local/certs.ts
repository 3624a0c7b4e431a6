// A tiny local PKI for the control plane, minted with the openssl CLI (node:crypto cannot
// issue X.509 certificates). One CA signs the serving certificate and client certificates;
// the service-account signer is a separate key pair.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  saPublicKey: string;
  saPrivateKey: string;
}

export interface ClientCert {
  certPem: string;
  keyPem: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** `extraIps`: more addresses the API server is reached at (e.g. the real nodes' bridge). */
export function createPki(dir: string, extraIps: string[] = []): Pki {
  const p = (f: string) => join(dir, f);
  openssl(
    [
      "req",
      "-x509",
      ...EC,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "30",
      "-subj",
      "/CN=kube-offers-local-ca",
    ],
    dir,
  );
  openssl(["req", ...EC, "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=localhost"], dir);
  writeFileSync(
    p("apiserver.ext"),
    [
      `subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.0.0.1${extraIps.map((ip) => `,IP:${ip}`).join("")}`,
      "extendedKeyUsage=serverAuth",
      "keyUsage=digitalSignature,keyEncipherment",
    ].join("\n"),
  );
  signCsr(dir, "apiserver.csr", "apiserver.crt", "apiserver.ext");
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(p("sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(p("sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
  return loadPki(dir);
}

function signCsr(dir: string, csr: string, out: string, ext: string): void {
  openssl(
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      out,
      "-days",
      "30",
      "-extfile",
      ext,
    ],
    dir,
  );
}

/** The PKI of an existing state directory (e.g. from a test worker, given the shared dir). */
export function loadPki(dir: string): Pki {
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("apiserver.crt"),
    servingKey: p("apiserver.key"),
    saPublicKey: p("sa.pub"),
    saPrivateKey: p("sa.key"),
  };
}

let serial = 0;

/** A client certificate: the API server authenticates CN as the user name and O as its groups. */
export function mintClientCert(pki: Pki, user: string, groups: string[] = []): ClientCert {
  const base = `client-${process.pid}-${++serial}-${Date.now()}`;
  const subj = `/CN=${user}${groups.map((g) => `/O=${g}`).join("")}`;
  openssl(["req", ...EC, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", subj], pki.dir);
  writeFileSync(join(pki.dir, `${base}.ext`), "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n");
  signCsr(pki.dir, `${base}.csr`, `${base}.crt`, `${base}.ext`);
  return {
    certPem: readFileSync(join(pki.dir, `${base}.crt`), "utf8"),
    keyPem: readFileSync(join(pki.dir, `${base}.key`), "utf8"),
  };
}
