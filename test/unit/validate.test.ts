import { describe, expect, it } from 'vitest';
import * as schemas from '../../functions/core/schemas.ts';
import { decodeCursor, encodeCursor, patchPresenceBody, putDeviceBody, subscribeBody, wsSchemas } from '../../functions/core/schemas.ts';
import { validate } from '../../functions/core/validate.ts';

describe('request schemas', () => {
  it('accept a full PATCH and reject an empty one', () => {
    expect(
      validate(patchPresenceBody, {
        availability: 'busy',
        availabilityUntil: '2026-11-22T11:00:00.000Z',
        customStatus: 'In a meeting',
        activity: { game: 'chess', table: 7 },
        visibility: 'friends',
      }),
    ).toBeNull();
    expect(validate(patchPresenceBody, {})).toMatch(/at least 1/);
  });

  it.each([
    [{ availability: 'online' }, /availability must be one of/],
    [{ customStatus: 'x'.repeat(65) }, /at most 64 characters/],
    [{ customStatus: '🙂'.repeat(64) }, null],
    [{ activity: { blob: 'x'.repeat(1100) } }, /at most 1024 bytes/],
    [{ activity: [1, 2] }, /must be object or null/],
    [{ availabilityUntil: 'tomorrow' }, /ISO-8601/],
    [{ visibility: 'everyone', extra: 1 }, /extra is not allowed/],
  ])('PATCH %o → %s', (body, expected) => {
    const problem = validate(patchPresenceBody, body);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });

  it('refuses activity that would not round-trip: too deep, non-finite numbers', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 20; i++) deep = { a: deep };
    expect(validate(patchPresenceBody, { activity: deep })).toMatch(/nested at most 16/);
    expect(validate(patchPresenceBody, { activity: { x: Number.POSITIVE_INFINITY } })).toMatch(/finite/);
    let huge: unknown[] = [];
    for (let i = 0; i < 20_000; i++) huge = [huge];
    expect(validate(patchPresenceBody, { activity: { x: huge } })).toMatch(/nested/); // no stack overflow
    expect(validate(patchPresenceBody, { activity: { '': 1, constructor: { x: 1e-200 } } })).toBeNull(); // stored as JSON text
  });

  it('refuses device names that collide with object internals, and inherited schema properties', () => {
    const { device } = schemas;
    expect(validate(device, '__proto__')).toMatch(/invalid characters/);
    expect(validate(device, 'constructor')).toMatch(/invalid characters/);
    expect(validate(device, 'constructor_2')).toBeNull();
    expect(validate(putDeviceBody, { status: 'online', constructor: 1 })).toMatch(/constructor is not allowed/);
    expect(validate(putDeviceBody, { status: 'online', toString: 1 })).toMatch(/toString is not allowed/);
  });

  it('limits ext to 64 bytes (not characters)', () => {
    expect(validate(putDeviceBody, { status: 'online', ext: 'é'.repeat(32) })).toBeNull();
    expect(validate(putDeviceBody, { status: 'online', ext: 'é'.repeat(33) })).toMatch(/64 bytes/);
  });

  it('checks userIds: pattern, count ≤ 100, no repeats, expiresIn range', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `u${i}`);
    expect(validate(subscribeBody, { userIds: ids(100), expiresIn: 2_592_000 })).toBeNull();
    expect(validate(subscribeBody, { userIds: ids(101) })).toMatch(/at most 100/);
    expect(validate(subscribeBody, { userIds: ['a', 'a'] })).toMatch(/repeat/);
    expect(validate(subscribeBody, { userIds: ['bad id'] })).toMatch(/invalid characters/);
    expect(validate(subscribeBody, { userIds: ['USER#x'] })).toMatch(/invalid characters/);
    expect(validate(subscribeBody, { userIds: ['a'], expiresIn: 0 })).toMatch(/≥ 1/);
    expect(validate(subscribeBody, { userIds: ['a'], expiresIn: 2_592_001 })).toMatch(/≤ 2592000/);
    expect(validate(subscribeBody, { userIds: ['a'], expiresIn: 1.5 })).toMatch(/integer/);
  });

  it('WebSocket messages allow action and requestId only besides their fields', () => {
    expect(validate(wsSchemas.getPresence as never, { action: 'getPresence', requestId: 'r1', userIds: ['a'] })).toBeNull();
    expect(validate(wsSchemas.getPresence as never, { action: 'getPresence', userIds: ['a'], x: 1 })).toMatch(/x is not allowed/);
  });

  it('round-trips list cursors and refuses foreign ones', () => {
    expect(decodeCursor(encodeCursor('bob.smith@x'))).toBe('bob.smith@x');
    expect(decodeCursor('!!')).toBeUndefined();
    expect(decodeCursor(Buffer.from('USER#x/../', 'utf8').toString('base64url'))).toBeUndefined();
  });
});
