import { Resvg } from '@resvg/resvg-js';

export interface PngOptions {
  /** Width of the PNG in px; the height follows the SVG's aspect ratio. Default: the SVG's own width. */
  width?: number;
}

/**
 * An SVG string as a PNG (for email clients that do not show inline SVG), through resvg: a Rust
 * rasteriser with prebuilt binaries in its npm package, so no system libraries (cairo, librsvg) are needed.
 *
 * Text needs a font on the machine: resvg loads the system fonts and the charts ask for Helvetica, Arial,
 * DejaVu Sans, Liberation Sans, then sans-serif. On Debian without any of them (node:*-slim images),
 * text silently renders as nothing: install `fonts-dejavu-core`.
 *
 * Throws on input that is not well-formed SVG.
 */
export function toPng(svg: string, options: PngOptions = {}): Buffer {
  const width = options.width;
  const resvg = new Resvg(svg, {
    fitTo:
      width !== undefined && Number.isFinite(width) && width > 0
        ? { mode: 'width', value: Math.round(width) }
        : { mode: 'original' },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    background: '#ffffff',
    logLevel: 'off',
  });
  return resvg.render().asPng();
}
