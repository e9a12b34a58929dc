// supports-color 8 ships no types; the part help-cache.ts reads (the same export oclif reads).
declare module 'supports-color' {
  interface ColorSupport {
    level: number
    hasBasic: boolean
    has256: boolean
    has16m: boolean
  }
  const supportsColor: { stdout: ColorSupport | false; stderr: ColorSupport | false }
  export default supportsColor
}
