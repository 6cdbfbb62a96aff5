/** Test data of the object pages, shaped like the contract (/work/coord/OBJECTS.md). */
import { EditorView } from 'codemirror';
import type { ObjectAction, ObjectDetail, Permissions } from '../objects/types';
import { OBJECT_GRANTS } from '../objects/types';

// jsdom has no layout: CodeMirror measures text ranges, which jsdom's Range cannot. Give it empty
// geometry so the editor's measuring does not throw (the tests read the editor's state, not pixels).
const emptyRect = { x: 0, y: 0, width: 0, height: 0, top: 0, left: 0, right: 0, bottom: 0, toJSON: () => ({}) } as DOMRect;
if (typeof Range !== 'undefined' && !('getClientRects' in Range.prototype)) {
  Object.assign(Range.prototype, {
    getClientRects: () => ({ length: 0, item: () => null, [Symbol.iterator]: function* () {} }) as unknown as DOMRectList,
    getBoundingClientRect: () => emptyRect,
  });
}

export const DEPLOYMENT_YAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
`;

export function allowAll(): Permissions {
  return Object.fromEntries(OBJECT_GRANTS.map((g) => [g, { allowed: true, code: '', reason: '' }]));
}

export function deny(permissions: Permissions, grant: keyof Permissions, workspace = 'team-a'): Permissions {
  return {
    ...permissions,
    [grant]: {
      allowed: false,
      code: 'grant_missing',
      reason: `Your role in workspace ${workspace} does not grant ${grant}; ask a manager of the workspace.`,
      params: { workspace, grant },
    },
  };
}

export function objectDetail(overrides: Partial<ObjectDetail> = {}): ObjectDetail {
  return {
    api_version: 'apps/v1',
    kind: 'Deployment',
    namespace: 'shop',
    name: 'web',
    resource_version: '101',
    yaml: DEPLOYMENT_YAML,
    owner_release: null,
    owners: [],
    permissions: allowAll(),
    managers: [{ manager: 'kubectl-client-side-apply', operation: 'Update', time: '2026-12-01T00:00:00Z' }],
    ...overrides,
  };
}

export function objectAction(overrides: Partial<ObjectAction> = {}): ObjectAction {
  return {
    id: 7,
    cluster: 1,
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    kind: 'Deployment',
    namespace: 'shop',
    name: 'web',
    action: 'apply',
    params: {},
    status: 'pending',
    message: '',
    message_code: '',
    message_params: {},
    result: null,
    diff: '',
    requested_by: 'admin',
    created: '2026-12-02T05:00:00Z',
    started: null,
    finished: null,
    ...overrides,
  };
}

/** The elements matching `selector` in `root` and in the shadow roots under it (the editors live in some). */
export function deepQueryAll(root: Element, selector: string): Element[] {
  const out: Element[] = [];
  const visit = (node: Element | ShadowRoot) => {
    out.push(...Array.from(node.querySelectorAll(selector)));
    for (const el of Array.from(node.querySelectorAll('*'))) if (el.shadowRoot) visit(el.shadowRoot);
  };
  visit(root);
  if (root.shadowRoot) visit(root.shadowRoot);
  return out;
}

/** The CodeMirror view inside an editor element (tests drive it as a user's edits would). */
export function editorView(host: HTMLElement): EditorView {
  const dom = deepQueryAll(host, '.cm-editor')[0];
  const view = dom ? EditorView.findFromDOM(dom as HTMLElement) : null;
  if (!view) throw new Error('no CodeMirror editor here');
  return view;
}

/** Replaces the first occurrence of `from` with `to` in the editor, as typing would. */
export function editText(host: HTMLElement, from: string, to: string): void {
  const view = editorView(host);
  const at = view.state.doc.toString().indexOf(from);
  if (at < 0) throw new Error(`"${from}" is not in the editor`);
  view.dispatch({ changes: { from: at, to: at + from.length, insert: to }, userEvent: 'input.type' });
}

export function setText(host: HTMLElement, text: string): void {
  const view = editorView(host);
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, userEvent: 'input.paste' });
}
