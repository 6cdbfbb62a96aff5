/**
 * xterm.js under the portal's Content-Security-Policy.
 *
 * xterm.js 6 writes its theme colours, row sizes and scrollbar colours into `<style>` elements it
 * creates (DomRenderer, Viewport). The portal's policy allows styles only from its own files
 * (`style-src 'self'`, no `'unsafe-inline'`, portal/csp.py), so the browser refuses those elements,
 * logs a violation for each, and the terminal renders without its colours (xtermjs/xterm.js#4445).
 * Constructed style sheets (`document.adoptedStyleSheets`) are not inline `<style>` elements and
 * are not refused, so xterm.js gets, through its `documentOverride` option, a view of the document
 * whose `createElement('style')` returns an inert stand-in: the CSS xterm.js writes into it goes
 * to a constructed sheet, which is dropped again when xterm.js removes the element. Nothing else
 * about the document changes, and only the terminal sees this view. The scrollbar's element is
 * created from the real document during `open()` (xterm.js 6.0 hands its Viewport `window.document`
 * whatever the override), so {@link openStyleSafe} gives `open()` the same stand-ins for its
 * duration only.
 */

function standInStyle(doc: Document): HTMLElement {
  const element = doc.createElement('template'); // never rendered, never parsed as CSS
  const sheet = new CSSStyleSheet();
  let text = '';
  let adopted = false;
  Object.defineProperty(element, 'textContent', {
    configurable: true,
    get: () => text,
    set: (value: string | null) => {
      text = value ?? '';
      sheet.replaceSync(text);
      if (!adopted) {
        doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
        adopted = true;
      }
    },
  });
  const remove = element.remove.bind(element);
  element.remove = () => {
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
    adopted = false;
    remove();
  };
  return element;
}

/** Whether this browser can take constructed style sheets (every current one; not jsdom). */
export function constructedStylesSupported(doc: Document = document): boolean {
  return typeof CSSStyleSheet !== 'undefined' && 'replaceSync' in CSSStyleSheet.prototype && 'adoptedStyleSheets' in doc;
}

/**
 * The document as xterm.js should see it (its `documentOverride`), or undefined when the browser
 * cannot take constructed style sheets (xterm.js then uses the document itself).
 */
export function styleSafeDocument(doc: Document = document): Document | undefined {
  if (!constructedStylesSupported(doc)) return undefined;
  return new Proxy(doc, {
    get(target, property) {
      if (property === 'createElement') {
        return (tag: string, options?: ElementCreationOptions) =>
          String(tag).toLowerCase() === 'style' ? standInStyle(target) : target.createElement(tag, options);
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    set(target, property, value) {
      return Reflect.set(target, property, value, target);
    },
  });
}

/**
 * Run `open` (xterm's `Terminal.open`) with `createElement('style')` of the real document answering
 * stand-ins, and put the document back right after (synchronously: nothing else runs meanwhile).
 */
export function openStyleSafe(open: () => void, doc: Document = document): void {
  if (!constructedStylesSupported(doc)) {
    open();
    return;
  }
  const own = Object.prototype.hasOwnProperty.call(doc, 'createElement');
  const original = doc.createElement;
  const create = (tag: string, options?: ElementCreationOptions): HTMLElement =>
    String(tag).toLowerCase() === 'style' ? standInStyle(doc) : original.call(doc, tag, options);
  Object.defineProperty(doc, 'createElement', { configurable: true, writable: true, value: create });
  try {
    open();
  } finally {
    if (own) Object.defineProperty(doc, 'createElement', { configurable: true, writable: true, value: original });
    else delete (doc as unknown as Record<string, unknown>).createElement;
  }
}
