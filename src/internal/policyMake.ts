/**
 * `SessionPolicy.make`: options validated, rule by rule, and resolved into
 * the plain values the engine reads.
 */
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import * as Serializer from "../Serializer.js"
import { defaultGenerateId, defaultMaxPayloadBytes, type Options, type SessionPolicyShape } from "../SessionPolicy.js"
import * as PolicyChecks from "./policyChecks.js"
import { check, invalid, optionalSeconds, resolveCookie, resolveSigner, wholeSeconds } from "./policyRules.js"

const identity = (id: string): string => id

/** The id's prefix (a namespace in Redis), then the SHA-256 of the whole id. */
const hashedKey = (prefix: string) => (id: string): string =>
  prefix + createHash("sha256").update(id).digest("base64url")

/** 30 days: the default cap on a per-session timeout. */
const defaultMaxTimeoutSeconds = 30 * 24 * 60 * 60

/** @internal */
export const make = Effect.fn("SessionPolicy.make")(function*(options: Options) {
  const unknown = PolicyChecks.unknownOption(options)
  if (unknown !== undefined) return yield* Effect.fail(invalid([unknown], "is not an option of SessionPolicy"))
  const wrongType = PolicyChecks.wrongType(options)
  if (wrongType !== undefined) return yield* Effect.fail(invalid([wrongType.option], wrongType.reason))
  const signer = yield* resolveSigner(options)
  const timeoutSeconds = options.timeout === null
    ? 0
    : yield* wholeSeconds("timeout", options.timeout ?? "1200 seconds")
  const timeout = timeoutSeconds === 0 ? undefined : timeoutSeconds
  const trigger = yield* optionalSeconds("timeoutTrigger", options.timeoutTrigger)
  const timeoutTrigger = trigger === 0 ? undefined : trigger
  const setRedisTtl = options.setRedisTtl ?? true
  const readHeavy = options.readHeavy ?? false

  if (timeoutTrigger !== undefined) {
    if (timeout === undefined) {
      return yield* Effect.fail(invalid(["timeoutTrigger", "timeout"], "a timeout trigger needs a timeout"))
    }
    yield* check(
      timeoutTrigger < timeout,
      ["timeoutTrigger", "timeout"],
      "the trigger must be shorter than the timeout"
    )
    yield* check(
      options.payloadExpiry !== false,
      ["timeoutTrigger", "payloadExpiry"],
      "a timeout trigger keeps the expiry in the payload: payloadExpiry cannot be false"
    )
  }
  const payloadExpiry = timeoutTrigger !== undefined || (options.payloadExpiry ?? false)
  const lifetime = yield* optionalSeconds("maxLifetime", options.maxLifetime)
  const maxLifetime = lifetime === 0 ? undefined : lifetime
  const maxTimeout = (yield* optionalSeconds("maxTimeout", options.maxTimeout)) ??
    Math.max(defaultMaxTimeoutSeconds, timeout ?? 0)
  yield* check(maxTimeout > 0, ["maxTimeout"], "must be at least one second")
  yield* check(
    timeout === undefined || maxTimeout >= timeout,
    ["maxTimeout", "timeout"],
    "the cap on per-session timeouts cannot be shorter than the policy's timeout"
  )
  const maxPayloadBytes = options.maxPayloadBytes ?? defaultMaxPayloadBytes
  yield* check(
    Number.isSafeInteger(maxPayloadBytes) && maxPayloadBytes > 0,
    ["maxPayloadBytes"],
    "must be a whole number of bytes, more than zero"
  )
  yield* check(!payloadExpiry || timeout !== undefined, ["payloadExpiry", "timeout"], "payload expiry needs a timeout")
  if (readHeavy) {
    yield* check(timeout !== undefined, ["readHeavy", "timeout"], "read-heavy mode needs a timeout")
    yield* check(setRedisTtl, ["readHeavy", "setRedisTtl"], "read-heavy mode needs Redis TTLs")
    yield* check(
      timeoutTrigger === undefined,
      ["readHeavy", "timeoutTrigger"],
      "read-heavy mode excludes a timeout trigger"
    )
    yield* check(!payloadExpiry, ["readHeavy", "payloadExpiry"], "read-heavy mode excludes payload expiry")
  }
  const idPrefix = options.idPrefix ?? ""
  yield* check(/^[\x21-\x7e]*$/.test(idPrefix), ["idPrefix"], "must be printable ASCII without spaces")
  const generate = options.generateId ?? defaultGenerateId
  const serializer = options.serializer ?? Serializer.json
  const jsonSerializer = serializer.format === "json"
  yield* check(
    options.writeMode !== "merge" || jsonSerializer,
    ["writeMode", "serializer"],
    "merge writes edit the stored JSON on the server: the serializer must declare format: \"json\""
  )

  const resolved: Omit<SessionPolicyShape, keyof SessionPolicyShape & symbol> = {
    signer,
    timeout,
    timeoutTrigger,
    redisTtl: setRedisTtl && (timeout !== undefined || maxLifetime !== undefined),
    maxLifetime,
    maxPayloadBytes,
    storageKey: options.hashIds === true ? hashedKey(idPrefix) : identity,
    idPrefix,
    maxTimeout,
    readHeavy,
    payloadExpiry,
    detectChanges: options.detectChanges ?? true,
    deserializationFailsNew: options.deserializationFailsNew ?? false,
    invalidateEmptySession: options.invalidateEmptySession ?? false,
    cookie: yield* resolveCookie(options),
    cookieOnException: options.cookieOnException ?? true,
    responseAllowsCookie: options.responseAllowsCookie,
    onInvalid: options.onInvalid,
    generateId: () => idPrefix + generate(),
    serializer,
    writeMode: options.writeMode ?? "replace",
    onStoreUnavailable: options.onStoreUnavailable ?? "fail"
  }
  // The one place a policy is branded: everything above validated it.
  return resolved as SessionPolicyShape
})
