/**
 * Why a policy is refused: every rule names exactly the options it is about
 * and says what would satisfy it, so the message of an `InvalidPolicy` (or
 * `InvalidDuration`) tells the user what to change without reading our code.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as CookieSigner from "../src/CookieSigner.js"
import * as Serializer from "../src/Serializer.js"
import * as SessionPolicy from "../src/SessionPolicy.js"

const secret = Redacted.make("s".repeat(32))
const short = `must be at least ${SessionPolicy.minimumSecretLength} characters`

/** What `make` refuses these options with: the options named and the reason, or the duration's name. */
const refusal = (options: Record<string, unknown>) =>
  Effect.runSync(
    Effect.flip(SessionPolicy.make(options as SessionPolicy.Options)).pipe(
      Effect.map((error) =>
        error._tag === "InvalidPolicy"
          ? { options: error.options, reason: error.reason }
          : { duration: error.name, reason: error.reason }
      )
    )
  )

describe("the reason a policy is refused", () => {
  describe("options that are no options, or of the wrong kind", () => {
    it.each<{ readonly given: Record<string, unknown>; readonly option: string; readonly reason: string }>([
      { given: { cookieSecrue: false }, option: "cookieSecrue", reason: "is not an option of SessionPolicy" },
      { given: { cookieSecure: "false" }, option: "cookieSecure", reason: "must be true or false" },
      { given: { cookieName: 42 }, option: "cookieName", reason: "must be a string" },
      { given: { generateId: "uuid" }, option: "generateId", reason: "must be a function" },
      {
        given: { cookieSameSite: "lenient" },
        option: "cookieSameSite",
        reason: "must be \"lax\", \"strict\" or \"none\""
      },
      { given: { writeMode: "patch" }, option: "writeMode", reason: "must be \"merge\" or \"replace\"" },
      {
        given: { onStoreUnavailable: "retry" },
        option: "onStoreUnavailable",
        reason: "must be \"fail\" or \"anonymous\""
      },
      { given: { serializer: JSON }, option: "serializer", reason: "must have serialize and deserialize functions" },
      {
        given: { serializer: { ...Serializer.json, format: "msgpack" } },
        option: "serializer",
        reason: "format, if given, must be \"json\""
      }
    ])("$option: $reason", ({ given, option, reason }) => {
      expect(refusal({ secret, ...given })).toStrictEqual({ options: [option], reason })
    })

    it.each<{ readonly given: Record<string, unknown>; readonly option: string; readonly reason: string }>([
      { given: { secret: "plain text" }, option: "secret", reason: "must be a Redacted string" },
      {
        given: { secrets: [] },
        option: "secrets",
        reason: "must be a non-empty array of Redacted strings, the current secret first"
      },
      {
        given: { signer: { sign: () => "" } },
        option: "signer",
        reason: "must have sign and verify functions (and isStale, if any, a function)"
      }
    ])("$option: $reason", ({ given, option, reason }) => {
      expect(refusal(given)).toStrictEqual({ options: [option], reason })
    })
  })

  it.each([
    { option: "onStoreUnavailable", value: "fail" },
    { option: "onStoreUnavailable", value: "anonymous" },
    { option: "writeMode", value: "merge" },
    { option: "writeMode", value: "replace" },
    { option: "cookieSameSite", value: "strict" }
  ])("$option: $value is accepted", ({ option, value }) => {
    const policy = Effect.runSync(SessionPolicy.make({ secret, [option]: value } as SessionPolicy.Options))
    expect(option === "cookieSameSite" ? policy.cookie.sameSite : policy[option as "writeMode"]).toBe(value)
  })

  describe("signing", () => {
    it.each<{ readonly case: string; readonly given: Record<string, unknown>; readonly refused: unknown }>([
      {
        case: "both a secret and a signer",
        given: { secret, signer: CookieSigner.make(secret) },
        refused: { options: ["secret", "secrets", "signer"], reason: "give exactly one of secret, secrets and signer" }
      },
      {
        case: "no way to sign",
        given: {},
        refused: { options: ["secret", "secrets", "signer"], reason: "give exactly one of secret, secrets and signer" }
      },
      {
        case: "a short secret",
        given: { secret: Redacted.make("s".repeat(31)) },
        refused: { options: ["secret"], reason: short }
      },
      {
        case: "a Redacted that holds no string",
        given: { secret: Redacted.make(Number.MAX_SAFE_INTEGER) },
        refused: { options: ["secret"], reason: short }
      },
      {
        case: "a short previous secret",
        given: { secrets: [secret, Redacted.make("old")] },
        refused: { options: ["secrets"], reason: `each ${short}` }
      }
    ])("$case", ({ given, refused }) => {
      expect(refusal(given)).toStrictEqual(refused)
    })
  })

  describe("the cookie", () => {
    it.each<{ readonly case: string; readonly given: Record<string, unknown>; readonly refused: unknown }>([
      {
        case: "a name with a space",
        given: { cookieName: "my session" },
        refused: { options: ["cookieName"], reason: "is not a valid cookie name" }
      },
      ...["app", "/a;b", "/a b", ""].map((cookiePath) => ({
        case: `the path ${JSON.stringify(cookiePath)}`,
        given: { cookiePath },
        refused: { options: ["cookiePath"], reason: "must start with / and hold no ; or spaces" }
      })),
      ...["example com", "_example.com", "example.com_", "example.com;"].map((cookieDomain) => ({
        case: `the domain ${JSON.stringify(cookieDomain)}`,
        given: { cookieDomain },
        refused: { options: ["cookieDomain"], reason: "is not a valid domain" }
      })),
      {
        case: "a path the platform refuses (not ASCII)",
        given: { cookiePath: "/caf\u00e9" },
        refused: {
          options: ["cookieName", "cookiePath", "cookieDomain"],
          reason: "@effect/platform refuses the cookie: InvalidPath"
        }
      },
      {
        case: "SameSite=None without Secure",
        given: { cookieSameSite: "none", cookieSecure: false },
        refused: { options: ["cookieSameSite", "cookieSecure"], reason: "SameSite=None needs Secure" }
      },
      {
        case: "Partitioned without Secure",
        given: { cookiePartitioned: true, cookieSecure: false },
        refused: { options: ["cookiePartitioned", "cookieSecure"], reason: "Partitioned needs Secure" }
      },
      {
        case: "a __Host- cookie without Secure",
        given: { cookieName: "__Host-session", cookieSecure: false },
        refused: { options: ["cookieName", "cookieSecure"], reason: "a __Host- cookie needs Secure" }
      },
      {
        case: "a __Host- cookie with a Domain",
        given: { cookieName: "__Host-session", cookieDomain: "example.com" },
        refused: { options: ["cookieName", "cookieDomain"], reason: "a __Host- cookie must not have a Domain" }
      },
      {
        case: "a __Host- cookie on another path",
        given: { cookieName: "__Host-session", cookiePath: "/app" },
        refused: { options: ["cookieName", "cookiePath"], reason: "a __Host- cookie needs Path=/" }
      },
      {
        case: "a __Secure- cookie without Secure",
        given: { cookieName: "__Secure-session", cookieSecure: false },
        refused: { options: ["cookieName", "cookieSecure"], reason: "a __Secure- cookie needs Secure" }
      },
      {
        case: "a Max-Age of zero",
        given: { cookieMaxAge: "0 seconds" },
        refused: {
          options: ["cookieMaxAge"],
          reason: "must be at least one second (leave it unset for a browser-session cookie)"
        }
      },
      {
        case: "a Max-Age that is a bare number",
        given: { cookieMaxAge: 3600 },
        refused: { duration: "cookieMaxAge", reason: expect.stringContaining("a bare number is ambiguous") }
      },
      {
        case: "an Expires that is a bare number",
        given: { cookieExpires: 3600 },
        refused: { duration: "cookieExpires", reason: expect.stringContaining("a bare number is ambiguous") }
      },
      {
        case: "an Expires that is an invalid Date",
        given: { cookieExpires: new Date("never") },
        refused: { options: ["cookieExpires"], reason: "is not a valid date" }
      }
    ])("$case", ({ given, refused }) => {
      expect(refusal({ secret, ...given })).toStrictEqual(refused)
    })

    it("an Expires given as a duration is resolved to seconds", () => {
      const policy = Effect.runSync(SessionPolicy.make({ secret, cookieExpires: "1 hour" }))
      expect(policy.cookie.expires).toBe(3600)
    })

    it("an Expires given as a Date is kept as that Date", () => {
      const expires = new Date("2030-01-01T00:00:00Z")
      const policy = Effect.runSync(SessionPolicy.make({ secret, cookieExpires: expires }))
      expect(policy.cookie.expires).toBe(expires)
    })
  })

  describe("timeouts and modes", () => {
    it.each<
      {
        readonly case: string
        readonly given: Record<string, unknown>
        readonly options: Array<string>
        readonly reason: string
      }
    >([
      {
        case: "a timeout trigger without a timeout",
        given: { timeout: null, timeoutTrigger: "60 seconds" },
        options: ["timeoutTrigger", "timeout"],
        reason: "a timeout trigger needs a timeout"
      },
      {
        case: "a timeout trigger as long as the timeout",
        given: { timeout: "60 seconds", timeoutTrigger: "60 seconds" },
        options: ["timeoutTrigger", "timeout"],
        reason: "the trigger must be shorter than the timeout"
      },
      {
        case: "a timeout trigger with payloadExpiry false",
        given: { timeoutTrigger: "60 seconds", payloadExpiry: false },
        options: ["timeoutTrigger", "payloadExpiry"],
        reason: "a timeout trigger keeps the expiry in the payload: payloadExpiry cannot be false"
      },
      {
        case: "a zero cap on per-session timeouts",
        given: { maxTimeout: "0 seconds", timeout: null },
        options: ["maxTimeout"],
        reason: "must be at least one second"
      },
      {
        case: "a cap shorter than the timeout",
        given: { maxTimeout: "60 seconds", timeout: "120 seconds" },
        options: ["maxTimeout", "timeout"],
        reason: "the cap on per-session timeouts cannot be shorter than the policy's timeout"
      },
      ...[0, 1.5, -1].map((maxPayloadBytes) => ({
        case: `maxPayloadBytes ${maxPayloadBytes}`,
        given: { maxPayloadBytes },
        options: ["maxPayloadBytes"],
        reason: "must be a whole number of bytes, more than zero"
      })),
      {
        case: "payload expiry without a timeout",
        given: { payloadExpiry: true, timeout: null },
        options: ["payloadExpiry", "timeout"],
        reason: "payload expiry needs a timeout"
      },
      {
        case: "read-heavy without a timeout",
        given: { readHeavy: true, timeout: null },
        options: ["readHeavy", "timeout"],
        reason: "read-heavy mode needs a timeout"
      },
      {
        case: "read-heavy without Redis TTLs",
        given: { readHeavy: true, setRedisTtl: false },
        options: ["readHeavy", "setRedisTtl"],
        reason: "read-heavy mode needs Redis TTLs"
      },
      {
        case: "read-heavy with a timeout trigger",
        given: { readHeavy: true, timeoutTrigger: "60 seconds" },
        options: ["readHeavy", "timeoutTrigger"],
        reason: "read-heavy mode excludes a timeout trigger"
      },
      {
        case: "read-heavy with payload expiry",
        given: { readHeavy: true, payloadExpiry: true },
        options: ["readHeavy", "payloadExpiry"],
        reason: "read-heavy mode excludes payload expiry"
      },
      {
        case: "an id prefix with a space",
        given: { idPrefix: "my app:" },
        options: ["idPrefix"],
        reason: "must be printable ASCII without spaces"
      },
      {
        case: "merge writes with a serializer that does not declare JSON",
        given: { writeMode: "merge", serializer: { serialize: JSON.stringify, deserialize: JSON.parse } },
        options: ["writeMode", "serializer"],
        reason: "merge writes edit the stored JSON on the server: the serializer must declare format: \"json\""
      }
    ])("$case", ({ given, options, reason }) => {
      expect(refusal({ secret, ...given })).toStrictEqual({ options, reason })
    })
  })

  it("the message names the options, then the reason", () => {
    const error = Effect.runSync(
      Effect.flip(SessionPolicy.make({ secret, cookieSameSite: "none", cookieSecure: false }))
    )
    expect(error.message).toBe("Invalid session policy (cookieSameSite, cookieSecure): SameSite=None needs Secure")
  })
})
