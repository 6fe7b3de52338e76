import { describe, expect, it } from 'vitest';
import {
  aggregateCall,
  aggregateStatus,
  applyPatch,
  dropConnection,
  emptyState,
  expireConnectionDevice,
  finalize,
  GONE_RETENTION_MS,
  listedOnline,
  MAX_GONE,
  offlineDevices,
  offlineDevicesFor,
  projectedVersion,
  projectFor,
  pruneGone,
  pushFor,
  removeDevice,
  sweepDueAt,
  sweepState,
  toPresence,
  type UserState,
  upsertDevice,
  withProfile,
} from '../../functions/core/presence.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const MIN = 60_000;

function withDevices(devs: Record<string, { s: 'online' | 'away' | 'busy' | 'dnd'; e?: number }>): UserState {
  let s = emptyState('bob');
  for (const [name, d] of Object.entries(devs)) s = upsertDevice(s, name, { kind: 'http', status: d.s, expiresAt: d.e ?? T0 + 2 * MIN }, T0);
  return s;
}

describe('aggregate status', () => {
  it('is offline with no live device, even with a manual availability', () => {
    const s = { ...emptyState('bob'), availability: 'busy' as const };
    expect(aggregateStatus(s, T0)).toBe('offline');
  });

  it('ignores expired devices', () => {
    const s = withDevices({ a: { s: 'dnd', e: T0 - 1 }, b: { s: 'away' } });
    expect(aggregateStatus(s, T0)).toBe('away');
  });

  it('takes the highest device status: dnd > busy > online > away', () => {
    expect(aggregateStatus(withDevices({ a: { s: 'away' }, b: { s: 'online' } }), T0)).toBe('online');
    expect(aggregateStatus(withDevices({ a: { s: 'online' }, b: { s: 'busy' } }), T0)).toBe('busy');
    expect(aggregateStatus(withDevices({ a: { s: 'busy' }, b: { s: 'dnd' }, c: { s: 'away' } }), T0)).toBe('dnd');
    expect(aggregateStatus(withDevices({ a: { s: 'away' } }), T0)).toBe('away');
  });

  it('lets an unexpired manual availability win over devices', () => {
    const s = { ...withDevices({ a: { s: 'dnd' } }), availability: 'away' as const, availabilityUntil: T0 + MIN };
    expect(aggregateStatus(s, T0)).toBe('away');
    // lapsed: back to the device aggregate
    expect(aggregateStatus(s, T0 + MIN)).toBe('dnd');
  });
});

describe('call state', () => {
  const inCall = (s: UserState, device: string, call: Parameters<typeof upsertDevice>[2]['call'], e = T0 + 2 * MIN) =>
    upsertDevice(s, device, { kind: 'http', call, expiresAt: e }, T0);

  it('makes a user with a device in a call busy, whatever the device statuses, unless dnd', () => {
    for (const call of ['Ringing', 'CallConnected', 'OnHold', 'ParkedCall'] as const) {
      expect(aggregateStatus(inCall(withDevices({ a: { s: 'away' }, b: { s: 'online' } }), 'b', call), T0), call).toBe('busy');
    }
    // a device that is dnd keeps the user dnd; NoCall changes nothing
    expect(aggregateStatus(inCall(withDevices({ a: { s: 'dnd' }, b: { s: 'online' } }), 'b', 'CallConnected'), T0)).toBe('dnd');
    expect(aggregateStatus(inCall(withDevices({ a: { s: 'away' } }), 'a', 'NoCall'), T0)).toBe('away');
  });

  it('wins over a manual away or busy, not over a manual dnd', () => {
    const s = inCall(withDevices({ a: { s: 'online' } }), 'a', 'Ringing');
    expect(aggregateStatus({ ...s, availability: 'away' }, T0)).toBe('busy');
    expect(aggregateStatus({ ...s, availability: 'dnd' }, T0)).toBe('dnd');
  });

  it('counts live devices only, and an offline user is offline', () => {
    const s = inCall(withDevices({ a: { s: 'online' } }), 'b', 'CallConnected', T0 - 1);
    expect(aggregateStatus(s, T0)).toBe('online');
    expect(aggregateCall(s, T0)).toBe('NoCall');
    expect(toPresence(s, T0).devices).toEqual([expect.objectContaining({ device: 'a', call: 'NoCall' })]);
  });

  it('aggregates to the most active call: CallConnected > OnHold > Ringing > ParkedCall > NoCall', () => {
    const order = ['CallConnected', 'OnHold', 'Ringing', 'ParkedCall', 'NoCall'] as const;
    for (const [i, best] of order.entries()) {
      let s = withDevices({});
      for (const [j, call] of order.slice(i).reverse().entries()) s = inCall(s, `d${j}`, call);
      expect(aggregateCall(s, T0)).toBe(best);
      expect(toPresence(s, T0).call).toBe(best);
    }
  });

  it('is kept when a device is refreshed without it, and stored only while in a call', () => {
    let s = inCall(withDevices({ a: { s: 'online' } }), 'a', 'OnHold');
    s = upsertDevice(s, 'a', { kind: 'http', status: 'away', expiresAt: T0 + 3 * MIN }, T0 + 1000);
    expect(s.devices.a?.t).toBe('OnHold');
    s = inCall(s, 'a', 'NoCall');
    expect(s.devices.a).not.toHaveProperty('t');
    expect(toPresence(s, T0).devices[0]?.call).toBe('NoCall');
  });

  it('versions every change of a device call state, and hides it from viewers who may not see the user', () => {
    const s0 = finalize(emptyState('bob'), withDevices({ a: { s: 'online' } })).state;
    const ringing = finalize(s0, inCall(s0, 'a', 'Ringing'));
    expect(ringing.visibleChange).toBe(true);
    const connected = finalize(ringing.state, inCall(ringing.state, 'a', 'CallConnected'));
    expect(connected.visibleChange).toBe(true);
    expect(connected.state.version).toBe(s0.version + 2);
    const hidden = finalize(connected.state, applyPatch(connected.state, { visibility: 'nobody' }, T0)).state;
    expect(projectFor(hidden, { self: false, friend: true }, T0)).toMatchObject({ status: 'offline', call: 'NoCall', devices: [] });
    expect(projectFor(hidden, { self: true, friend: false }, T0)).toMatchObject({ status: 'busy', call: 'CallConnected' });
  });
});

describe('profile', () => {
  const ada = { name: 'Ada', pic: 'https://cdn.example.com/ada.png' };

  it('is replaced as a whole: a field left out or null is not set, nothing set is no profile', () => {
    const s = withProfile(emptyState('ada'), ada);
    expect(toPresence(s, T0).profile).toEqual(ada);
    expect(withProfile(s, { name: 'Ada L.' }).profile).toEqual({ name: 'Ada L.', pic: null });
    expect(withProfile(s, { name: null }).profile).toBeNull();
    expect(withProfile(s, {}).profile).toBeNull();
  });

  it('is a visible change (a new version), shown offline too; the same profile again changes nothing', () => {
    const s0 = emptyState('ada');
    const set = finalize(s0, withProfile(s0, ada));
    expect(set.visibleChange).toBe(true);
    expect(toPresence(set.state, T0)).toMatchObject({ status: 'offline', profile: ada, version: 1 });
    expect(finalize(set.state, withProfile(set.state, { ...ada })).visibleChange).toBe(false);
  });

  it('is hidden from viewers who may not see the user, and hiding a user who shows only a profile tells them', () => {
    const stranger = { self: false, friend: false };
    const shown = finalize(emptyState('ada'), withProfile(emptyState('ada'), ada)).state;
    const hidden = finalize(shown, applyPatch(shown, { visibility: 'friends' }, T0)).state;
    expect(projectFor(hidden, stranger, T0).profile).toBeNull();
    expect(projectFor(hidden, { self: false, friend: true }, T0).profile).toEqual(ada);
    expect(pushFor(shown, hidden, stranger, stranger, T0)).toMatchObject({ profile: null, version: hidden.version });
    // a hidden user's profile change: nothing for strangers
    const renamed = finalize(hidden, withProfile(hidden, { name: 'A.' })).state;
    expect(pushFor(hidden, renamed, stranger, stranger, T0)).toBeNull();
    expect(projectedVersion(renamed, stranger)).toBe(projectedVersion(hidden, stranger));
  });
});

describe('versions', () => {
  it('bump on a visible change and not on a lastSeen-only change', () => {
    const s0 = emptyState('bob');
    const a = finalize(s0, upsertDevice(s0, 'web', { kind: 'ws', conn: 'c1', expiresAt: T0 + MIN }, T0));
    expect(a.visibleChange).toBe(true);
    expect(a.state.version).toBe(1);
    const touched: UserState = { ...a.state, lastSeen: T0 + 5000 };
    const b = finalize(a.state, touched);
    expect(b.visibleChange).toBe(false);
    expect(b.state.version).toBe(1);
    expect(b.state.rev).toBe(a.state.rev + 1);
  });

  it('do not bump when only owner-visible settings change (availability while offline)', () => {
    const s0 = emptyState('bob');
    const f = finalize(s0, applyPatch(s0, { availability: 'dnd' }, T0));
    expect(f.visibleChange).toBe(false);
    expect(f.state.version).toBe(0);
    // once a device is live the manual availability shows, and that is a change
    const on = finalize(f.state, upsertDevice(f.state, 'web', { kind: 'http', expiresAt: T0 + MIN }, T0));
    expect(on.visibleChange).toBe(true);
    expect(aggregateStatus(on.state, T0)).toBe('dnd');
  });

  it('bump when the sweep removes a device that had expired (stored view, not time-filtered)', () => {
    const s = finalize(emptyState('bob'), withDevices({ a: { s: 'online', e: T0 + MIN } })).state;
    const swept = sweepState(s, T0 + 2 * MIN);
    expect(swept.devicesExpired).toBe(1);
    const f = finalize(s, swept.state);
    expect(f.visibleChange).toBe(true);
    expect(f.state.version).toBe(s.version + 1);
  });

  it('freeze what hidden viewers see when visibility narrows, and push once to them', () => {
    const online = finalize(emptyState('bob'), withDevices({ a: { s: 'online' } })).state;
    const hiding = finalize(online, applyPatch(online, { visibility: 'nobody' }, T0 + 1000)).state;
    const stranger = { self: false, friend: false };
    expect(hiding.hidden).toEqual({ lastSeen: online.lastSeen, version: hiding.version });
    expect(projectedVersion(hiding, stranger)).toBeGreaterThan(projectedVersion(online, stranger));
    const later = finalize(hiding, applyPatch(hiding, { customStatus: 'secret' }, T0 + 2000)).state;
    expect(later.version).toBeGreaterThan(hiding.version);
    // the stranger sees no change at all
    expect(projectedVersion(later, stranger)).toBe(projectedVersion(hiding, stranger));
    expect(projectFor(later, stranger, T0 + 2000)).toEqual(projectFor(hiding, stranger, T0 + 2000));
  });
});

describe('privacy projection', () => {
  const base = { ...withDevices({ a: { s: 'busy' } }), customStatus: 'meeting', activity: { game: 'chess' }, lastSeen: T0 };
  const cases = [
    ['everyone', { self: false, friend: false }, true],
    ['friends', { self: false, friend: true }, true],
    ['friends', { self: false, friend: false }, false],
    ['nobody', { self: false, friend: true }, false],
    ['nobody', { self: true, friend: false }, true],
  ] as const;
  it.each(cases)('visibility %s, viewer %o → sees real presence: %s', (visibility, rel, real) => {
    const state = { ...base, visibility, hidden: visibility === 'everyone' ? null : { lastSeen: T0 - MIN, version: 3 } };
    const p = projectFor(state, rel, T0);
    if (real) {
      expect(p.status).toBe('busy');
      expect(p.customStatus).toBe('meeting');
    } else {
      expect(p).toEqual({
        userId: 'bob',
        status: 'offline',
        customStatus: null,
        activity: null,
        profile: null,
        availabilityUntil: null,
        call: 'NoCall',
        devices: [],
        lastSeen: new Date(T0 - MIN).toISOString(),
        version: 3,
      });
    }
  });

  it('shows an unknown user as offline, lastSeen null, version 0', () => {
    expect(toPresence(emptyState('nobody-here'), T0)).toMatchObject({ status: 'offline', lastSeen: null, version: 0, devices: [] });
  });
});

describe('devices and sweep', () => {
  it('removing a live device moves lastSeen to now; the sweep dates it at expiry', () => {
    const s = withDevices({ a: { s: 'online', e: T0 + MIN } });
    expect(removeDevice(s, 'a', T0 + 1000).lastSeen).toBe(T0 + 1000);
    expect(sweepState(s, T0 + 5 * MIN).state.lastSeen).toBe(T0 + MIN);
  });

  it('clears a lapsed availability', () => {
    const s = { ...withDevices({ a: { s: 'online' } }), availability: 'dnd' as const, availabilityUntil: T0 + 1000 };
    const r = sweepState(s, T0 + 1000);
    expect(r.availabilityCleared).toBe(true);
    expect(r.state.availability).toBe('auto');
    expect(r.state.availabilityUntil).toBeNull();
  });

  it('is due at the earliest device expiry or availability end', () => {
    const s = { ...withDevices({ a: { s: 'online', e: T0 + 3 * MIN }, b: { s: 'online', e: T0 + 2 * MIN } }) };
    expect(sweepDueAt(s)).toBe(T0 + 2 * MIN);
    expect(sweepDueAt({ ...s, availability: 'busy', availabilityUntil: T0 + MIN })).toBe(T0 + MIN);
    expect(sweepDueAt(emptyState('x'))).toBeNull();
  });

  it('keeps status and ext when a device is refreshed without them', () => {
    let s = upsertDevice(emptyState('u'), 'd', { kind: 'http', status: 'dnd', ext: 'v2', expiresAt: T0 + MIN }, T0);
    s = upsertDevice(s, 'd', { kind: 'http', expiresAt: T0 + 2 * MIN }, T0 + 1000);
    expect(s.devices.d).toMatchObject({ s: 'dnd', x: 'v2', e: T0 + 2 * MIN, l: T0 + 1000 });
  });
});

describe('the online list (listedOnline)', () => {
  it('holds a user with a device who is visible to everyone, and no one else', () => {
    const s = withDevices({ a: { s: 'away' } });
    expect(listedOnline(s)).toBe(true);
    expect(listedOnline({ ...s, visibility: 'friends' })).toBe(false);
    expect(listedOnline({ ...s, visibility: 'nobody' })).toBe(false);
    expect(listedOnline(removeDevice(s, 'a', T0))).toBe(false);
    expect(listedOnline(emptyState('x'))).toBe(false);
    // an expired device still counts until the sweep's write removes it (the list's reads show that user offline)
    expect(listedOnline(s)).toBe(true);
    expect(listedOnline(sweepState(s, T0 + 5 * MIN).state)).toBe(false);
  });
});

describe('hidden viewers across visibility changes', () => {
  it('friends → nobody gives friends a newer (hidden) version; nobody → everyone gives everyone the real one', () => {
    const friend = { self: false, friend: true };
    const stranger = { self: false, friend: false };
    const s1 = finalize(emptyState('o'), upsertDevice(emptyState('o'), 'd', { kind: 'http', expiresAt: T0 + MIN }, T0)).state;
    const s2 = finalize(s1, applyPatch(s1, { visibility: 'friends' }, T0 + 1)).state;
    const s3 = finalize(s2, applyPatch(s2, { visibility: 'nobody' }, T0 + 2)).state;
    expect(projectedVersion(s3, friend)).toBeGreaterThan(projectedVersion(s2, friend));
    expect(projectFor(s3, friend, T0 + 2).status).toBe('offline');
    expect(s3.hidden?.lastSeen).toBe(s1.lastSeen); // frozen when strangers lost sight
    const s4 = finalize(s3, applyPatch(s3, { visibility: 'everyone' }, T0 + 3)).state;
    expect(projectedVersion(s4, stranger)).toBeGreaterThan(projectedVersion(s3, stranger));
    expect(projectedVersion(s4, friend)).toBeGreaterThan(projectedVersion(s3, friend));
  });
});

describe('what a change pushes to one viewer (pushFor)', () => {
  const stranger = { self: false, friend: false };
  const friend = { self: false, friend: true };
  const online = finalize(emptyState('o'), upsertDevice(emptyState('o'), 'd', { kind: 'http', expiresAt: T0 + MIN }, T0)).state;
  const patch = (s: UserState, p: Parameters<typeof applyPatch>[1]) => finalize(s, applyPatch(s, p, T0)).state;

  it('tells a viewer who loses sight that the user is offline, with a newer version', () => {
    const hidden = patch(online, { visibility: 'nobody' });
    const p = pushFor(online, hidden, stranger, stranger, T0);
    expect(p).toMatchObject({ status: 'offline', devices: [], version: hidden.version });
    expect(p?.version).toBeGreaterThan(online.version);
  });

  it('never pushes to a viewer hidden before and after: force push, a visible change, friends ↔ nobody', () => {
    const hidden = patch(online, { visibility: 'friends' });
    const forced = finalize(hidden, hidden, { bump: true }).state;
    expect(pushFor(hidden, forced, stranger, stranger, T0)).toBeNull();
    expect(pushFor(hidden, patch(hidden, { customStatus: 'secret' }), stranger, stranger, T0)).toBeNull();
    const nobody = patch(hidden, { visibility: 'nobody' });
    expect(pushFor(hidden, nobody, stranger, stranger, T0)).toBeNull();
    expect(projectedVersion(nobody, stranger)).toBe(projectedVersion(hidden, stranger)); // reads do not move either
    // the friends lost sight at that moment: they are told
    expect(pushFor(hidden, nobody, friend, friend, T0)).toMatchObject({ status: 'offline', version: nobody.version });
  });

  it('tells only the viewer whose friendship changed: gained sight gets the real presence, lost sight gets offline', () => {
    const friendsOnly = patch(online, { visibility: 'friends' });
    const bumped = finalize(friendsOnly, friendsOnly, { bump: true }).state;
    expect(pushFor(friendsOnly, bumped, stranger, friend, T0)).toMatchObject({ status: 'online', version: bumped.version });
    expect(pushFor(friendsOnly, bumped, friend, stranger, T0)).toMatchObject({ status: 'offline', version: bumped.version });
  });

  it('hiding a user who already shows nothing (offline) pushes nothing and keeps the version viewers read', () => {
    const offline = finalize(online, removeDevice(online, 'd', T0 + 1000)).state;
    const hidden = patch(offline, { visibility: 'nobody' });
    expect(hidden.version).toBeGreaterThan(offline.version);
    expect(pushFor(offline, hidden, stranger, stranger, T0 + 2000)).toBeNull();
    expect(projectFor(hidden, stranger, T0 + 2000)).toEqual(projectFor(offline, stranger, T0 + 2000));
  });
});

describe('a device two connections share (two tabs on one `device`)', () => {
  const twoTabs = () => {
    let s = upsertDevice(emptyState('bob'), 'web', { kind: 'ws', conn: 'A', expiresAt: T0 + 120 * MIN }, T0);
    s = upsertDevice(s, 'web', { kind: 'ws', conn: 'B', expiresAt: T0 + 120 * MIN }, T0 + 1000);
    return { ...s, conns: { ...s.conns, A: { d: 'web', t: T0 } } };
  };

  it('when the holder closes: removed (default), or handed to the other connection (`gateway` mode, heartbeats reach no function)', () => {
    const s = twoTabs();
    expect(s.devices.web?.c).toBe('B');
    expect(dropConnection(s, 'B', T0 + 2000).devices.web).toBeUndefined();
    const handed = dropConnection(s, 'B', T0 + 2000, true);
    expect(handed.devices.web).toEqual({ ...s.devices.web, c: 'A' });
    expect(Object.keys(handed.conns)).toEqual(['A']);
    expect(aggregateStatus(handed, T0 + 2000)).toBe('online');
  });

  it('when the holder falls silent: handed to the other connection; alone, the device expires at its last sign of life + timeout', () => {
    const s = twoTabs();
    expect(expireConnectionDevice(s, 'web', 'B', T0 + 3 * MIN, T0 + 4 * MIN)?.devices.web?.c).toBe('A');
    const alone = dropConnection(s, 'A', T0 + 2000);
    const expired = expireConnectionDevice(alone, 'web', 'B', T0 + 3 * MIN, T0 + 4 * MIN) as UserState;
    expect(expired.devices).toEqual({});
    expect(expired.lastSeen).toBe(T0 + 3 * MIN);
    // not that connection's device (closed, replaced): nothing to do
    expect(expireConnectionDevice(alone, 'web', 'A', T0 + 3 * MIN, T0 + 4 * MIN)).toBeNull();
  });

  it("never shortens the expiry a connection holds when the same connection's device changes", () => {
    const s = twoTabs();
    const changed = upsertDevice(s, 'web', { kind: 'ws', status: 'busy', expiresAt: T0 + 2 * MIN }, T0 + MIN);
    expect(changed.devices.web?.e).toBe(T0 + 120 * MIN);
    expect(upsertDevice(s, 'web', { kind: 'ws', conn: 'A', expiresAt: T0 + 2 * MIN }, T0 + MIN).devices.web?.e).toBe(T0 + 2 * MIN);
  });
});

describe('devices that went offline lately (`gone`, the Agora facade\'s "0" resources)', () => {
  const DAY = GONE_RETENTION_MS;

  it('the write that takes a device away remembers it: removed (since now, or since it expired), swept (since its expiry), its connection closed', () => {
    const s = withDevices({ a: { s: 'online', e: T0 + MIN }, b: { s: 'busy', e: T0 + 3 * MIN } });
    expect(removeDevice(s, 'a', T0 + 1000).gone).toEqual({ a: T0 + 1000 });
    expect(removeDevice(s, 'a', T0 + 2 * MIN).gone).toEqual({ a: T0 + MIN });
    expect(removeDevice(s, 'unknown', T0).gone).toBeUndefined();
    const swept = sweepState(s, T0 + 5 * MIN).state;
    expect(swept.devices).toEqual({});
    expect(swept.gone).toEqual({ a: T0 + MIN, b: T0 + 3 * MIN });
    const ws = upsertDevice(emptyState('bob'), 'web', { kind: 'ws', conn: 'A', expiresAt: T0 + 120 * MIN }, T0);
    expect(dropConnection(ws, 'A', T0 + 2000).gone).toEqual({ web: T0 + 2000 });
    // handed to another connection of the same device: still live, not gone
    const twoTabs = upsertDevice({ ...ws, conns: { ...ws.conns, B: { d: 'web', t: T0 } } }, 'web', { kind: 'ws', conn: 'A', expiresAt: T0 + 120 * MIN }, T0);
    expect(dropConnection(twoTabs, 'A', T0 + 2000, true).gone).toBeUndefined();
  });

  it('a device that comes back is no longer gone; the others stay', () => {
    let s = removeDevice(removeDevice(withDevices({ a: { s: 'online' }, b: { s: 'online' } }), 'a', T0 + 1000), 'b', T0 + 2000);
    expect(s.gone).toEqual({ a: T0 + 1000, b: T0 + 2000 });
    s = upsertDevice(s, 'a', { kind: 'http', expiresAt: T0 + 5 * MIN }, T0 + 3000);
    expect(s.gone).toEqual({ b: T0 + 2000 });
    expect(offlineDevices(s, T0 + 3000)).toEqual(['b']);
    s = upsertDevice(s, 'b', { kind: 'http', expiresAt: T0 + 5 * MIN }, T0 + 4000);
    expect(s).not.toHaveProperty('gone');
  });

  it(`at most ${MAX_GONE} are kept, the oldest dropped first, in name order`, () => {
    let s = emptyState('bob');
    for (let i = 0; i < MAX_GONE + 3; i++) {
      const name = `d${String(i).padStart(2, '0')}`;
      s = removeDevice(upsertDevice(s, name, { kind: 'http', expiresAt: T0 + DAY }, T0), name, T0 + i * 1000);
    }
    expect(Object.keys(s.gone ?? {})).toEqual(Array.from({ length: MAX_GONE }, (_, i) => `d${String(i + 3).padStart(2, '0')}`));
    expect(Object.values(s.gone ?? {})).toEqual(Array.from({ length: MAX_GONE }, (_, i) => T0 + (i + 3) * 1000));
  });

  it('entries past the retention are dropped when the item is written next, and never listed before', () => {
    const live = withDevices({ old: { s: 'online', e: T0 + DAY }, recent: { s: 'online', e: T0 + DAY } });
    const s = removeDevice(removeDevice(live, 'old', T0), 'recent', T0 + 10 * MIN);
    const later = T0 + DAY + MIN;
    expect(offlineDevices(s, later)).toEqual(['recent']);
    expect(pruneGone(s, later).gone).toEqual({ recent: T0 + 10 * MIN });
    // nothing to drop: the very same state (a prune never makes a write of its own)
    expect(pruneGone(s, T0 + 20 * MIN)).toBe(s);
    expect(pruneGone(pruneGone(s, T0 + 2 * DAY), T0 + 2 * DAY)).not.toHaveProperty('gone');
    // an entry of a device that is stored again is dropped too
    expect(pruneGone({ ...s, devices: withDevices({ old: { s: 'online' } }).devices }, T0 + MIN).gone).toEqual({ recent: T0 + 10 * MIN });
  });

  it('offline devices: gone ones, and stored ones expired since the last write; never a live one', () => {
    const s = removeDevice(withDevices({ a: { s: 'online', e: T0 + MIN }, b: { s: 'online', e: T0 + 5 * MIN }, c: { s: 'away' } }), 'c', T0);
    expect(offlineDevices(s, T0 + 2 * MIN)).toEqual(['a', 'c']);
    expect(toPresence(s, T0 + 2 * MIN).devices.map((d) => d.device)).toEqual(['b']);
    expect(offlineDevices(emptyState('x'), T0)).toEqual([]);
  });

  it('shown only to viewers who may see the user (a hidden user shows no devices at all)', () => {
    const s = removeDevice(withDevices({ a: { s: 'online' }, b: { s: 'online' } }), 'a', T0);
    const stranger = { self: false, friend: false };
    const friend = { self: false, friend: true };
    expect(offlineDevicesFor(s, stranger, T0)).toEqual(['a']);
    const friendsOnly = { ...s, visibility: 'friends' as const };
    expect(offlineDevicesFor(friendsOnly, stranger, T0)).toEqual([]);
    expect(offlineDevicesFor(friendsOnly, friend, T0)).toEqual(['a']);
    const nobody = { ...s, visibility: 'nobody' as const };
    expect(offlineDevicesFor(nobody, friend, T0)).toEqual([]);
    expect(offlineDevicesFor(nobody, { self: true, friend: false }, T0)).toEqual(['a']);
  });

  it("not part of what subscribers see: a change of `gone` alone is no new version, and the contract's Presence never carries it", () => {
    const online = finalize(emptyState('o'), withDevices({ a: { s: 'online' }, b: { s: 'online' } })).state;
    const removed = finalize(online, removeDevice(online, 'a', T0 + 1000));
    expect(removed.visibleChange).toBe(true);
    expect(removed.state.gone).toEqual({ a: T0 + 1000 });
    const pushed = pushFor(online, removed.state, { self: false, friend: false }, { self: false, friend: false }, T0 + 1000);
    expect(pushed?.devices.map((d) => d.device)).toEqual(['b']);
    expect(JSON.stringify(toPresence(removed.state, T0 + 1000))).not.toContain('"a"');
    const pruned = finalize(removed.state, pruneGone(removed.state, T0 + 2 * DAY));
    expect(pruned.state).not.toHaveProperty('gone');
    expect(pruned.visibleChange).toBe(false);
    expect(pruned.state.version).toBe(removed.state.version);
  });
});
