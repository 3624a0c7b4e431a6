// Name grammars shared by several kinds, as pattern strings that both JavaScript and the API
// server's RE2 accept (no lookarounds, no escaped slashes).
import { z } from "zod";

const LABEL = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";
// As Kubernetes validates subdomains (IsDNS1123Subdomain): 253 characters in all, no limit per
// dot-separated part, so a Pod named <framework>-<task id> (up to 127 without a dot) fits.
const SUBDOMAIN_PART = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const SUBDOMAIN = `${SUBDOMAIN_PART}(\\.${SUBDOMAIN_PART})*`;

/** RFC 1123 label: Pod name parts, container names, task ids. */
export const DNS_LABEL_PATTERN = `^${LABEL}$`;
/** RFC 1123 subdomain: node names, Lease names. */
export const DNS_SUBDOMAIN_PATTERN = `^${SUBDOMAIN}$`;
/** "*" or lowercase DNS labels joined by "/", as in Mesos hierarchical roles ("eng/frontend"). */
export const ROLE_PATTERN = `^(\\*|${LABEL}(/${LABEL})*)$`;
/** A Kubernetes qualified name (label keys, resource names): optional DNS prefix + "/" + name. */
export const QUALIFIED_NAME_PATTERN = `^(${SUBDOMAIN}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`;
/** A label value: what node labels (agent attributes) may hold. */
export const LABEL_VALUE_PATTERN = "^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";

const re = (p: string) => new RegExp(p);

export const DnsLabelSchema = z
  .string()
  .max(63)
  .regex(re(DNS_LABEL_PATTERN), "must be a lowercase RFC 1123 label");
export const DnsSubdomainSchema = z
  .string()
  .max(253)
  .regex(re(DNS_SUBDOMAIN_PATTERN), "must be a lowercase RFC 1123 subdomain");
export const RoleNameSchema = z
  .string()
  .max(253)
  .regex(re(ROLE_PATTERN), 'must be "*" or lowercase DNS labels joined by "/" (e.g. "eng/frontend")')
  .describe(
    'A Mesos role: "*" (the default role) or lowercase DNS labels joined by "/", e.g. "eng/frontend".',
  );
export const QualifiedNameSchema = z
  .string()
  .max(317)
  .regex(
    re(QUALIFIED_NAME_PATTERN),
    'must be a qualified name such as "zone" or "topology.kubernetes.io/zone"',
  );
export const LabelValueSchema = z
  .string()
  .max(63)
  .regex(re(LABEL_VALUE_PATTERN), "must be a valid label value");

const roleRe = re(ROLE_PATTERN);
const subdomainRe = re(DNS_SUBDOMAIN_PATTERN);

export function isRoleName(s: string): boolean {
  return s.length <= 253 && roleRe.test(s);
}

/**
 * The ResourceRole object for a role. Object names cannot contain "/", and role components are
 * DNS labels (no dots), so "eng/frontend" <-> "eng.frontend" is a bijection. "*" has no object:
 * the default role always exists with weight 1 and no quota.
 */
export function roleToObjectName(role: string): string {
  if (role === "*" || !isRoleName(role))
    throw new Error(`role ${JSON.stringify(role)} has no ResourceRole name`);
  return role.replaceAll("/", ".");
}

export function objectNameToRole(name: string): string {
  const role = name.replaceAll(".", "/");
  // Role components are DNS labels (63 at most), which subdomain parts need not be.
  if (name.length > 253 || !subdomainRe.test(name) || !isRoleName(role)) {
    throw new Error(`${JSON.stringify(name)} is not a ResourceRole object name`);
  }
  return role;
}
