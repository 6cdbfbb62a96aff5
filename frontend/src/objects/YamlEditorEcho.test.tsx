import { EditorView } from '@codemirror/view';
import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { YamlEditor } from './YamlEditor';

function viewOf(container: HTMLElement): EditorView {
  const host = container.querySelector('[data-testid="yaml-editor"]') as HTMLElement;
  const root = host.shadowRoot ?? host;
  const dom = root.querySelector('.cm-editor') as HTMLElement;
  const view = EditorView.findFromDOM(dom);
  if (!view) throw new Error('no editor');
  return view;
}

describe('YamlEditor as a controlled component', () => {
  it('keeps keystrokes typed while the page renders an older echo of its own text', () => {
    const emitted: string[] = [];
    const { container, rerender } = render(<YamlEditor label="yaml" value="replicas: 1" onChange={(v) => emitted.push(v)} />);
    const view = viewOf(container);
    // Two keystrokes before the page re-renders: "replicas: " then "replicas: 3".
    view.dispatch({ changes: { from: 9, to: 11, insert: '' } });
    view.dispatch({ changes: { from: 9, insert: ' 3' } });
    expect(emitted).toEqual(['replicas:', 'replicas: 3']);
    // The page now renders with the first (older) echo, then the second.
    rerender(<YamlEditor label="yaml" value="replicas:" onChange={(v) => emitted.push(v)} />);
    expect(view.state.doc.toString()).toBe('replicas: 3');
    rerender(<YamlEditor label="yaml" value="replicas: 3" onChange={(v) => emitted.push(v)} />);
    expect(view.state.doc.toString()).toBe('replicas: 3');
  });

  it('takes a text it did not emit (a new live version, a reset)', () => {
    const { container, rerender } = render(<YamlEditor label="yaml" value="a: 1" onChange={() => undefined} />);
    const view = viewOf(container);
    rerender(<YamlEditor label="yaml" value="a: 2" onChange={() => undefined} />);
    expect(view.state.doc.toString()).toBe('a: 2');
  });
});
