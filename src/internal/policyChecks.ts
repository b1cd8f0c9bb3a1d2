/**
 * What the option types promise, checked at run time for options that come
 * from untyped code (plain JavaScript, a cast, parsed configuration): an
 * unknown value must never quietly become a weaker cookie or a default.
 */
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import type { Options, SameSite, StoreOutageMode } from "../SessionPolicy.js"

const booleanOptions = [
  "hashIds",
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

/** Every option's name; the type keeps it complete. */
const known: { readonly [K in keyof Options]-?: true } = {
  secret: true,
  secrets: true,
  signer: true,
  timeout: true,
  timeoutTrigger: true,
  setRedisTtl: true,
  readHeavy: true,
  payloadExpiry: true,
  detectChanges: true,
  deserializationFailsNew: true,
  maxLifetime: true,
  maxPayloadBytes: true,
  maxTimeout: true,
  hashIds: true,
  invalidateEmptySession: true,
  cookieName: true,
  cookiePath: true,
  cookieDomain: true,
  cookieSecure: true,
  cookieHttpOnly: true,
  cookieSameSite: true,
  cookieMaxAge: true,
  cookieExpires: true,
  cookiePartitioned: true,
  cookieOnException: true,
  responseAllowsCookie: true,
  onInvalid: true,
  generateId: true,
  idPrefix: true,
  serializer: true,
  writeMode: true,
  onStoreUnavailable: true
}

/** The first key that is no option (a misspelling such as `cookieSecrue` must not pass unnoticed). */
export const unknownOption = (options: Options): string | undefined =>
  Object.keys(options).find((key) => !Object.hasOwn(known, key))

const sameSites: ReadonlyArray<unknown> = ["lax", "strict", "none"] satisfies ReadonlyArray<SameSite>

const outageModes: ReadonlyArray<unknown> = ["fail", "anonymous"] satisfies ReadonlyArray<StoreOutageMode>

const hasMethods = (value: unknown, ...names: ReadonlyArray<string>): boolean =>
  Predicate.isObject(value) && names.every((name) => Predicate.isFunction(Reflect.get(value, name)))

const isSigner = (u: unknown): boolean =>
  Predicate.isObject(u) && hasMethods(u, "sign", "verify") &&
  (Reflect.get(u, "isStale") === undefined || Predicate.isFunction(Reflect.get(u, "isStale")))

/** The first option whose value is not of its type, and why; undefined when all are. */
export const wrongType = (
  options: Options
): { readonly option: keyof Options; readonly reason: string } | undefined => {
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
  if (wrong((u) => u === "merge" || u === "replace")("writeMode")) {
    return { option: "writeMode", reason: "must be \"merge\" or \"replace\"" }
  }
  if (wrong((u) => outageModes.includes(u))("onStoreUnavailable")) {
    return { option: "onStoreUnavailable", reason: "must be \"fail\" or \"anonymous\"" }
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
  if (
    wrong((u) => Reflect.get(Object(u), "format") === undefined || Reflect.get(Object(u), "format") === "json")(
      "serializer"
    )
  ) {
    return { option: "serializer", reason: "format, if given, must be \"json\"" }
  }
  return undefined
}
