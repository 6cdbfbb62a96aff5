/**
 * CodeMirror under the portal's Content-Security-Policy.
 *
 * CodeMirror writes its styles through style-mod, which in a document adds a `<style>` element;
 * the portal allows styles only from its own files (`style-src 'self'`, portal/csp.py), so the
 * browser refuses it, logs a violation and the editor renders unstyled. In a shadow root style-mod
 * uses a constructed style sheet (`adoptedStyleSheets`) instead, which the policy does not refuse.
 * So each editor lives in an open shadow root of its host element, and is told so (EditorView's
 * `root`). The rules of the page's stylesheet do not reach into it: what the editor needs (its
 * height, the merge view's scrolling) is given to the shadow root as a constructed sheet too, and
 * the page's CSS variables (fonts, colours) still inherit through it.
 */

const SHADOW_CSS = `
:host { display: block; }
.cm-editor { font-size: 12.5px; }
.cm-scroller { font-family: var(--mono, monospace); overflow: auto; }
.cm-mergeView { max-height: 62vh; overflow: auto; }
.cm-mergeView .cm-editor { height: auto; }
:host([data-readonly='true']) .cm-editor { background: #fafbfc; }
`;

let sheet: CSSStyleSheet | null = null;

function baseSheet(): CSSStyleSheet | null {
  if (sheet) return sheet;
  if (typeof CSSStyleSheet === 'undefined' || !('replaceSync' in CSSStyleSheet.prototype)) return null;
  sheet = new CSSStyleSheet();
  sheet.replaceSync(SHADOW_CSS);
  return sheet;
}

/** The shadow root an editor goes into (made once per host), or null where there is none (old browsers). */
export function editorRoot(host: HTMLElement, extraCss = ''): ShadowRoot | null {
  if (typeof host.attachShadow !== 'function') return null;
  const shadow = host.shadowRoot ?? host.attachShadow({ mode: 'open' });
  const base = baseSheet();
  if (base && 'adoptedStyleSheets' in shadow) {
    const sheets = [base];
    if (extraCss) {
      const extra = new CSSStyleSheet();
      extra.replaceSync(extraCss);
      sheets.push(extra);
    }
    // Before the editor mounts: style-mod then adds its own sheet in front of these.
    shadow.adoptedStyleSheets = sheets;
  }
  return shadow;
}
