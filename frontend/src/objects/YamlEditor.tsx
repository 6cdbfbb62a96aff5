/**
 * The YAML editor of the object and create pages: CodeMirror 6 with YAML highlighting, folding,
 * search and undo (codemirror's basicSetup), and the API's validation errors as lint diagnostics
 * on the lines they concern. A server error that names a field (`spec.replicas`) but no line is
 * put on the line of that field when the document has it.
 *
 * The editor lives in a shadow root of its element (see editorRoot.ts: the CSP refuses the style
 * element CodeMirror would add to the document). CodeMirror keeps its own document; the component is controlled only in the sense that a new
 * `value` different from the editor's text replaces it (a reset, a reload after apply).
 */
import { indentWithTab } from '@codemirror/commands';
import { yaml } from '@codemirror/lang-yaml';
import { foldAll } from '@codemirror/language';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { Compartment, EditorState, type Text } from '@codemirror/state';
import { keymap, placeholder as placeholderText } from '@codemirror/view';
import { EditorView, basicSetup } from 'codemirror';
import { useEffect, useRef } from 'react';
import { editorRoot } from './editorRoot';
import type { LineError } from './types';

interface LineInfo {
  lead: number;
  dash: boolean;
  key: string | null;
  keyIndent: number;
  blank: boolean;
}

function describe(line: string): LineInfo {
  const lead = line.length - line.trimStart().length;
  const rest = line.slice(lead);
  const blank = rest === '' || rest.startsWith('#');
  const m = rest.match(/^((?:- +)*)(["']?)([^"':#][^:#]*?)\2\s*:(?:\s|$)/);
  const dashes = rest.match(/^((?:- +)*)/)?.[1] ?? '';
  return {
    lead,
    dash: dashes.length > 0,
    key: m ? (m[3] ?? null) : null,
    keyIndent: lead + (m ? (m[1] ?? '').length : dashes.length),
    blank,
  };
}

/** The 1-based line of a field path (`spec.template.spec.containers[0].image`) in a YAML document, or null. */
export function lineOfField(text: string, field: string): number | null {
  const lines = text.split('\n').map(describe);
  const tokens = field.split(/\.|\[(\d+)\]/).filter((x): x is string => !!x);
  let start = 0;
  let end = lines.length;
  let parent = -1;
  let found: number | null = null;
  for (const token of tokens) {
    const inScope = (i: number) => !lines[i]!.blank;
    if (/^\d+$/.test(token)) {
      // The n-th item of the list in scope (its dashes at the smallest indent).
      let dashIndent = Infinity;
      for (let i = start; i < end; i++) if (inScope(i) && lines[i]!.dash) dashIndent = Math.min(dashIndent, lines[i]!.lead);
      const items: number[] = [];
      for (let i = start; i < end; i++) if (inScope(i) && lines[i]!.dash && lines[i]!.lead === dashIndent) items.push(i);
      const at = items[Number(token)];
      if (at === undefined) return found;
      start = at;
      end = items[Number(token) + 1] ?? end;
      parent = dashIndent;
      found = at + 1;
      continue;
    }
    let child = Infinity;
    for (let i = start; i < end; i++) if (inScope(i) && lines[i]!.key !== null && lines[i]!.keyIndent > parent) child = Math.min(child, lines[i]!.keyIndent);
    let hit = -1;
    for (let i = start; i < end; i++) {
      if (inScope(i) && lines[i]!.key === token && lines[i]!.keyIndent === child) {
        hit = i;
        break;
      }
    }
    if (hit < 0) return found;
    const indent = lines[hit]!.keyIndent;
    let stop = end;
    for (let j = hit + 1; j < end; j++) {
      const l = lines[j]!;
      if (l.blank) continue;
      if (l.lead < indent || (l.lead === indent && !l.dash) || (l.key !== null && l.keyIndent <= indent && !(l.dash && l.lead >= indent))) {
        stop = j;
        break;
      }
    }
    start = hit + 1;
    end = stop;
    parent = indent;
    found = hit + 1;
  }
  return found;
}

/**
 * `spec.selector.matchLabels` of a workload's YAML as a map, or null when the selector is not
 * plain matchLabels in block style (matchExpressions, flow style): the caller then asks elsewhere.
 */
export function matchLabelsOf(text: string): Record<string, string> | null {
  const lines = text.split('\n');
  const at = lineOfField(text, 'spec.selector.matchLabels');
  if (at === null || !/^\s*matchLabels:\s*$/.test(lines[at - 1] ?? '')) return null;
  const expressions = lineOfField(text, 'spec.selector.matchExpressions');
  if (expressions !== null && /^\s*matchExpressions:/.test(lines[expressions - 1] ?? '')) return null;
  const indent = (lines[at - 1] ?? '').search(/\S/);
  const out: Record<string, string> = {};
  for (let i = at; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (!line.trim() || line.trim().startsWith('#')) continue;
    if (line.search(/\S/) <= indent) break;
    const m = line.trim().match(/^(["']?)([^"':]+)\1:\s*(["']?)(.*?)\3\s*$/);
    if (!m) return null;
    out[m[2] ?? ''] = m[4] ?? '';
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** Lint diagnostics for the errors that point at a line (directly or through their field). */
export function diagnosticsFor(doc: Text, errors: readonly LineError[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const text = doc.toString();
  for (const error of errors) {
    let line = error.line ?? null;
    if (line === null && error.field) line = lineOfField(text, error.field);
    if (line === null || line < 1) continue;
    const at = doc.line(Math.min(line, doc.lines));
    out.push({
      from: at.from,
      to: Math.max(at.from, at.to),
      severity: 'error',
      message: error.field ? `${error.field}: ${error.message}` : error.message,
    });
  }
  return out;
}

/** The errors no line of the document could be found for (shown beside the editor). */
export function unplacedErrors(text: string, errors: readonly LineError[]): LineError[] {
  return errors.filter((e) => !(e.line && e.line >= 1) && !(e.field && lineOfField(text, e.field) !== null));
}

/** Read-only or not, the text is a Tab stop (an explicit tabindex: a read-only editor is not
 *  contenteditable, and axe does not count contenteditable alone), so the keyboard can reach and
 *  scroll it. */
function readOnlyExtensions(readOnly: boolean) {
  return [
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!readOnly),
    EditorView.contentAttributes.of({ tabindex: '0' }),
  ];
}

export function YamlEditor({
  value,
  onChange,
  readOnly = false,
  errors = [],
  label,
  testId = 'yaml-editor',
  foldAtStart = false,
  placeholder,
}: {
  value: string;
  onChange?: (value: string) => void;
  readOnly?: boolean;
  errors?: readonly LineError[];
  /** The editor's accessible name. */
  label: string;
  testId?: string;
  /** Fold every block at first (long objects open on their top-level keys). */
  foldAtStart?: boolean;
  /** Shown while the editor is empty. */
  placeholder?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  const readOnlyConf = useRef(new Compartment());
  const labelConf = useRef(new Compartment());
  const echoes = useRef<string[]>([]); // texts sent to onChange whose echo as ``value`` is still due
  useEffect(() => {
    changed.current = onChange;
  });

  useEffect(() => {
    if (!host.current) return undefined;
    const root = editorRoot(host.current, '.cm-editor { height: min(62vh, 640px); }');
    const editor = new EditorView({
      parent: root ?? host.current,
      root: root ?? undefined,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          keymap.of([indentWithTab]),
          yaml(),
          lintGutter(),
          EditorState.tabSize.of(2),
          placeholder ? placeholderText(placeholder) : [],
          readOnlyConf.current.of(readOnlyExtensions(readOnly)),
          labelConf.current.of(EditorView.contentAttributes.of({ 'aria-label': label })),
          EditorView.updateListener.of((update) => {
            if (!update.docChanged) return;
            const text = update.state.doc.toString();
            echoes.current.push(text);
            if (echoes.current.length > 200) echoes.current.splice(0, echoes.current.length - 200);
            changed.current?.(text);
          }),
        ],
      }),
    });
    view.current = editor;
    if (foldAtStart) foldAll(editor);
    return () => {
      editor.destroy();
      view.current = null;
    };
    // The editor is created once; later props are applied by the effects below.
  }, []);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    // Our own edits come back as ``value`` one render later, possibly behind what has been typed
    // since (a busy page renders after several keystrokes): those echoes must not be written back,
    // or the keystrokes typed meanwhile are lost. Only a text we did not emit is an outside change.
    const echoed = echoes.current.indexOf(value);
    if (echoed >= 0) {
      echoes.current.splice(0, echoed + 1);
      return;
    }
    echoes.current = [];
    const change = minimalChange(editor.state.doc.toString(), value);
    // Only the part that differs is replaced, so a cursor the user has placed (before typing) stays
    // on its line when the live object moves under it (a controller adds an annotation above).
    if (change) editor.dispatch({ changes: change });
  }, [value]);

  useEffect(() => {
    view.current?.dispatch({
      effects: readOnlyConf.current.reconfigure(readOnlyExtensions(readOnly)),
    });
  }, [readOnly]);

  useEffect(() => {
    view.current?.dispatch({ effects: labelConf.current.reconfigure(EditorView.contentAttributes.of({ 'aria-label': label })) });
  }, [label]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    editor.dispatch(setDiagnostics(editor.state, diagnosticsFor(editor.state.doc, errors)));
  }, [errors, value]);

  return <div className="yaml-editor" ref={host} data-testid={testId} data-readonly={readOnly ? 'true' : 'false'} />;
}

/** The smallest single replacement turning ``before`` into ``after`` (null when equal). */
export function minimalChange(before: string, after: string): { from: number; to: number; insert: string } | null {
  if (before === after) return null;
  let start = 0;
  const shortest = Math.min(before.length, after.length);
  while (start < shortest && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let endBefore = before.length;
  let endAfter = after.length;
  while (endBefore > start && endAfter > start && before.charCodeAt(endBefore - 1) === after.charCodeAt(endAfter - 1)) {
    endBefore--;
    endAfter--;
  }
  return { from: start, to: endBefore, insert: after.slice(start, endAfter) };
}
