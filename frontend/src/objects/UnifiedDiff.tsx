/**
 * A unified diff shown as text with its +/- lines marked: a module of its own, without CodeMirror, so
 * the activity timeline (on the cluster, workspace, service map and release pages) does not load the
 * editor to show a diff.
 */
/** A unified diff as text, its added and removed lines marked. */
export function UnifiedDiff({ diff, testId = 'unified-diff' }: { diff: string; testId?: string }) {
  const lines = diff.replace(/\n$/, '').split('\n');
  return (
    <pre className="code-block unified-diff" data-testid={testId}>
      {lines.map((line, i) => {
        const tone = line.startsWith('+++') || line.startsWith('---') ? 'meta' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@@') ? 'hunk' : '';
        return (
          <span key={i} className={tone ? `diff-${tone}` : undefined}>
            {line}
            {'\n'}
          </span>
        );
      })}
    </pre>
  );
}
