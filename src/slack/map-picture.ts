import { createRequire } from 'node:module';
import type { MapPicture } from '../views/map.js';

/** The picture is drawn at three times its CSS size: phones have 3 device pixels to a CSS pixel. */
const SCALE = 3;

interface Resvg {
  render(): { asPng(): Buffer };
}
type ResvgModule = { Resvg: new (svg: string, options: { fitTo: { mode: 'zoom'; value: number }; font: { loadSystemFonts: boolean } }) => Resvg };

/**
 * The map picture as PNG, with @resvg/resvg-js (a prebuilt native module: no browser, no font, no network). Loaded
 * on first use, so nothing but the bot pays for it.
 */
export function mapPng(picture: MapPicture): Buffer {
  const { Resvg } = createRequire(import.meta.url)('@resvg/resvg-js') as ResvgModule;
  // The map draws its digits as pixels: no font to look for.
  return new Resvg(picture.svg, { fitTo: { mode: 'zoom', value: SCALE }, font: { loadSystemFonts: false } }).render().asPng();
}
