import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../functions/core/schemas.ts';
import { validate } from '../../functions/core/validate.ts';
import {
  batchPresenceQuery,
  device,
  patchPresenceBody,
  putDeviceBody,
  subscribeBody,
  sysInvokeAddFriend,
  sysProfileBody,
  userId,
  wsGetPresence,
  wsListen,
} from '../../functions/core/validators.generated.js';

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

  it.each([
    [{ name: 'Ada Lovelace', pic: 'https://cdn.example.com/u/ada.png?s=64&v=2#x' }, null],
    [{}, null],
    [{ name: null, pic: null }, null],
    [{ pic: 'https://[::1]/x.png' }, /pic has invalid characters/], // host names and IPv4 only
    [{ name: 'é'.repeat(64) }, null],
    [{ name: 'x'.repeat(65) }, /name must be at most 64 characters/],
    [{ name: '\u0001'.repeat(64) }, /name must be at most 256 bytes/],
    [{ name: '' }, /name must be at least 1 character/],
    [{ pic: 'http://cdn.example.com/a.png' }, /pic has invalid characters or format/],
    [{ pic: 'javascript:alert(1)' }, /pic has invalid characters/],
    [{ pic: 'https://user:pass@cdn.example.com/a.png' }, /pic has invalid characters/],
    [{ pic: 'https://cdn.example.com/a b.png' }, /pic has invalid characters/],
    [{ pic: 'https://cdn.example.com/"><script>' }, /pic has invalid characters/],
    [{ pic: `https://cdn.example.com/${'a'.repeat(512 - 24)}` }, null],
    [{ pic: `https://cdn.example.com/${'a'.repeat(512 - 23)}` }, /pic must be at most 512 characters/],
    [{ pic: 'https://cdn.example.com/ä.png' }, /pic has invalid characters/],
    [{ name: 'x', nick: 'y' }, /nick is not allowed/],
  ])('sys profile %o → %s', (body, expected) => {
    const problem = validate(sysProfileBody, body);
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
    expect(validate(wsGetPresence, { action: 'getPresence', requestId: 'r1', userIds: ['a'] })).toBeNull();
    expect(validate(wsGetPresence, { action: 'getPresence', userIds: ['a'], x: 1 })).toMatch(/x is not allowed/);
  });

  it('round-trips list cursors and refuses foreign ones', () => {
    expect(decodeCursor(encodeCursor('bob.smith@x'))).toBe('bob.smith@x');
    expect(decodeCursor('!!')).toBeUndefined();
    expect(decodeCursor(Buffer.from('USER#x/../', 'utf8').toString('base64url'))).toBeUndefined();
  });
});

describe('validation messages: one per kind of problem, naming the field', () => {
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 16; i++) deep = { a: deep };
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `u${i}`);
  it.each([
    ['type', patchPresenceBody, [1, 2], 'body must be object'],
    ['type (a union)', patchPresenceBody, { activity: [1, 2] }, 'body.activity must be object or null'],
    ['type (integer)', subscribeBody, { userIds: ['a'], expiresIn: 1.5 }, 'body.expiresIn must be integer'],
    ['required', putDeviceBody, { ext: 'x' }, 'body.status is required'],
    ['additionalProperties', putDeviceBody, { status: 'online', constructor: 1 }, 'body.constructor is not allowed'],
    ['minProperties', patchPresenceBody, {}, 'body must have at least 1 field'],
    ['enum', patchPresenceBody, { availability: 'online' }, 'body.availability must be one of auto, away, busy, dnd'],
    ['const', wsListen, { action: 'listen', friends: false }, 'body.friends must be true'],
    ['minLength', batchPresenceQuery, { userIds: '' }, 'body.userIds must be at least 1 character'],
    ['maxLength', patchPresenceBody, { customStatus: 'x'.repeat(65) }, 'body.customStatus must be at most 64 characters'],
    ['pattern', subscribeBody, { userIds: ['a', 'bad id'] }, 'body.userIds[1] has invalid characters or format'],
    ['format', patchPresenceBody, { availabilityUntil: '2026-11-22 11:00' }, 'body.availabilityUntil must be an ISO-8601 UTC timestamp'],
    ['minimum', subscribeBody, { userIds: ['a'], expiresIn: 0 }, 'body.expiresIn must be ≥ 1'],
    ['maximum', subscribeBody, { userIds: ['a'], expiresIn: 2_592_001 }, 'body.expiresIn must be ≤ 2592000'],
    ['minItems', subscribeBody, { userIds: [] }, 'body.userIds must have at least 1 item'],
    ['maxItems', subscribeBody, { userIds: ids(101) }, 'body.userIds must have at most 100 items'],
    ['uniqueItems', subscribeBody, { userIds: ['a', 'b', 'a'] }, 'body.userIds must not repeat items: body.userIds[0] and body.userIds[2] are the same'],
    ['maxBytes (string)', putDeviceBody, { status: 'online', ext: '"'.repeat(40) }, 'body.ext must be at most 64 bytes'],
    ['maxBytes (object)', patchPresenceBody, { activity: { blob: 'x'.repeat(1100) } }, 'body.activity must be at most 1024 bytes'],
    ['maxDepth (depth)', patchPresenceBody, { activity: { a: deep } }, 'body.activity must be nested at most 16 levels deep'],
    ['maxDepth (finite numbers)', patchPresenceBody, { activity: { x: [Number.NaN] } }, 'body.activity must contain only finite numbers'],
  ])('%s', (_kind, check, value, expected) => {
    expect(validate(check, value, 'body')).toBe(expected);
  });

  it('names the path given: a path parameter, a query, a message, a payload', () => {
    expect(validate(userId, undefined, 'userId')).toBe('userId must be string');
    expect(validate(device, 'USER#x', 'device')).toBe('device has invalid characters or format');
    expect(validate(batchPresenceQuery, { userIds: 'a', x: '1' }, 'query')).toBe('query.x is not allowed');
    expect(validate(wsGetPresence, { action: 'getPresence', userIds: 'bob' }, 'message')).toBe('message.userIds must be array');
    expect(validate(sysInvokeAddFriend, { op: 'addFriend', userId: 'a' }, 'payload')).toBe('payload.friendId is required');
  });

  it('listen (anyOf): the problem of the branch the message meant, not of the first branch', () => {
    expect(validate(wsListen, { action: 'listen', groupId: 'bad id' }, 'message')).toBe('message.groupId has invalid characters or format');
    expect(validate(wsListen, { action: 'listen', userIds: ['a', 'a'] }, 'message')).toMatch(/^message.userIds must not repeat items/);
    expect(validate(wsListen, { action: 'listen', friends: true })).toBeNull();
    expect(validate(wsListen, { action: 'listen', friends: true, userIds: ['a'] }, 'message')).toMatch(/^message\.\w+ is (required|not allowed)$/);
  });

  it('"__proto__" twice is a repeat like any other item (Ajv indexes strings in an object without a prototype here)', () => {
    expect(validate(subscribeBody, { userIds: ['__proto__', '__proto__'] })).toMatch(/must not repeat items/);
    expect(validate(subscribeBody, { userIds: ['constructor', 'constructor'] })).toMatch(/must not repeat items/);
    expect(validate(subscribeBody, { userIds: ['__proto__', 'constructor', 'toString'] })).toBeNull();
  });

  it('date-time: exactly the UTC timestamps (at most milliseconds) Date.parse reads', () => {
    const shape = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
    const accepted = (s: string) => validate(patchPresenceBody, { availabilityUntil: s }) === null;
    const fields = {
      year: ['0000', '2026', '2028'],
      month: ['00', '01', '02', '04', '12', '13'],
      day: ['00', '01', '28', '29', '30', '31', '32'],
      hour: ['00', '09', '23', '24', '25'],
      minute: ['00', '59', '60'],
      second: ['00', '59', '60'],
      fraction: ['', '.0', '.000', '.5', '.123'],
    };
    let n = 0;
    for (const y of fields.year)
      for (const mo of fields.month)
        for (const d of fields.day)
          for (const h of fields.hour)
            for (const mi of fields.minute)
              for (const s of fields.second)
                for (const f of fields.fraction) {
                  const text = `${y}-${mo}-${d}T${h}:${mi}:${s}${f}Z`;
                  expect(accepted(text), text).toBe(shape.test(text) && !Number.isNaN(Date.parse(text)));
                  n++;
                }
    expect(n).toBeGreaterThan(10_000);
    for (const bad of [
      '2026-11-22T11:00:00',
      '2026-11-22T11:00:00+01:00',
      '2026-11-22T11:00:00.1234Z',
      '2026-1-01T00:00:00Z',
      '２０２６-01-01T00:00:00Z',
      'tomorrow',
    ])
      expect(accepted(bad), bad).toBe(false);
  });

  it('counts characters as code points and bytes as UTF-8 JSON (escapes count, a string’s quotes do not)', () => {
    expect(validate(patchPresenceBody, { customStatus: '🙂'.repeat(64) })).toBeNull(); // 64 characters, 256 bytes
    expect(validate(patchPresenceBody, { customStatus: '🙂'.repeat(65) })).toMatch(/256 bytes/);
    expect(validate(putDeviceBody, { status: 'online', ext: '\u0001'.repeat(10) })).toBeNull(); // 60 bytes as \u0001
    expect(validate(putDeviceBody, { status: 'online', ext: '\u0001'.repeat(11) })).toMatch(/64 bytes/);
  });
});
