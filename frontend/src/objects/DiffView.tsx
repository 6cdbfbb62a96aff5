/**
 * The diff of a change before it is applied: the live object on the left, the object as the
 * cluster's dry-run would store it on the right, side by side in CodeMirror's MergeView (both
 * read-only, unchanged stretches collapsed). When the server sends only a unified diff (a document
 * of a create preview without the two texts), the unified diff is shown as text with its +/- lines
 * marked.
 */
import { yaml } from '@codemirror/lang-yaml';
import { MergeView } from '@codemirror/merge';
import { EditorState } from '@codemirror/state';
import { EditorView, basicSetup } from 'codemirror';
import { useEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { editorRoot } from './editorRoot';
import { UnifiedDiff } from './UnifiedDiff';

export { UnifiedDiff };

const readOnly = [basicSetup, yaml(), EditorState.readOnly.of(true), EditorView.editable.of(false)];

export function MergeDiff({ before, after, testId = 'yaml-diff' }: { before: string; after: string; testId?: string }) {
  const { t } = useTranslation();
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!host.current) return undefined;
    const root = editorRoot(host.current); // in a shadow root, for the CSP (editorRoot.ts)
    const view = new MergeView({
      parent: root ?? host.current,
      root: root ?? undefined,
      a: { doc: before, extensions: [...readOnly, EditorView.contentAttributes.of({ 'aria-label': t('objects.diffLive') })] },
      b: { doc: after, extensions: [...readOnly, EditorView.contentAttributes.of({ 'aria-label': t('objects.diffResult') })] },
      collapseUnchanged: { margin: 3, minSize: 6 },
      gutter: true,
      highlightChanges: true,
    });
    return () => view.destroy();
  }, [before, after, t]);
  return (
    <div className="yaml-diff" data-testid={testId}>
      <div className="yaml-diff-heads small muted">
        <span>{t('objects.diffLive')}</span>
        <span>{t('objects.diffResult')}</span>
      </div>
      <div ref={host} />
    </div>
  );
}

/** The best diff the answer allows: both texts side by side, else the unified diff. */
export function DiffView({ before, after, diff, testId }: { before?: string; after?: string; diff?: string; testId?: string }) {
  if (before !== undefined && after !== undefined) return <MergeDiff before={before} after={after} testId={testId} />;
  if (diff) return <UnifiedDiff diff={diff} testId={testId} />;
  return null;
}
