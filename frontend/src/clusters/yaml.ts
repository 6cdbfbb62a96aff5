/**
 * A small JSON → YAML printer for the pod detail view (read-only display; no dependency).
 * Strings are quoted when YAML would read them as something else.
 */
const PLAIN = /^[A-Za-z_/][\w./:@-]*( [\w./:@-]+)*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const s = String(value);
  if (s === '' || !PLAIN.test(s) || RESERVED.test(s)) return JSON.stringify(s);
  return s;
}

function key(k: string): string {
  return PLAIN.test(k) && !RESERVED.test(k) ? k : JSON.stringify(k);
}

export function toYaml(value: unknown, indent = 0): string {
  const pad = '  '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((item) => {
        if (item !== null && typeof item === 'object' && Object.keys(item).length > 0) {
          const inner = toYaml(item, indent + 1);
          return `${pad}- ${inner.slice(pad.length + 2)}`;
        }
        return `${pad}- ${scalar(item)}\n`;
      })
      .join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return `${pad}{}\n`;
    return entries
      .map(([k, v]) => {
        if (v !== null && typeof v === 'object') {
          const empty = Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
          if (empty) return `${pad}${key(k)}: ${Array.isArray(v) ? '[]' : '{}'}\n`;
          return `${pad}${key(k)}:\n${toYaml(v, indent + 1)}`;
        }
        if (typeof v === 'string' && v.includes('\n')) {
          const body = v.replace(/\n$/, '').split('\n').map((line) => `${pad}  ${line}`).join('\n');
          return `${pad}${key(k)}: |\n${body}\n`;
        }
        return `${pad}${key(k)}: ${scalar(v)}\n`;
      })
      .join('');
  }
  return `${pad}${scalar(value)}\n`;
}
