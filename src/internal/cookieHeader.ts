/**
 * One cookie's value from a `Cookie` header, read the way
 * `@effect/platform`'s `Cookies.parseHeader` reads it (first occurrence wins,
 * names and values trimmed, a value that starts with `"` loses its first and
 * last characters, `%`-escapes decoded when they decode), without building a
 * record of every cookie: the session middleware needs one value on every
 * request that uses its session.
 *
 * One difference: `parseHeader` fills a plain object and so never keeps a
 * cookie named like an `Object.prototype` member (`constructor`,
 * `__proto__`, …); this finds it.
 *
 * @internal
 */
export const cookieValue = (header: string, name: string): string | undefined => {
  const length = header.length
  let pos = 0
  let end = 0
  while (end !== length) {
    end = header.indexOf(";", pos)
    if (end === -1) end = length
    let eq = header.indexOf("=", pos)
    // Stryker disable next-line ConditionalExpression: equivalent, without an "=" no pair is left to match
    if (eq === -1) return undefined
    // Stryker disable next-line ConditionalExpression,EqualityOperator,BlockStatement: equivalent for any valid cookie name, which holds no ";" (what reading on would compare)
    if (eq > end) {
      // a pair without "=": skipped, like parseHeader does
      pos = end + 1
      continue
    }
    if (header.substring(pos, eq++).trim() === name) {
      const value = header.charCodeAt(eq) === 0x22
        ? header.substring(eq + 1, end - 1).trim()
        : header.substring(eq, end).trim()
      // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent, decoding text without "%" gives it back
      return value.indexOf("%") === -1 ? value : tryDecodeURIComponent(value)
    }
    pos = end + 1
  }
  return undefined
}

const tryDecodeURIComponent = (value: string): string => {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}
