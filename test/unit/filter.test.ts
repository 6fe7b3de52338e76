import { describe, expect, it } from 'vitest';
import { streamFilterPatterns } from '../../lib/tables.ts';
import { matchesAny } from '../../local/filter.ts';

const record = (eventName: string, newImage?: Record<string, unknown>) => ({ eventName, dynamodb: { NewImage: newImage } });

describe('stream filter (same patterns as the event source mapping)', () => {
  it('passes visible changes of user state items', () => {
    expect(matchesAny(streamFilterPatterns, record('MODIFY', { sk: { S: 'STATE' }, version: { N: '2' } }))).toBe(true);
    expect(matchesAny(streamFilterPatterns, record('INSERT', { sk: { S: 'STATE' } }))).toBe(true);
  });
  it('drops quiet writes (heartbeats), other items and deletions', () => {
    expect(matchesAny(streamFilterPatterns, record('MODIFY', { sk: { S: 'STATE' }, quiet: { BOOL: true } }))).toBe(false);
    expect(matchesAny(streamFilterPatterns, record('MODIFY', { sk: { S: 'OTHER' } }))).toBe(false);
    expect(matchesAny(streamFilterPatterns, record('REMOVE'))).toBe(false);
  });
});
