declare module 'node-gyp-build' {
  /** Loads the addon from prebuilds/ or build/ under `dir`. */
  function load(dir: string): unknown;
  export = load;
}
