/**
 * Signed session-id cookies, byte-compatible with pyramid_session_redis
 * (WebOb's `SignedSerializer(secret, "pyramid_session_redis.", "sha512")`).
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createHmac, timingSafeEqual } from "node:crypto"

/**
 * Turns a session id into a cookie value and back. Supply your own to the
 * policy instead of a secret to use another scheme.
 *
 * @since 0.1.0
 * @category models
 */
export interface CookieSigner {
  readonly sign: (sessionId: string) => string
  /** `None` for anything that is not a value this signer produced. */
  readonly verify: (cookieValue: string) => Option.Option<string>
  /**
   * True for a value that verifies only with a previous key (see
   * `rotating`): the session keeps going, and its cookie is sent again,
   * signed with the current key. Asked only about a value `verify`
   * accepted; absent, no value is ever stale.
   */
  readonly isStale?: (cookieValue: string) => boolean
}

/**
 * pyramid_session_redis's salt.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSalt = "pyramid_session_redis."

/**
 * Cookie values longer than this are rejected before any decoding work:
 * browsers cap a cookie at about 4 KiB anyway.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxCookieValueLength = 4096

const DIGEST_BYTES = 64
/** Verified cookie values remembered per signer: at most 10,000 of at most 512 characters (~5 MiB). */
const verifiedCacheSize = 10_000
const maxRememberedLength = 512
const BASE64URL_BODY = /^[A-Za-z0-9_-]+$/
// the id's bytes as they are: Python's `decode("utf-8")` keeps a leading byte order mark too
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

// WebOb encodes the HMAC key as latin-1 when it can, UTF-8 otherwise.
const hmacKey = (text: string): Buffer => {
  for (const char of text) {
    // Stryker disable next-line StringLiteral: equivalent, `Buffer.from` reads an empty encoding as "utf8"
    if (char.charCodeAt(0) > 0xff) return Buffer.from(text, "utf8")
  }
  return Buffer.from(text, "latin1")
}

/** The value without trailing `=` padding (a loop: a regex on a run of `=` backtracks quadratically). */
const unpadded = (value: string): string => {
  let end = value.length
  // stops at the start of a value that is all `=`: `charCodeAt(-1)` is NaN
  while (value.charCodeAt(end - 1) === 0x3d) end--
  return value.slice(0, end)
}

/** Base64url as Python reads it: 4n+1 characters are no base64 (`Buffer.from` would drop the last one). */
const decodeBase64Url = (body: string): Buffer | undefined => {
  // the regex refuses an empty body too
  if (body.length % 4 === 1 || !BASE64URL_BODY.test(body)) return undefined
  return Buffer.from(body, "base64url")
}

/**
 * What a signer remembers about values that verified. Only verified values
 * go in, so it can't be used to forge anything, and it is bounded: the
 * oldest entry goes when it is full (a Map iterates in insertion order), and
 * a value longer than `maxRememberedLength` is kept only as the last one
 * (what a `verify` then `isStale` of the same value needs).
 */
const verifiedMemory = <A>() => {
  const entries = new Map<string, A>()
  let last: { readonly value: string; readonly remembered: A } | undefined
  return {
    get: (value: string): A | undefined => last?.value === value ? last.remembered : entries.get(value),
    set: (value: string, remembered: A): void => {
      last = { value, remembered }
      if (value.length > maxRememberedLength) return
      // Stryker disable next-line StringLiteral: equivalent, never used: a full map has a first key
      if (entries.size >= verifiedCacheSize && !entries.has(value)) entries.delete(entries.keys().next().value ?? "")
      entries.set(value, remembered)
    }
  }
}

const decodeUtf8 = (bytes: Uint8Array): string | undefined => {
  try {
    return utf8.decode(bytes)
  } catch {
    // not UTF-8: no session id
  }
  return undefined
}

/**
 * HMAC-SHA512 signer over `salt + secret`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  secret: Redacted.Redacted<string>,
  options?: { readonly salt?: string | undefined }
): CookieSigner => {
  const key = hmacKey((options?.salt ?? defaultSalt) + Redacted.value(secret))
  const mac = (payload: Uint8Array): Buffer => createHmac("sha512", key).update(payload).digest()

  // Verifying is an HMAC-SHA512 per request; a client presents the same cookie again and again.
  const verified = verifiedMemory<string>()

  return {
    sign(sessionId) {
      // Stryker disable next-line StringLiteral: equivalent, `Buffer.from` reads an empty encoding as "utf8"
      const id = Buffer.from(sessionId, "utf8")
      return Buffer.concat([mac(id), id]).toString("base64url")
    },
    verify(cookieValue) {
      if (cookieValue.length > maxCookieValueLength) return Option.none()
      // WebOb re-pads before decoding, so surplus trailing `=` is tolerated; remember the unpadded form only.
      const body = unpadded(cookieValue)
      const known = verified.get(body)
      if (known !== undefined) return Option.some(known)
      const bytes = decodeBase64Url(body)
      if (bytes === undefined || bytes.length <= DIGEST_BYTES) return Option.none()
      const id = bytes.subarray(DIGEST_BYTES)
      if (!timingSafeEqual(mac(id), bytes.subarray(0, DIGEST_BYTES))) return Option.none()
      const sessionId = decodeUtf8(id)
      if (sessionId === undefined) return Option.none()
      verified.set(body, sessionId)
      return Option.some(sessionId)
    }
  }
}

/**
 * Secret rotation: signs with the first signer, verifies with any of them,
 * in order. A value that only a later signer (or a stale value of the first)
 * verifies `isStale`, so the session middleware sends its cookie again,
 * signed by the first. Custom signers rotate the same way, and so does a
 * rotating signer inside another.
 *
 * Which signer verified a value is remembered (never the id: every `verify`
 * still asks that signer, so its own rules, such as an expiring signature,
 * keep holding). `verify` tries each signer once at most, and a later
 * `verify` or `isStale` of the same value asks only the one that accepted
 * it: no further HMAC.
 *
 * @since 0.2.0
 * @category constructors
 */
export const rotating = (signers: readonly [CookieSigner, ...Array<CookieSigner>]): CookieSigner => {
  const [current] = signers
  if (signers.length === 1) return current
  const verifiedBy = verifiedMemory<CookieSigner>()

  const verify = (cookieValue: string): Option.Option<string> => {
    if (cookieValue.length > maxCookieValueLength) return Option.none()
    const known = verifiedBy.get(cookieValue)
    if (known !== undefined) {
      const result = known.verify(cookieValue)
      if (Option.isSome(result)) return result
    }
    for (const signer of signers) {
      if (signer === known) continue
      const result = signer.verify(cookieValue)
      if (Option.isSome(result)) {
        verifiedBy.set(cookieValue, signer)
        return result
      }
    }
    return Option.none()
  }

  return {
    sign: (sessionId) => current.sign(sessionId),
    verify,
    isStale(cookieValue) {
      // Known after the `verify` that comes first; verified here only if it was forgotten meanwhile.
      if (verifiedBy.get(cookieValue) === undefined) verify(cookieValue)
      const signer = verifiedBy.get(cookieValue)
      if (signer === undefined) return false
      return signer !== current || (current.isStale?.(cookieValue) ?? false)
    }
  }
}
