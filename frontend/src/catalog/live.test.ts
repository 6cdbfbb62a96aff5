import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import { applyRevisionUpdate } from './live';
import { revisionKey } from './queries';
import type { RevisionDetail, RevisionEvent } from './types';

describe('revision.updated', () => {
  it('replaces the message code with the message, so no stale code translates a new message', () => {
    const queryClient = new QueryClient();
    const old = { number: 2, status: 'deploying', progress: {}, message: 'Applying revision 2.', message_code: 'release_applying', message_params: { number: 2 } };
    queryClient.setQueryData(revisionKey(7, 2), old as unknown as RevisionDetail);
    const event = { release: 7, number: 2, status: 'failed', progress: {}, message: 'Raw text without a code.' } as RevisionEvent;
    applyRevisionUpdate(queryClient, event);
    expect(queryClient.getQueryData(revisionKey(7, 2))).toMatchObject({ status: 'failed', message: 'Raw text without a code.', message_code: '', message_params: {} });
    applyRevisionUpdate(queryClient, { ...event, message: 'Revision 2 failed: boom', message_code: 'revision_failed', message_params: { number: 2, message: 'boom' } } as RevisionEvent);
    expect(queryClient.getQueryData(revisionKey(7, 2))).toMatchObject({ message_code: 'revision_failed', message_params: { number: 2, message: 'boom' } });
  });
});
