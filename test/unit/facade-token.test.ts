/**
 * Why a facade's caller was refused (functions/commons/facade.ts tokenFault):
 * read from the token itself once verification has refused it, for the APIs
 * that answer each reason with its own code (Agora's and RingCentral's 401s).
 */
import { describe, expect, it } from 'vitest';
import { tokenFault } from '../../functions/commons/facade.ts';
import { signHs256 } from '../../functions/core/jwt.ts';

const NOW = 1_700_000_000;
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('tokenFault', () => {
  it('no Authorization header, or not a Bearer one: missing', () => {
    for (const h of [undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Token abc']) expect(tokenFault(h, NOW), String(h)).toBe('missing');
  });

  it('not a JWT (three base64url parts, the middle one a JSON object): malformed', () => {
    for (const t of ['not-a-jwt', 'a.b', 'a.b.c.d', `x.${b64('not json')}.y`, `x.${b64([1])}.y`, `x.${b64(5)}.y`, 'x.$$$.y', 'x..y'])
      expect(tokenFault(`Bearer ${t}`, NOW), t).toBe('malformed');
  });

  it('a JWT whose exp has passed: expired; otherwise (a foreign signature, issuer, no exp): refused', () => {
    expect(tokenFault(`Bearer ${signHs256({ sub: 'u', exp: NOW - 1 }, 'k')}`, NOW)).toBe('expired');
    expect(tokenFault(`bearer ${signHs256({ sub: 'u', exp: NOW }, 'k')}`, NOW)).toBe('expired');
    expect(tokenFault(`Bearer ${signHs256({ sub: 'u', exp: NOW + 60 }, 'other')}`, NOW)).toBe('refused');
    expect(tokenFault(`Bearer ${signHs256({ sub: 'u' }, 'k')}`, NOW)).toBe('refused');
    expect(tokenFault(`Bearer ${signHs256({ sub: 'u', exp: String(NOW - 1) }, 'k')}`, NOW)).toBe('refused');
  });
});
