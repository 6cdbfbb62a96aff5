/**
 * Server messages in the user's language.
 *
 * Every API error body and every stored status message (a release's, a service map's, a
 * cluster's …) carries a stable `code` and its `params` beside the English sentence (issue 12).
 * The console translates by code — `codes.<code>` in i18n/en.json and ko.json, `params` filling its
 * `{{placeholders}}` — and falls back to the server's English when it does not know the code (a
 * newer server, a message written before codes existed), so nothing is ever blank.
 *
 * Rules, in order:
 * - no code, an unknown code, or a translation needing a param the server did not send (or sent
 *   as null) → the text;
 * - the English console shows the server's own sentence (it is the canonical English and may say
 *   more than the template, e.g. DRF's "Ensure this field has no more than 63 characters.");
 * - a code whose template has no placeholders but whose text differs from its English template
 *   (`conflict` with "Release web is being deleted.", `connection_refused` with the address and
 *   the advice) → the translation, then the server's words in parentheses: the translation says
 *   what kind of problem it is and the English keeps the specifics the code does not carry;
 * - otherwise the translation.
 *
 * Types accept optional fields (`message_code?`, `message_params?: unknown`) so rows typecheck
 * whether or not the generated schema has the fields yet.
 */
import i18n, { type TFunction } from 'i18next';
import { ApiError } from '../api/errors';

export type MessageParams = Record<string, unknown>;

/** A coded server text: `code` and `params` from the server, `text` its English sentence. */
export interface CodedText {
  code?: string | null;
  params?: unknown;
  text?: string | null;
}

/** A row or event payload with a stored status message. */
export interface StoredMessage {
  message?: string | null;
  message_code?: string | null;
  message_params?: unknown;
}

/** A cluster row: its status sentence is `status_message`. */
export interface ClusterStatusMessage {
  status_message?: string | null;
  message_code?: string | null;
  message_params?: unknown;
}

/** `t` with a key computed at run time (the typed `t` accepts only literal keys). */
type Lookup = (key: string, options: object) => string;

const CODE_PATTERN = /^[a-z][a-z0-9_]*$/;
const PLACEHOLDER = /\{\{\s*(\w+)\s*\}\}/g;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A param as a translation shows it: lists joined, objects as JSON, nothing as ''. */
function show(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(show).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The i18n key of `code`, when the console has a translation for it. */
export function codeKey(code: string | null | undefined): string | null {
  if (!code || !CODE_PATTERN.test(code)) return null;
  const key = `codes.${code}`;
  return i18n.exists(key, { lng: 'en' }) ? key : null;
}

/** `code`'s English template (`"Revision {{number}} deployed."`), or null. */
function template(key: string): string | null {
  const value: unknown = i18n.getResource('en', 'translation', key);
  return typeof value === 'string' ? value : null;
}

/** The translation of a coded server text, or its English text (see the module docstring). */
export function serverText(t: TFunction, { code, params, text }: CodedText): string {
  const fallback = text ?? '';
  const key = codeKey(code);
  if (!key) return fallback;
  const values: Record<string, string> = {};
  // A param that is null (a node count the check could not read) is missing: the server's
  // sentence says it in words ("nodes not readable"), the template cannot.
  if (isRecord(params)) for (const [name, value] of Object.entries(params)) if (value !== null && value !== undefined) values[name] = show(value);
  const needed = [...(template(key) ?? '').matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
  if (needed.some((name) => !(name in values))) return fallback;
  // `replace` keeps params apart from i18next's options (a param named `context` or `lng` is data).
  const tOptions = { replace: values, interpolation: { escapeValue: false } };
  const translated = (t as unknown as Lookup)(key, tOptions);
  const english = (i18n.getFixedT('en') as unknown as Lookup)(key, tOptions);
  if (translated === english) return fallback || translated;
  if (fallback && needed.length === 0 && fallback !== english) return `${translated.replace(/\.$/, '')} (${fallback})`;
  return translated;
}

/** A stored status message (`message`, `message_code`, `message_params`) in the user's language. */
export function messageText(t: TFunction, row: StoredMessage | null | undefined): string {
  if (!row) return '';
  return serverText(t, { code: row.message_code, params: row.message_params, text: row.message });
}

/** A cluster's status sentence (`status_message` with its `message_code`) in the user's language. */
export function clusterStatusText(t: TFunction, cluster: ClusterStatusMessage): string {
  return serverText(t, { code: cluster.message_code, params: cluster.message_params, text: cluster.status_message });
}

/**
 * A failed call's message in the user's language: the error body's `code`/`params`/`detail`, with
 * `field` (the first field error's name, which DRF's summary names) and `seconds` (Retry-After)
 * added when the server did not send them. Any other error shows its message.
 */
export function apiErrorText(t: TFunction, error: unknown): string {
  if (error instanceof ApiError) {
    const params: MessageParams = { ...error.params };
    const first = Object.keys(error.fieldErrors)[0];
    if (first && first !== 'non_field_errors' && params.field === undefined) params.field = first;
    if (error.retryAfter !== null && params.seconds === undefined) params.seconds = error.retryAfter;
    return serverText(t, { code: error.code, params, text: error.detail });
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
