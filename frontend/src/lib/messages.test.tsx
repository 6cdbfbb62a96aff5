import { cleanup, render, screen } from '@testing-library/react';
import i18n from 'i18next';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors';
import { ErrorState } from '../components/ErrorState';
import { en, ko } from '../i18n/resources';
import { MESSAGE_CODES } from './messageCodes';
import { FormError } from '../workspaces/common';
import { apiErrorText, messageText, serverText } from './messages';

const placeholders = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1] ?? '');
const enCodes: Record<string, string> = en.codes;
const koCodes: Record<string, string> = ko.codes;

const koT = () => i18n.getFixedT('ko');
const enT = () => i18n.getFixedT('en');

afterEach(async () => {
  cleanup(); // before the language changes back, so no unmounted display re-renders
  await i18n.changeLanguage('en');
});

describe('message codes', () => {
  it('every code the server sends has a translation in English and Korean', () => {
    const missing = Object.keys(MESSAGE_CODES).filter((code) => !enCodes[code] || !koCodes[code]);
    expect(missing).toEqual([]);
  });

  it('a translation uses only the params its code carries', () => {
    for (const [code, params] of Object.entries(MESSAGE_CODES)) {
      const extra = placeholders(enCodes[code] ?? '').filter((p) => !params.includes(p));
      expect(extra, code).toEqual([]);
    }
  });

  it('Korean translations are Korean (unless the English is only a placeholder)', () => {
    for (const code of Object.keys(MESSAGE_CODES)) {
      if (!(enCodes[code] ?? '').replace(/\{\{\w+\}\}/g, '').trim()) continue;
      expect(koCodes[code], code).toMatch(/[가-힣]/);
    }
  });
});

describe('serverText', () => {
  it('translates a known code, filling its params', () => {
    expect(serverText(koT(), {
      code: 'grant_missing',
      params: { workspace: 'team-a', grant: 'workloads.deploy' },
      text: 'Your role in workspace team-a does not grant workloads.deploy; ask a manager of the workspace.',
    })).toBe('워크스페이스 team-a에서 내 역할에는 workloads.deploy 권한이 없습니다. 워크스페이스 관리자에게 요청하세요.');
  });

  it('falls back to the English text for an unknown code, no code, or a malformed one', () => {
    const t = koT();
    expect(serverText(t, { code: 'no_such_code_yet', params: { a: 1 }, text: 'Something new happened.' })).toBe('Something new happened.');
    expect(serverText(t, { code: '', text: 'Plain message.' })).toBe('Plain message.');
    expect(serverText(t, { code: null, text: 'Plain message.' })).toBe('Plain message.');
    expect(serverText(t, { code: 'codes.invalid', text: 'Dotted.' })).toBe('Dotted.');
    expect(serverText(t, { text: null })).toBe('');
  });

  it('falls back to the English text when a param its translation needs is missing or null', () => {
    expect(serverText(koT(), { code: 'grant_missing', params: { workspace: 'team-a' }, text: 'The English.' })).toBe('The English.');
    const nodesUnreadable = { version: 'v1.32.4', nodes: null, missing: [], namespaces: [] };
    expect(serverText(koT(), { code: 'cluster_connected', params: nodesUnreadable, text: 'Connected: Kubernetes v1.32.4, nodes not readable.' }))
      .toBe('Connected: Kubernetes v1.32.4, nodes not readable.');
  });

  it('joins list params', () => {
    const params = { version: 'v1.32.4', nodes: 3, missing: ['list pods', 'watch pods'], namespaces: [] };
    expect(serverText(koT(), { code: 'cluster_connected_partial', params, text: 'Connected: …' }))
      .toBe('연결됨: Kubernetes v1.32.4, 노드 3개. 부족한 권한: list pods, watch pods.');
  });

  it('shows the server sentence in English, the canonical wording', () => {
    const text = 'Invalid input: name: Ensure this field has no more than 63 characters.';
    expect(serverText(enT(), { code: 'max_length', params: { field: 'name' }, text })).toBe(text);
  });

  it('keeps the specifics of a code without params after the translation', () => {
    expect(serverText(koT(), { code: 'conflict', text: 'Release web is being deleted.' }))
      .toBe('현재 상태와 충돌하여 처리할 수 없습니다 (Release web is being deleted.)');
    expect(serverText(koT(), { code: 'not_found', text: 'Not found.' })).toBe('찾을 수 없습니다.');
  });

  it('treats params as data, not as i18next options', () => {
    expect(serverText(koT(), { code: 'admin_required', params: { what: 'register clusters', lng: 'en', context: 'x' }, text: 'x' }))
      .toBe('시스템 관리자만 할 수 있는 작업입니다(register clusters).');
  });

  it('follows the current language', async () => {
    await i18n.changeLanguage('ko');
    expect(serverText(i18n.t, { code: 'not_authenticated', text: 'Authentication credentials were not provided.' })).toBe('로그인이 필요합니다.');
  });
});

describe('messageText', () => {
  it('reads a row with or without its code fields', () => {
    const t = koT();
    expect(messageText(t, { message: 'Old row.' })).toBe('Old row.');
    expect(messageText(t, { message: 'Wrong username or password.', message_code: 'invalid_credentials', message_params: {} }))
      .toBe('사용자 이름 또는 비밀번호가 올바르지 않습니다.');
    expect(messageText(t, { message: 'Wrong username or password.', message_code: 'invalid_credentials', message_params: 'not an object' }))
      .toBe('사용자 이름 또는 비밀번호가 올바르지 않습니다.');
    expect(messageText(t, null)).toBe('');
  });
});

describe('apiErrorText', () => {
  it('translates an error body by code, with the field DRF names first', () => {
    const error = new ApiError({
      status: 400,
      detail: 'Invalid input: name: This field is required.',
      code: 'required',
      fieldErrors: { name: ['This field is required.'], url: ['This field is required.'] },
    });
    expect(apiErrorText(koT(), error)).toBe('name: 필수 항목입니다.');
    expect(apiErrorText(enT(), error)).toBe('Invalid input: name: This field is required.');
  });

  it('fills seconds from Retry-After', () => {
    const error = new ApiError({ status: 429, detail: 'Request was throttled.', code: 'account_locked', retryAfter: 30 });
    expect(apiErrorText(koT(), error)).toBe('로그인 실패가 너무 많아 계정이 잠겼습니다. 30초 후에 다시 시도하세요.');
  });

  it('uses the body params', () => {
    const error = new ApiError({ status: 403, detail: 'Only system admins may delete clusters.', code: 'admin_required', params: { what: 'delete clusters' } });
    expect(apiErrorText(koT(), error)).toBe('시스템 관리자만 할 수 있는 작업입니다(delete clusters).');
  });

  it('shows the detail of an unknown code and the message of other errors', () => {
    expect(apiErrorText(koT(), new ApiError({ status: 409, detail: 'Brand new conflict.', code: 'brand_new' }))).toBe('Brand new conflict.');
    expect(apiErrorText(koT(), new ApiError({ status: 500, detail: 'HTTP 500' }))).toBe('HTTP 500');
    expect(apiErrorText(koT(), new Error('Failed to fetch'))).toBe('Failed to fetch');
    expect(apiErrorText(koT(), 'odd')).toBe('odd');
  });
});

describe('the common error displays', () => {
  it('show an API error in Korean by its code', async () => {
    await i18n.changeLanguage('ko');
    const error = new ApiError({
      status: 403,
      detail: 'Your role in workspace team-a does not grant workloads.deploy; ask a manager of the workspace.',
      code: 'grant_missing',
      params: { workspace: 'team-a', grant: 'workloads.deploy' },
    });
    const { unmount } = render(<FormError error={error} fields={[]} testId="form-error" />);
    expect(screen.getByTestId('form-error')).toHaveTextContent('워크스페이스 team-a에서 내 역할에는 workloads.deploy 권한이 없습니다.');
    unmount();
    render(<ErrorState error={new ApiError({ status: 404, detail: 'Not found.', code: 'not_found' })} />);
    expect(screen.getByRole('alert')).toHaveTextContent('찾을 수 없습니다.');
  });
});
