/**
 * The headers a session adds to a response: `Vary: Cookie` whenever the
 * response depends on the session cookie, and a `Cache-Control` that keeps
 * shared caches away from any response that sets or expires it. Pure string
 * functions; imports nothing from Effect.
 */

/** `Vary` with `Cookie` in it; unchanged when it already lists `Cookie` or `*`. */
export const varyWithCookie = (vary: string | undefined): string => {
  if (vary === undefined || vary.trim() === "") return "Cookie"
  const parts = vary.split(",").map((part) => part.trim().toLowerCase())
  if (parts.includes("cookie") || parts.includes("*")) return vary
  return `${vary}, Cookie`
}

/** `Cache-Control` directives: split at commas outside quoted strings (`no-cache="a, b"` is one). */
const cacheDirectives = (value: string): Array<string> => {
  const directives: Array<string> = []
  let current = ""
  let quoted = false
  for (const char of value) {
    if (char === "\"") quoted = !quoted
    if (char === "," && !quoted) {
      directives.push(current.trim())
      current = ""
    } else {
      current += char
    }
  }
  directives.push(current.trim())
  return directives.filter((d) => d !== "")
}

const directiveName = (directive: string) => {
  const eq = directive.indexOf("=")
  return (eq === -1 ? directive : directive.slice(0, eq)).trim().toLowerCase()
}

/** Keeps every shared cache away. A qualified `private="set-cookie"` does not: it only hides the listed headers. */
const forbidsSharedCaches = (directive: string) =>
  directive.toLowerCase() === "private" || directiveName(directive) === "no-store"

/**
 * Whether a shared cache (a CDN, a proxy) may store the response: it says
 * `public` or `s-maxage`, or gives a lifetime (`max-age` above zero, an
 * `Expires` after the response's `Date`) without `private` or `no-store`.
 * `no-cache`, `max-age=0`, an `Expires` in the past or that does not parse
 * (`Expires: 0`), `private` or `no-store` keep it out of shared caches, so
 * such a response may carry a session cookie.
 */
export const sharedCacheable = (
  cacheControl: string | undefined,
  expires: string | undefined,
  /** The response's time, epoch milliseconds: its `Date`. */
  now: number
): boolean => {
  // Stryker disable next-line StringLiteral: equivalent, any other text is an unknown directive, ignored
  const directives = cacheDirectives(cacheControl ?? "")
  const names = directives.map(directiveName)
  if (names.includes("public") || names.includes("s-maxage")) return true
  if (directives.some(forbidsSharedCaches)) return false
  const maxAge = directives.find((d) => directiveName(d) === "max-age")
  // `Number` ignores the spaces around the value; a bare `max-age` is NaN: no lifetime
  if (maxAge !== undefined) return Number(maxAge.split("=")[1]?.replace(/"/g, "")) > 0
  // no Expires reads as the text "undefined": no date
  const at = Date.parse(String(expires))
  return Number.isFinite(at) && at > now
}

/**
 * `Cache-Control` for a response that sets or expires a cookie: no shared
 * cache may store it. A bare `private` is added unless it or `no-store` is
 * there, and `public`, `s-maxage` and a qualified `private` are dropped; the
 * rest (`max-age`, `no-cache`, …) stays, for the browser's own cache.
 */
export const privateCacheControl = (value: string | undefined): string => {
  const given = value ?? ""
  const directives = cacheDirectives(given)
  const kept = directives.filter((d) => {
    const name = directiveName(d)
    return name !== "public" && name !== "s-maxage" && (name !== "private" || forbidsSharedCaches(d))
  })
  const isPrivate = kept.some(forbidsSharedCaches)
  if (isPrivate && kept.length === directives.length) return given
  return (isPrivate ? kept : ["private", ...kept]).join(", ")
}
