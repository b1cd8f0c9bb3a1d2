/**
 * What the option types promise, checked at run time for options that come
 * from untyped code (plain JavaScript, a cast, parsed configuration): an
 * unknown value must never quietly become a weaker cookie or a default.
 */
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import type { Options, SameSite } from "../SessionPolicy.js"

const booleanOptions = [
  "setRedisTtl",
  "readHeavy",
  "payloadExpiry",
  "detectChanges",
  "deserializationFailsNew",
  "invalidateEmptySession",
  "cookieSecure",
  "cookieHttpOnly",
  "cookiePartitioned",
  "cookieOnException"
] as const satisfies ReadonlyArray<keyof Options>

const stringOptions = ["cookieName", "cookiePath", "cookieDomain", "idPrefix"] as const satisfies ReadonlyArray<
  keyof Options
>

const functionOptions = ["responseAllowsCookie", "onInvalid", "generateId"] as const satisfies ReadonlyArray<
  keyof Options
>

const sameSites: ReadonlyArray<unknown> = ["lax", "strict", "none"] satisfies ReadonlyArray<SameSite>

const hasMethods = (value: unknown, ...names: ReadonlyArray<string>): boolean =>
  Predicate.isObject(value) && names.every((name) => Predicate.isFunction(Reflect.get(value, name)))

const isSigner = (u: unknown): boolean =>
  Predicate.isObject(u) && hasMethods(u, "sign", "verify") &&
  (Reflect.get(u, "isStale") === undefined || Predicate.isFunction(Reflect.get(u, "isStale")))

/** The first option whose value is not of its type, and why; undefined when all are. */
export const wrongType = (options: Options): { readonly option: keyof Options; readonly reason: string } | undefined => {
  const wrong = (kind: (u: unknown) => boolean) => (name: keyof Options) => {
    const value: unknown = options[name]
    return value !== undefined && !kind(value)
  }
  const notBoolean = booleanOptions.find(wrong(Predicate.isBoolean))
  if (notBoolean !== undefined) return { option: notBoolean, reason: "must be true or false" }
  const notString = stringOptions.find(wrong(Predicate.isString))
  if (notString !== undefined) return { option: notString, reason: "must be a string" }
  const notFunction = functionOptions.find(wrong(Predicate.isFunction))
  if (notFunction !== undefined) return { option: notFunction, reason: "must be a function" }
  if (wrong((u) => sameSites.includes(u))("cookieSameSite")) {
    return { option: "cookieSameSite", reason: "must be \"lax\", \"strict\" or \"none\"" }
  }
  if (wrong(Redacted.isRedacted)("secret")) return { option: "secret", reason: "must be a Redacted string" }
  if (wrong((u) => Array.isArray(u) && u.length > 0 && u.every(Redacted.isRedacted))("secrets")) {
    return { option: "secrets", reason: "must be a non-empty array of Redacted strings, the current secret first" }
  }
  if (wrong(isSigner)("signer")) {
    return { option: "signer", reason: "must have sign and verify functions (and isStale, if any, a function)" }
  }
  if (wrong((u) => hasMethods(u, "serialize", "deserialize"))("serializer")) {
    return { option: "serializer", reason: "must have serialize and deserialize functions" }
  }
  return undefined
}

