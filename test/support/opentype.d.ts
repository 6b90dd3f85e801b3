/**
 * The part of opentype.js the phone layout uses. Its @types package references the DOM library, which changes the
 * global fetch types of the whole program; these few lines do not.
 */
declare module 'opentype.js' {
  export interface Font {
    unitsPerEm: number;
    getAdvanceWidth(text: string, fontSize?: number, options?: { kerning?: boolean }): number;
  }
  export function parse(buffer: ArrayBuffer): Font;
  const opentype: { parse: typeof parse };
  export default opentype;
}
