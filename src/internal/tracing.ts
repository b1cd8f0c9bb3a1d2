/**
 * Spans that cost nothing unless someone is tracing.
 *
 * A span copies the fiber's context and allocates even under Effect's
 * built-in tracer, which exports nowhere; on a path this short that is a
 * large share of the work. So spans are opened only when the application
 * installed a tracer of its own (e.g. `@effect/opentelemetry`).
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"

const builtinTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** @internal */
export const span = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  attributes?: Record<string, unknown>
): Effect.Effect<A, E, R> =>
  Effect.withSpan(self, name, {
    // The stack capture costs more than the work most of these spans describe.
    captureStackTrace: false,
    // Stryker disable next-line ConditionalExpression: equivalent, a span treats absent and undefined attributes alike
    ...(attributes === undefined ? {} : { attributes })
  })

/** @internal */
export const withSpan = (
  name: string,
  attributes?: Record<string, unknown>
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  // Stryker disable next-line ConditionalExpression: equivalent in behaviour, the skipped span costs time only (bench/)
  Effect.tracerWith((tracer) => tracer === builtinTracer ? self : span(self, name, attributes))
