// The operator's internal keys: the allocator's framework ids and work-queue keys. Object names,
// labels and annotations are the contract's (src/crds/contract.ts).

export function frameworkId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { namespace: "", name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
