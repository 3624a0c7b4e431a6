import { describe, expect, it } from "vitest";
import {
  authorizeFrameworkRoles,
  authorizeRole,
  ROLE_NOT_AUTHORIZED,
  type RoleAdmissions,
  roleAdmissions,
} from "./role-authz.ts";

const admissions: RoleAdmissions = new Map<string, readonly string[] | undefined>([
  ["eng", ["team-a", "team-b"]],
  ["eng/web", ["team-a"]],
  ["shared", ["*"]],
  ["locked", undefined],
  ["empty", []],
]);

describe("authorizeRole", () => {
  const cases: [role: string, namespace: string, allowed: boolean, why?: RegExp][] = [
    ["*", "anyone", true],
    ["eng", "team-a", true],
    ["eng", "team-b", true],
    ["eng", "team-c", false, /role eng: namespace team-c is not admitted by ResourceRole eng,/],
    ["eng/web", "team-a", true],
    // The parent admits team-b, the role itself does not.
    ["eng/web", "team-b", false, /ResourceRole eng\.web, which has spec\.namespaces \[team-a\]/],
    // A child without its own ResourceRole inherits the parent's: no way into eng's quota.
    ["eng/batch", "team-b", true],
    ["eng/batch", "team-c", false, /the ResourceRole of its parent role eng/],
    ["eng/web/x", "team-b", false, /ResourceRole eng\.web \(the ResourceRole of its parent role eng\/web\)/],
    ["shared", "whoever", true],
    ["shared/sub", "whoever", true],
    // A ResourceRole without the field, or with an empty list, admits nobody.
    ["locked", "team-a", false, /which has no spec\.namespaces/],
    ["empty", "team-a", false, /which has no spec\.namespaces/],
    ["locked/child", "team-a", false, /parent role locked/],
    // No ResourceRole on the path: open, as Mesos's default ACL.
    ["batch", "team-c", true],
    ["batch/deep", "team-c", true],
  ];
  it.each(cases)("%s from %s → %s", (role, namespace, allowed, why) => {
    const a = authorizeRole(role, namespace, admissions);
    expect(a.allowed).toBe(allowed);
    if (!a.allowed) {
      expect(a.reason).toBe(ROLE_NOT_AUTHORIZED);
      expect(a.message).toMatch(why ?? /./);
    }
  });
});

describe("authorizeFrameworkRoles", () => {
  it("keeps the admitted roles and names each refused one by its index in spec.roles", () => {
    const r = authorizeFrameworkRoles("team-b", ["*", "eng/web", "eng", "locked"], admissions);
    expect(r.allowed).toEqual(["*", "eng"]);
    expect(r.denied.map((d) => [d.index, d.role])).toEqual([
      [1, "eng/web"],
      [3, "locked"],
    ]);
    expect(r.denied[0]?.message).toMatch(/^spec\.roles\[1\]: role eng\/web: namespace team-b/);
  });

  it("refuses nothing when no ResourceRole guards the roles", () => {
    expect(authorizeFrameworkRoles("x", ["a", "b/c"], new Map())).toEqual({
      allowed: ["a", "b/c"],
      denied: [],
    });
  });
});

describe("roleAdmissions", () => {
  it("reads ResourceRole objects by role, leaving out names that are no role", () => {
    const m = roleAdmissions([
      { metadata: { name: "eng.web" }, spec: { weight: 1, namespaces: ["team-a"] } },
      { metadata: { name: "locked" }, spec: { weight: 1 } },
      { metadata: { name: "Not-A-Role" }, spec: { weight: 1, namespaces: ["*"] } },
    ]);
    expect([...m.entries()]).toEqual([
      ["eng/web", ["team-a"]],
      ["locked", undefined],
    ]);
  });
});
