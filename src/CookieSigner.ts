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
const utf8 = new TextDecoder("utf-8", { fatal: true })

// WebOb encodes the HMAC key as latin-1 when it can, UTF-8 otherwise.
const hmacKey = (text: string): Buffer => {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) return Buffer.from(text, "utf8")
  }
  return Buffer.from(text, "latin1")
}

/** The value without trailing `=` padding (a loop: a regex on a run of `=` backtracks quadratically). */
const unpadded = (value: string): string => {
  let end = value.length
  while (end > 0 && value.charCodeAt(end - 1) === 0x3d) end--
  return end === value.length ? value : value.slice(0, end)
}

const decodeBase64Url = (body: string): Buffer | undefined => {
  if (body.length === 0 || body.length % 4 === 1 || !BASE64URL_BODY.test(body)) return undefined
  return Buffer.from(body, "base64url")
}

const decodeUtf8 = (bytes: Uint8Array): string | undefined => {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
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
  // Only values that verified are remembered, so the cache can't be used to forge anything.
  const verified = new Map<string, string>()

  return {
    sign(sessionId) {
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
      if (body.length <= maxRememberedLength) {
        // Drop the oldest entry when full (a Map iterates in insertion order).
        if (verified.size >= verifiedCacheSize) verified.delete(verified.keys().next().value ?? "")
        verified.set(body, sessionId)
      }
      return Option.some(sessionId)
    }
  }
}
