/**
 * /builds/new and /builds/definitions/:id — the build definition editor:
 *   source: a git repository (URL, ref, username, a write-only password shown only as "set",
 *     context dir, Dockerfile path) or a language preset (GET /presets/: its Dockerfile template
 *     read-only, its build arguments editable);
 *   target: a registry (GET /registries/, the caller's repository prefixes as hints) and a
 *     repository, the tag scheme and version;
 *   where it builds: a cluster and one of the workspace's service maps on it, the builder,
 *     resources, cache size, timeout, history kept;
 *   optional steps: the scan, and the deploy to a release of the workspace (image path, format);
 *   triggers: the git webhook on/off and the refs it builds. After a save that makes (or a
 *     rotation of) the webhook secret, the URL and the secret are shown ONCE with a copy button.
 * A 400's `errors` show at their fields; errors of fields the form does not show are listed on top.
 * The edit page adds Run, the run history and Delete.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import type { ApiError } from '../api/errors';
import { Dialog } from '../components/Dialog';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { TypeToConfirmDialog } from '../components/TypeToConfirmDialog';
import { FieldErrors } from '../components/FieldErrors';
import { useMe } from '../auth/queries';
import { useReleases } from '../catalog/queries';
import { bytesHuman, relativeTime, useNow } from '../clusters/format';
import { apiErrorText } from '../lib/messages';
import { useServiceMaps, useWorkspaces } from '../workspaces/queries';
import { BUILDS_RUN } from './access';
import { CopyButton, RunStatusBadge } from './common';
import { imageRef, shortDigest } from './format';
import { useBuildsLive } from './live';
import {
  useBuildRegistries,
  useDefinition,
  useDeleteDefinition,
  usePresets,
  useRotateWebhookSecret,
  useRunDefinition,
  useRuns,
  useSaveDefinition,
} from './queries';
import type { BuildDefinition, Builder, DefinitionBody, ImageFormat, PresetKey, Registry, Resources, TagScheme } from './types';

export interface DefinitionForm {
  workspace: string;
  name: string;
  description: string;
  source: 'dockerfile' | 'preset';
  git_url: string;
  git_ref: string;
  git_username: string;
  git_password: string;
  clear_password: boolean;
  context_dir: string;
  dockerfile_path: string;
  preset: PresetKey;
  build_args: Array<[string, string]>;
  registry: string;
  repository: string;
  tag_scheme: TagScheme;
  version: string;
  cluster: string;
  service_map: string;
  builder: Builder;
  cpu_request: string;
  memory_request: string;
  cpu_limit: string;
  memory_limit: string;
  cache_size: string;
  timeout_seconds: string;
  keep_runs: string;
  scan: boolean;
  deploy_release: string;
  deploy_image_path: string;
  deploy_image_format: ImageFormat;
  webhook_enabled: boolean;
  trigger_refs: string;
}

export function emptyForm(workspace = ''): DefinitionForm {
  return {
    workspace,
    name: '',
    description: '',
    source: 'dockerfile',
    git_url: '',
    git_ref: 'main',
    git_username: '',
    git_password: '',
    clear_password: false,
    context_dir: '.',
    dockerfile_path: 'Dockerfile',
    preset: '',
    build_args: [],
    registry: '',
    repository: '',
    tag_scheme: 'version-build',
    version: '1.0',
    cluster: '',
    service_map: '',
    builder: 'buildkit',
    cpu_request: '',
    memory_request: '',
    cpu_limit: '',
    memory_limit: '',
    cache_size: '2Gi',
    timeout_seconds: '1800',
    keep_runs: '20',
    scan: true,
    deploy_release: '',
    deploy_image_path: 'image',
    deploy_image_format: 'split',
    webhook_enabled: false,
    trigger_refs: '',
  };
}

export function formOf(d: BuildDefinition): DefinitionForm {
  const r = d.resources ?? {};
  return {
    ...emptyForm(String(d.workspace.id)),
    name: d.name,
    description: d.description,
    source: d.preset ? 'preset' : 'dockerfile',
    git_url: d.git_url,
    git_ref: d.git_ref,
    git_username: d.git_username,
    context_dir: d.context_dir,
    dockerfile_path: d.dockerfile_path,
    preset: d.preset,
    build_args: Object.entries(d.build_args ?? {}),
    registry: String(d.registry.id),
    repository: d.repository,
    tag_scheme: d.tag_scheme,
    version: d.version,
    cluster: String(d.cluster.id),
    service_map: String(d.service_map.id),
    builder: d.builder,
    cpu_request: r.requests?.cpu ?? '',
    memory_request: r.requests?.memory ?? '',
    cpu_limit: r.limits?.cpu ?? '',
    memory_limit: r.limits?.memory ?? '',
    cache_size: d.cache_size,
    timeout_seconds: String(d.timeout_seconds),
    keep_runs: String(d.keep_runs),
    scan: d.scan,
    deploy_release: d.deploy_release ? String(d.deploy_release.id) : '',
    deploy_image_path: d.deploy_image_path,
    deploy_image_format: d.deploy_image_format,
    webhook_enabled: d.webhook_enabled,
    trigger_refs: (d.trigger_refs ?? []).join('\n'),
  };
}

function resourcesOf(f: DefinitionForm): Resources {
  const pick = (cpu: string, memory: string) => {
    const out: { cpu?: string; memory?: string } = {};
    if (cpu.trim()) out.cpu = cpu.trim();
    if (memory.trim()) out.memory = memory.trim();
    return Object.keys(out).length ? out : undefined;
  };
  const requests = pick(f.cpu_request, f.memory_request);
  const limits = pick(f.cpu_limit, f.memory_limit);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

const toInt = (text: string, fallback: number) => {
  const n = Number(text);
  return Number.isFinite(n) && text.trim() !== '' ? Math.trunc(n) : fallback;
};

/** The request body of the form: everything, the password only when typed (or '' to remove it). */
export function bodyOf(f: DefinitionForm, creating: boolean): DefinitionBody {
  const body: DefinitionBody = {
    name: f.name.trim(),
    description: f.description,
    git_url: f.git_url.trim(),
    git_ref: f.git_ref.trim(),
    git_username: f.git_username.trim(),
    context_dir: f.context_dir.trim(),
    dockerfile_path: f.dockerfile_path.trim(),
    preset: f.source === 'preset' ? f.preset : '',
    build_args: Object.fromEntries(f.build_args.filter(([k]) => k.trim() !== '').map(([k, v]) => [k.trim(), v])),
    registry: f.registry ? toInt(f.registry, 0) : undefined, // unchosen: the server says it is required
    repository: f.repository.trim(),
    tag_scheme: f.tag_scheme,
    version: f.version.trim(),
    cluster: f.cluster ? toInt(f.cluster, 0) : undefined, // unchosen: the server says it is required
    service_map: f.service_map ? toInt(f.service_map, 0) : undefined, // unchosen: the server says it is required
    builder: f.builder,
    resources: resourcesOf(f),
    cache_size: f.cache_size.trim(),
    timeout_seconds: toInt(f.timeout_seconds, 0),
    keep_runs: toInt(f.keep_runs, 0),
    scan: f.scan,
    deploy_release: f.deploy_release ? toInt(f.deploy_release, 0) : null,
    deploy_image_path: f.deploy_image_path.trim(),
    deploy_image_format: f.deploy_image_format,
    webhook_enabled: f.webhook_enabled,
    trigger_refs: f.trigger_refs
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean),
  };
  if (creating && f.workspace) body.workspace = toInt(f.workspace, 0);
  if (f.git_password) body.git_password = f.git_password;
  else if (f.clear_password && !creating) body.git_password = '';
  return body;
}

/** Field names the form shows errors for (an error key is `name` or `name.<anything>`). */
const SHOWN_FIELDS = [
  'workspace', 'name', 'description', 'git_url', 'git_ref', 'git_username', 'git_password', 'context_dir', 'dockerfile_path',
  'preset', 'build_args', 'registry', 'repository', 'tag_scheme', 'version', 'cluster', 'service_map', 'builder', 'resources',
  'cache_size', 'timeout_seconds', 'keep_runs', 'scan', 'deploy_release', 'deploy_image_path', 'deploy_image_format',
  'webhook_enabled', 'trigger_refs',
];

/** The messages of `field` (and of its nested keys, named after the field). */
export function fieldErrors(errors: Record<string, string[]>, field: string): string[] {
  const out: string[] = [];
  for (const [key, messages] of Object.entries(errors)) {
    if (key === field) out.push(...messages);
    else if (key.startsWith(`${field}.`)) out.push(...messages.map((m) => `${key.slice(field.length + 1)}: ${m}`));
  }
  return out;
}

/** Errors of fields the form does not show, as `field: message`. */
export function otherErrors(errors: Record<string, string[]>): string[] {
  return Object.entries(errors)
    .filter(([key]) => key !== 'non_field_errors' && !SHOWN_FIELDS.some((f) => key === f || key.startsWith(`${f}.`)))
    .flatMap(([key, messages]) => messages.map((m) => `${key}: ${m}`))
    .concat(errors.non_field_errors ?? []);
}

/** Shows a webhook's URL and secret once, with copy buttons and the warning that it will not be shown again. */
export function WebhookSecretDialog({ url, secret, onClose }: { url: string; secret: string; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <Dialog
      title={t('builds.webhook.title')}
      onClose={onClose}
      testId="webhook-secret-dialog"
      footer={
        <button type="button" className="btn btn-primary" onClick={onClose} data-testid="webhook-secret-done">
          {t('builds.webhook.done')}
        </button>
      }
    >
      <p className="alert alert-warning" data-testid="webhook-secret-warning">
        {t('builds.webhook.once')}
      </p>
      <p className="small">{t('builds.webhook.url')}</p>
      <div className="secret-row">
        <input className="secret" readOnly value={url} aria-label={t('builds.webhook.url')} data-testid="webhook-url" onFocus={(e) => e.target.select()} />
        <CopyButton value={url} testId="copy-webhook-url" />
      </div>
      <p className="small">{t('builds.webhook.secret')}</p>
      <div className="secret-row">
        <input className="secret" readOnly value={secret} aria-label={t('builds.webhook.secret')} data-testid="webhook-secret" onFocus={(e) => e.target.select()} />
        <CopyButton value={secret} testId="copy-webhook-secret" />
      </div>
      <p className="small muted">{t('builds.webhook.how')}</p>
    </Dialog>
  );
}

function Section({ title, children, testId }: { title: string; children: ReactNode; testId?: string }) {
  return (
    <fieldset className="card form-stack" data-testid={testId}>
      <legend className="card-title">{title}</legend>
      {children}
    </fieldset>
  );
}

function RegistryHints({ registry }: { registry: Registry | undefined }) {
  const { t } = useTranslation();
  if (!registry) return null;
  if (registry.prefixes === null) return <p className="small muted" data-testid="registry-prefixes">{t('builds.editor.prefixAll')}</p>;
  if (registry.prefixes.length === 0)
    return (
      <p className="small warn-text" data-testid="registry-prefixes">
        {t('builds.editor.prefixNone')}
      </p>
    );
  return (
    <p className="small muted" data-testid="registry-prefixes">
      {t('builds.editor.prefixes')} <span className="mono">{registry.prefixes.map((p) => `${p}/…`).join(', ')}</span>
    </p>
  );
}

function BuildArgs({ rows, onChange, errors, disabled }: { rows: Array<[string, string]>; onChange: (rows: Array<[string, string]>) => void; errors: string[]; disabled: boolean }) {
  const { t } = useTranslation();
  const set = (i: number, k: string, v: string) => onChange(rows.map((r, j) => (j === i ? [k, v] : r)));
  return (
    <div className="field" data-testid="build-args">
      <span className="small">{t('builds.field.buildArgs')}</span>
      {rows.length > 0 && (
      <div className="kv-rows">
        {rows.map(([k, v], i) => (
          <div className="kv-row" key={i}>
            <input aria-label={t('builds.editor.argName')} className="mono" value={k} disabled={disabled} data-testid={`build-arg-name-${i}`} onChange={(e) => set(i, e.target.value, v)} />
            <input aria-label={t('builds.editor.argValue')} className="mono" value={v} disabled={disabled} data-testid={`build-arg-value-${i}`} onChange={(e) => set(i, k, e.target.value)} />
            <button type="button" className="btn btn-small" disabled={disabled} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              {t('builds.editor.remove')}
            </button>
          </div>
        ))}
      </div>
      )}
      <div>
        <button type="button" className="btn btn-small" disabled={disabled} data-testid="build-arg-add" onClick={() => onChange([...rows, ['', '']])}>
          {t('builds.editor.addArg')}
        </button>
      </div>
      <FieldErrors id="build-args-errors" messages={errors} />
    </div>
  );
}

export function DefinitionEditorForm({
  initial,
  definition,
  onSaved,
}: {
  initial: DefinitionForm;
  definition?: BuildDefinition;
  onSaved: (row: BuildDefinition, secret: string | null) => void;
}) {
  const { t } = useTranslation();
  const me = useMe();
  const creating = !definition;
  const [f, setForm] = useState<DefinitionForm>(initial);
  const set = (patch: Partial<DefinitionForm>) => setForm((old) => ({ ...old, ...patch }));
  const workspaceId = toInt(f.workspace, 0) || null;
  const workspaces = useWorkspaces({});
  const runnable = (workspaces.data?.results ?? []).filter((w) => me.data?.is_admin === true || (w.my_grants ?? []).includes(BUILDS_RUN));
  const registries = useBuildRegistries();
  const presets = usePresets(f.source === 'preset');
  const maps = useServiceMaps(workspaceId ?? 0);
  const releases = useReleases(workspaceId ? { workspace: workspaceId } : {}, workspaceId !== null);
  const save = useSaveDefinition(definition?.id ?? null);
  const readOnly = definition ? !definition.permissions.change : false;

  // New definitions start in the first workspace the user may build in.
  const firstRunnable = runnable[0]?.id;
  useEffect(() => {
    if (creating && !f.workspace && firstRunnable) setForm((old) => ({ ...old, workspace: String(firstRunnable) }));
  }, [creating, f.workspace, firstRunnable]);

  const mapRows = (maps.data?.results ?? []).filter((m) => m.status !== 'deleting');
  // The clusters the workspace's service maps are on (a build runs in one of them).
  const clusterById = new Map<number, { id: number; name: string; display_name: string }>();
  for (const m of mapRows) clusterById.set(m.cluster.id, m.cluster);
  if (definition && !clusterById.has(definition.cluster.id)) clusterById.set(definition.cluster.id, { ...definition.cluster, display_name: '' });
  const clusters = [...clusterById.values()];
  const clusterMaps = mapRows.filter((m) => String(m.cluster.id) === f.cluster);
  const registryRows = registries.data ?? [];
  const registry = registryRows.find((r) => String(r.id) === f.registry);
  const preset = (presets.data ?? []).find((p) => p.key === f.preset);
  const releaseRows = releases.data?.results ?? [];

  const errors = save.error?.fieldErrors ?? {};
  const errs = (field: string) => fieldErrors(errors, field);
  const others = otherErrors(errors);

  const choosePreset = (key: PresetKey) => {
    const chosen = (presets.data ?? []).find((p) => p.key === key);
    const current = Object.fromEntries(f.build_args);
    const merged = { ...(chosen?.build_args ?? {}), ...current };
    set({ preset: key, build_args: Object.entries(merged) });
  };

  const submit = () => {
    save.mutate(bodyOf(f, creating), {
      onSuccess: (row) => {
        set({ git_password: '', clear_password: false });
        onSaved(row, 'webhook_secret' in row && typeof row.webhook_secret === 'string' && row.webhook_secret ? row.webhook_secret : null);
      },
    });
  };

  const repoPlaceholder = registry?.prefixes?.[0] ? `${registry.prefixes[0]}/${f.name || 'app'}` : f.name || 'team/app';

  return (
    <form
      className="form-stack"
      data-testid="definition-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {save.error && (
        <div className="alert alert-error" role="alert" data-testid="definition-error" data-status={save.error.status} data-code={save.error.code ?? ''}>
          <div>{apiErrorText(t, save.error)}</div>
          {others.length > 0 && (
            <ul className="plain-list" data-testid="definition-other-errors">
              {others.map((m) => (
                <li key={m}>{m}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      {readOnly && <p className="alert alert-warning" data-testid="definition-read-only">{t('builds.editor.readOnly')}</p>}
      <fieldset disabled={readOnly || save.isPending} className="form-stack plain-fieldset">
        <Section title={t('builds.editor.general')} testId="section-general">
          <div className="form-grid">
            <FormField label={t('builds.field.workspace')} errors={errs('workspace')}>
              <select name="workspace" data-testid="field-workspace" disabled={!creating} value={f.workspace} onChange={(e) => set({ workspace: e.target.value, cluster: '', service_map: '', deploy_release: '' })}>
                {!creating && definition && <option value={String(definition.workspace.id)}>{definition.workspace.name}</option>}
                {creating && <option value="">{t('builds.editor.choose')}</option>}
                {creating &&
                  runnable.map((w) => (
                    <option key={w.id} value={String(w.id)}>
                      {w.display_name || w.name}
                    </option>
                  ))}
              </select>
            </FormField>
            <FormField label={t('builds.field.name')} errors={errs('name')}>
              <input name="name" data-testid="field-name" className="mono" autoComplete="off" maxLength={63} value={f.name} onChange={(e) => set({ name: e.target.value })} />
            </FormField>
          </div>
          <FormField label={t('builds.field.description')} errors={errs('description')}>
            <input name="description" data-testid="field-description" autoComplete="off" value={f.description} onChange={(e) => set({ description: e.target.value })} />
          </FormField>
        </Section>

        <Section title={t('builds.editor.source')} testId="section-source">
          <FormField label={t('builds.field.gitUrl')} errors={errs('git_url')}>
            <input name="git_url" data-testid="field-git-url" className="mono" autoComplete="off" placeholder="https://git.example.com/team/app.git" maxLength={500} value={f.git_url} onChange={(e) => set({ git_url: e.target.value })} />
          </FormField>
          <div className="form-grid">
            <FormField label={t('builds.field.gitRef')} errors={errs('git_ref')}>
              <input name="git_ref" data-testid="field-git-ref" className="mono" autoComplete="off" maxLength={255} value={f.git_ref} onChange={(e) => set({ git_ref: e.target.value })} />
            </FormField>
            <FormField label={t('builds.field.gitUsername')} errors={errs('git_username')}>
              <input name="git_username" data-testid="field-git-username" autoComplete="off" maxLength={200} value={f.git_username} onChange={(e) => set({ git_username: e.target.value })} />
            </FormField>
            <FormField label={t('builds.field.gitPassword')} errors={errs('git_password')}>
              <input
                name="git_password"
                type="password"
                data-testid="field-git-password"
                autoComplete="new-password"
                maxLength={1000}
                placeholder={definition?.has_git_password ? t('builds.editor.passwordKeep') : ''}
                value={f.git_password}
                onChange={(e) => set({ git_password: e.target.value, clear_password: false })}
              />
            </FormField>
          </div>
          {definition?.has_git_password && (
            <p className="small" data-testid="git-password-set">
              <span className="badge tone-ok">{t('builds.editor.passwordSet')}</span>{' '}
              <label className="checkbox small">
                <input type="checkbox" data-testid="field-clear-password" checked={f.clear_password} onChange={(e) => set({ clear_password: e.target.checked, git_password: '' })} />
                {t('builds.editor.passwordClear')}
              </label>
            </p>
          )}
          <div className="radio-group" role="radiogroup" aria-label={t('builds.editor.dockerfileFrom')}>
            <label className="radio">
              <input type="radio" name="source" value="dockerfile" data-testid="source-dockerfile" checked={f.source === 'dockerfile'} onChange={() => set({ source: 'dockerfile' })} />
              {t('builds.editor.ownDockerfile')}
            </label>
            <label className="radio">
              <input type="radio" name="source" value="preset" data-testid="source-preset" checked={f.source === 'preset'} onChange={() => set({ source: 'preset' })} />
              {t('builds.editor.usePreset')}
            </label>
          </div>
          <div className="form-grid">
            <FormField label={t('builds.field.contextDir')} errors={errs('context_dir')}>
              <input name="context_dir" data-testid="field-context-dir" className="mono" autoComplete="off" maxLength={255} value={f.context_dir} onChange={(e) => set({ context_dir: e.target.value })} />
            </FormField>
            {f.source === 'dockerfile' ? (
              <FormField label={t('builds.field.dockerfilePath')} errors={errs('dockerfile_path')}>
                <input name="dockerfile_path" data-testid="field-dockerfile-path" className="mono" autoComplete="off" maxLength={255} value={f.dockerfile_path} onChange={(e) => set({ dockerfile_path: e.target.value })} />
              </FormField>
            ) : (
              <FormField label={t('builds.field.preset')} errors={errs('preset')}>
                <select name="preset" data-testid="field-preset" value={f.preset} onChange={(e) => choosePreset(e.target.value as PresetKey)}>
                  <option value="">{t('builds.editor.choose')}</option>
                  {(presets.data ?? []).map((p) => (
                    <option key={p.key} value={p.key}>
                      {p.name}
                    </option>
                  ))}
                </select>
              </FormField>
            )}
          </div>
          {f.source === 'preset' && presets.isError && <ErrorState error={presets.error} onRetry={() => void presets.refetch()} />}
          {f.source === 'preset' && preset && (
            <div className="field">
              <span className="small">{t('builds.editor.template')}</span>
              <pre className="code-block template-block" data-testid="preset-template">
                {preset.dockerfile}
              </pre>
            </div>
          )}
          <BuildArgs rows={f.build_args} onChange={(rows) => set({ build_args: rows })} errors={errs('build_args')} disabled={readOnly} />
        </Section>

        <Section title={t('builds.editor.target')} testId="section-target">
          <div className="form-grid">
            <FormField label={t('builds.field.registry')} errors={errs('registry')}>
              <select name="registry" data-testid="field-registry" value={f.registry} onChange={(e) => set({ registry: e.target.value })}>
                <option value="">{t('builds.editor.choose')}</option>
                {registryRows.map((r) => (
                  <option key={r.id} value={String(r.id)}>
                    {r.name} ({r.host})
                  </option>
                ))}
              </select>
            </FormField>
            <FormField label={t('builds.field.repository')} errors={errs('repository')}>
              <input name="repository" data-testid="field-repository" className="mono" autoComplete="off" maxLength={255} placeholder={repoPlaceholder} value={f.repository} onChange={(e) => set({ repository: e.target.value })} />
            </FormField>
          </div>
          {registries.isError && <ErrorState error={registries.error} onRetry={() => void registries.refetch()} />}
          {registries.data && registryRows.length === 0 && <p className="small warn-text" data-testid="no-registries">{t('builds.editor.noRegistries')}</p>}
          <RegistryHints registry={registry} />
          {registry && f.repository && <p className="small muted mono" data-testid="image-preview">{`${registry.host}/${f.repository.trim()}`}</p>}
          <div className="form-grid">
            <FormField label={t('builds.field.tagScheme')} errors={errs('tag_scheme')}>
              <select name="tag_scheme" data-testid="field-tag-scheme" value={f.tag_scheme} onChange={(e) => set({ tag_scheme: e.target.value as TagScheme })}>
                <option value="version-build">{t('builds.editor.tagVersionBuild')}</option>
                <option value="git-sha">{t('builds.editor.tagGitSha')}</option>
              </select>
            </FormField>
            {f.tag_scheme === 'version-build' && (
              <FormField label={t('builds.field.version')} errors={errs('version')}>
                <input name="version" data-testid="field-version" className="mono" autoComplete="off" maxLength={64} value={f.version} onChange={(e) => set({ version: e.target.value })} />
              </FormField>
            )}
          </div>
          {f.tag_scheme === 'version-build' && (
            <p className="small muted" data-testid="tag-example">
              {t('builds.editor.tagExample', { tag: `${f.version.trim() || '1.0'}.B${String(definition?.next_build_number ?? 1).padStart(6, '0')}` })}
            </p>
          )}
        </Section>

        <Section title={t('builds.editor.where')} testId="section-where">
          <div className="form-grid">
            <FormField label={t('builds.field.cluster')} errors={errs('cluster')}>
              <select name="cluster" data-testid="field-cluster" value={f.cluster} onChange={(e) => set({ cluster: e.target.value, service_map: '' })}>
                <option value="">{t('builds.editor.choose')}</option>
                {clusters.map((c) => (
                  <option key={c.id} value={String(c.id)}>
                    {c.display_name || c.name}
                  </option>
                ))}
              </select>
            </FormField>
            <FormField label={t('builds.field.serviceMap')} errors={errs('service_map')}>
              <select name="service_map" data-testid="field-service-map" value={f.service_map} onChange={(e) => set({ service_map: e.target.value })}>
                <option value="">{t('builds.editor.choose')}</option>
                {clusterMaps.map((m) => (
                  <option key={m.id} value={String(m.id)}>
                    {m.namespace}
                    {m.display_name ? ` (${m.display_name})` : ''}
                  </option>
                ))}
                {definition && f.service_map === String(definition.service_map.id) && !clusterMaps.some((m) => m.id === definition.service_map.id) && (
                  <option value={String(definition.service_map.id)}>{definition.service_map.namespace}</option>
                )}
              </select>
            </FormField>
            <FormField label={t('builds.field.builder')} errors={errs('builder')}>
              <select name="builder" data-testid="field-builder" value={f.builder} onChange={(e) => set({ builder: e.target.value as Builder })}>
                <option value="buildkit">{t('builds.editor.buildkit')}</option>
                <option value="buildah">{t('builds.editor.buildah')}</option>
              </select>
            </FormField>
          </div>
          {workspaceId && maps.data && mapRows.length === 0 && <p className="small warn-text" data-testid="no-service-maps">{t('builds.editor.noServiceMaps')}</p>}
          <div className="form-grid">
            <FormField label={t('builds.field.cpuRequest')} errors={errs('resources.requests.cpu')}>
              <input name="cpu_request" data-testid="field-cpu-request" className="mono" placeholder="500m" maxLength={32} value={f.cpu_request} onChange={(e) => set({ cpu_request: e.target.value })} />
            </FormField>
            <FormField label={t('builds.field.memoryRequest')} errors={errs('resources.requests.memory')}>
              <input name="memory_request" data-testid="field-memory-request" className="mono" placeholder="1Gi" maxLength={32} value={f.memory_request} onChange={(e) => set({ memory_request: e.target.value })} />
            </FormField>
            <FormField label={t('builds.field.cpuLimit')} errors={errs('resources.limits.cpu')}>
              <input name="cpu_limit" data-testid="field-cpu-limit" className="mono" placeholder="2" maxLength={32} value={f.cpu_limit} onChange={(e) => set({ cpu_limit: e.target.value })} />
            </FormField>
            <FormField label={t('builds.field.memoryLimit')} errors={errs('resources.limits.memory')}>
              <input name="memory_limit" data-testid="field-memory-limit" className="mono" placeholder="4Gi" maxLength={32} value={f.memory_limit} onChange={(e) => set({ memory_limit: e.target.value })} />
            </FormField>
          </div>
          {(() => {
            const whole = errors.resources ?? [];
            return whole.length > 0 ? <FieldErrors id="resources-errors" messages={whole} /> : null;
          })()}
          <div className="form-grid">
            <FormField label={t('builds.field.cacheSize')} errors={errs('cache_size')}>
              <input name="cache_size" data-testid="field-cache-size" className="mono" maxLength={32} value={f.cache_size} onChange={(e) => set({ cache_size: e.target.value })} />
            </FormField>
            <FormField label={t('builds.field.timeout')} errors={errs('timeout_seconds')}>
              <input name="timeout_seconds" type="number" min={60} data-testid="field-timeout" value={f.timeout_seconds} onChange={(e) => set({ timeout_seconds: e.target.value })} />
            </FormField>
            <FormField label={t('builds.field.keepRuns')} errors={errs('keep_runs')}>
              <input name="keep_runs" type="number" min={1} data-testid="field-keep-runs" value={f.keep_runs} onChange={(e) => set({ keep_runs: e.target.value })} />
            </FormField>
          </div>
        </Section>

        <Section title={t('builds.editor.steps')} testId="section-steps">
          <label className="checkbox">
            <input type="checkbox" name="scan" data-testid="field-scan" checked={f.scan} onChange={(e) => set({ scan: e.target.checked })} />
            {t('builds.field.scan')}
          </label>
          <FieldErrors id="scan-errors" messages={errs('scan')} />
          {workspaceId && (
            <p className="small muted">
              {t('builds.editor.policyHint')}{' '}
              <Link to={`/registries/policy?workspace=${workspaceId}`} data-testid="scan-policy-link">
                {t('builds.editor.policyLink')}
              </Link>
            </p>
          )}
          <div className="form-grid">
            <FormField label={t('builds.field.deployRelease')} errors={errs('deploy_release')}>
              <select name="deploy_release" data-testid="field-deploy-release" value={f.deploy_release} onChange={(e) => set({ deploy_release: e.target.value })}>
                <option value="">{t('builds.editor.noDeploy')}</option>
                {releaseRows.map((r) => (
                  <option key={r.id} value={String(r.id)}>
                    {r.name} · {r.service_map.cluster.name}/{r.service_map.namespace}
                  </option>
                ))}
                {definition?.deploy_release && !releaseRows.some((r) => r.id === definition.deploy_release?.id) && (
                  <option value={String(definition.deploy_release.id)}>{definition.deploy_release.name}</option>
                )}
              </select>
            </FormField>
            {f.deploy_release && (
              <>
                <FormField label={t('builds.field.imagePath')} errors={errs('deploy_image_path')}>
                  <input name="deploy_image_path" data-testid="field-image-path" className="mono" maxLength={200} value={f.deploy_image_path} onChange={(e) => set({ deploy_image_path: e.target.value })} />
                </FormField>
                <FormField label={t('builds.field.imageFormat')} errors={errs('deploy_image_format')}>
                  <select name="deploy_image_format" data-testid="field-image-format" value={f.deploy_image_format} onChange={(e) => set({ deploy_image_format: e.target.value as ImageFormat })}>
                    <option value="split">{t('builds.editor.formatSplit', { path: f.deploy_image_path || 'image' })}</option>
                    <option value="reference">{t('builds.editor.formatReference', { path: f.deploy_image_path || 'image' })}</option>
                  </select>
                </FormField>
              </>
            )}
          </div>
          {f.deploy_release && <p className="small muted">{t('builds.editor.deployHint')}</p>}
        </Section>

        <Section title={t('builds.editor.triggers')} testId="section-triggers">
          <p className="small muted">{t('builds.editor.manualHint')}</p>
          <label className="checkbox">
            <input type="checkbox" name="webhook_enabled" data-testid="field-webhook" checked={f.webhook_enabled} onChange={(e) => set({ webhook_enabled: e.target.checked })} />
            {t('builds.field.webhook')}
          </label>
          {f.webhook_enabled && (
            <FormField label={t('builds.field.triggerRefs')} errors={errs('trigger_refs')}>
              <textarea name="trigger_refs" data-testid="field-trigger-refs" className="mono" rows={3} placeholder={'refs/heads/main\nrefs/tags/v*'} value={f.trigger_refs} onChange={(e) => set({ trigger_refs: e.target.value })} />
            </FormField>
          )}
          {f.webhook_enabled && definition?.webhook_url && (
            <p className="small" data-testid="webhook-url-line">
              {t('builds.webhook.url')}: <span className="mono wrap-any">{definition.webhook_url}</span>
            </p>
          )}
        </Section>
      </fieldset>
      {!readOnly && (
        <div className="wizard-buttons">
          <span className="spacer" />
          <button type="submit" className="btn btn-primary" data-testid="definition-save" disabled={save.isPending}>
            {save.isPending ? t('common.saving') : creating ? t('builds.editor.create') : t('common.save')}
          </button>
        </div>
      )}
    </form>
  );
}

function RunHistory({ definition }: { definition: BuildDefinition }) {
  const { t, i18n } = useTranslation();
  const now = useNow(30_000);
  const runs = useRuns({ definition: definition.id });
  const rows = runs.data?.results ?? [];
  return (
    <section className="card" data-testid="run-history">
      <h2 className="card-title">{t('builds.editor.history')}</h2>
      {runs.isPending && <Loading />}
      {runs.isError && <ErrorState error={runs.error} onRetry={() => void runs.refetch()} />}
      {runs.data && rows.length === 0 && <p className="muted small">{t('builds.editor.noRuns')}</p>}
      {rows.length > 0 && (
        <table className="table table-dense">
          <thead>
            <tr>
              <th scope="col" className="num">#</th>
              <th scope="col">{t('builds.col.status')}</th>
              <th scope="col">{t('builds.col.image')}</th>
              <th scope="col">{t('builds.run.digest')}</th>
              <th scope="col" className="num">{t('builds.col.size')}</th>
              <th scope="col">{t('builds.run.trigger')}</th>
              <th scope="col">{t('builds.col.lastBuild')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-testid={`history-run-${r.number}`}>
                <td className="num">
                  <Link to={`/builds/runs/${r.id}`}>{r.number}</Link>
                </td>
                <td>
                  <RunStatusBadge run={r} />
                </td>
                <td className="mono small wrap-any">{imageRef(r) || '—'}</td>
                <td className="mono small">{shortDigest(r.image_digest) || '—'}</td>
                <td className="num small">{r.image_size ? bytesHuman(r.image_size) : '—'}</td>
                <td className="small">{t(`builds.trigger.${r.trigger}`)}</td>
                <td className="small nowrap">{relativeTime(r.created, now, i18n.language)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function NewDefinitionPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  const [initial] = useState(() => emptyForm(params.get('workspace') ?? ''));
  return (
    <section className="page page-wide" data-testid="definition-new-page">
      <p className="muted small breadcrumbs">
        <Link to="/builds">{t('builds.title')}</Link> / {t('builds.editor.newTitle')}
      </p>
      <header className="page-header">
        <h1>{t('builds.editor.newTitle')}</h1>
        <p className="muted">{t('builds.editor.intro')}</p>
      </header>
      <DefinitionEditorForm
        initial={initial}
        onSaved={(row, created) => {
          if (created) setSecret({ url: row.webhook_url, secret: created });
          else navigate(`/builds?workspace=${row.workspace.id}`);
        }}
      />
      {secret && <WebhookSecretDialog url={secret.url} secret={secret.secret} onClose={() => navigate('/builds')} />}
    </section>
  );
}

export function EditDefinitionPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const id = Number(useParams().id);
  const definition = useDefinition(id);
  const d = definition.data;
  useBuildsLive(d?.workspace.id);
  const run = useRunDefinition();
  const rotate = useRotateWebhookSecret(id);
  const remove = useDeleteDefinition(id);
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  const [saved, setSaved] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [confirmRotate, setConfirmRotate] = useState(false);
  const actionError: ApiError | null = run.error ?? rotate.error ?? null;
  return (
    <section className="page page-wide" data-testid="definition-edit-page">
      <p className="muted small breadcrumbs">
        <Link to="/builds">{t('builds.title')}</Link> / {d?.name ?? id}
      </p>
      {definition.isPending && <Loading />}
      {definition.isError && <ErrorState error={definition.error} onRetry={() => void definition.refetch()} />}
      {d && (
        <>
          <header className="page-header page-header-row">
            <div>
              <h1 className="mono">{d.name}</h1>
              <p className="muted small">
                {d.workspace.name} · <span className="mono">{d.image}</span>
                {d.last_run && (
                  <>
                    {' '}
                    · <Link to={`/builds/runs/${d.last_run.id}`}><RunStatusBadge run={d.last_run} testId="definition-last-status" /></Link>
                  </>
                )}
              </p>
            </div>
            <div className="header-actions">
              {d.permissions.run && (
                <button
                  type="button"
                  className="btn btn-primary"
                  data-testid="definition-run"
                  disabled={run.isPending}
                  onClick={() => run.mutate({ id: d.id }, { onSuccess: (row) => navigate(`/builds/runs/${row.id}`) })}
                >
                  {run.isPending ? t('builds.list.starting') : t('builds.list.run')}
                </button>
              )}
              {d.permissions.change && d.webhook_enabled && (
                <button type="button" className="btn" data-testid="definition-rotate" disabled={rotate.isPending} onClick={() => setConfirmRotate(true)}>
                  {t('builds.webhook.rotate')}
                </button>
              )}
              {d.permissions.change && (
                <button type="button" className="btn btn-danger-outline" data-testid="definition-delete" onClick={() => setDeleting(true)}>
                  {t('builds.editor.delete')}
                </button>
              )}
            </div>
          </header>
          {actionError && (
            <p className="alert alert-error" role="alert" data-testid="definition-action-error">
              {apiErrorText(t, actionError)}
            </p>
          )}
          {saved && (
            <p className="alert alert-success" role="status" data-testid="definition-saved">
              {t('builds.editor.saved')}
            </p>
          )}
          <RunHistory definition={d} />
          <DefinitionEditorForm
            key={d.id}
            initial={formOf(d)}
            definition={d}
            onSaved={(row, created) => {
              setSaved(true);
              if (created) setSecret({ url: row.webhook_url, secret: created });
            }}
          />
          {confirmRotate && (
            <Dialog
              title={t('builds.webhook.rotate')}
              onClose={() => setConfirmRotate(false)}
              testId="rotate-dialog"
              footer={
                <>
                  <button type="button" className="btn" onClick={() => setConfirmRotate(false)}>
                    {t('common.cancel')}
                  </button>
                  <button
                    type="button"
                    className="btn btn-primary"
                    data-testid="rotate-confirm"
                    disabled={rotate.isPending}
                    onClick={() =>
                      rotate.mutate(undefined, {
                        onSuccess: (answer) => {
                          setConfirmRotate(false);
                          setSecret({ url: d.webhook_url, secret: answer.webhook_secret });
                        },
                      })
                    }
                  >
                    {t('builds.webhook.rotate')}
                  </button>
                </>
              }
            >
              <p>{t('builds.webhook.rotateWarning')}</p>
            </Dialog>
          )}
          {secret && <WebhookSecretDialog url={secret.url} secret={secret.secret} onClose={() => setSecret(null)} />}
          {deleting && (
            <TypeToConfirmDialog
              title={t('builds.editor.deleteTitle')}
              message={t('builds.editor.deleteMessage', { name: d.name })}
              expected={d.name}
              confirmLabel={t('builds.editor.delete')}
              busyLabel={t('builds.editor.deleting')}
              busy={remove.isPending}
              error={remove.error}
              onConfirm={() => remove.mutate(undefined, { onSuccess: () => navigate('/builds', { state: { notice: t('builds.editor.deleted', { name: d.name }) } }) })}
              onCancel={() => setDeleting(false)}
            />
          )}
        </>
      )}
    </section>
  );
}
