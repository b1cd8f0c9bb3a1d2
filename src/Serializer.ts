/**
 * How a session payload becomes the string stored in Redis, and back.
 *
 * The default, `json`, is the format pyramid_session_redis deployments with a
 * JSON serializer read and write. This module imports nothing from Effect.
 *
 * @since 0.2.0
 */

/**
 * Turns payloads into strings and back. A custom serializer must round-trip
 * whatever the application stores, and `serialize` must be deterministic:
 * change detection compares its output.
 *
 * @since 0.2.0
 * @category models
 */
export interface Serializer {
  readonly serialize: (value: unknown) => string
  readonly deserialize: (text: string) => unknown
  /**
   * `"json"` declares that `serialize` writes plain JSON text (for any
   * value: an object's keys in insertion order, no indentation) that
   * `JSON.parse` reads back as the same data. Merge writes (`writeMode:
   * "merge"`) edit the stored JSON text on the server and need it.
   */
  readonly format?: "json" | undefined
}

/**
 * `JSON.stringify` / `JSON.parse`: wire-compatible with pyramid_session_redis.
 *
 * @since 0.2.0
 * @category serializers
 */
export const json: Serializer = {
  format: "json",
  serialize: (value) => JSON.stringify(value),
  deserialize: (text) => JSON.parse(text)
}
