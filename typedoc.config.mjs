// The API reference: `npm run docs` writes it to docs/api (generated, not committed).
// Entry points are the package's public modules, as in package.json `exports`.
import { OptionDefaults } from "typedoc"

/** @type {Partial<import("typedoc").TypeDocOptions>} */
export default {
  name: "effect-session-redis",
  entryPoints: [
    "src/index.ts",
    "src/CookieSigner.ts",
    "src/InvalidSession.ts",
    "src/RedisClient.ts",
    "src/Serializer.ts",
    "src/Session.ts",
    "src/SessionDuration.ts",
    "src/SessionMiddleware.ts",
    "src/SessionPolicy.ts",
    "src/UserSessions.ts"
  ],
  tsconfig: "tsconfig.build.json",
  out: "docs/api",
  readme: "none",
  // no repository URL to link the sources to
  disableSources: true,
  excludePrivate: true,
  excludeInternal: true,
  // Effect's docgen tags: @category groups the members of a module, @since is shown as written
  blockTags: [...OptionDefaults.blockTags, "@since"],
  categorizeByGroup: false,
  // the error union of SessionPolicy.layerConfig, written out in its signature but not exported
  intentionallyNotExported: ["src/SessionPolicy.ts:LayerConfigError"],
  treatWarningsAsErrors: true,
  treatValidationWarningsAsErrors: true
}
