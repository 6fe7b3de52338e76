/**
 * Call state, profiles and the brainCloud-parity sys and lookup options,
 * seen from outside with real sockets:
 * - a device's call state is set where its status is (device PUT, WS
 *   setPresence, sys initialize), makes the user `busy` unless `dnd`, is
 *   aggregated to the most active call, and every change is pushed to a
 *   real WebSocket subscriber;
 * - a profile {name, pic} set by the back end (sys route, invoke op) comes
 *   with presence everywhere, and a change is pushed;
 * - a hidden user's call state and profile show nothing (reads and pushes);
 * - sys terminate `all=true` ends every device in one change; sys initialize
 *   `visible` sets the visibility; `includeOffline` on the batch lookup and
 *   getPresence;
 * - bad input is a 400 (or an error reply) with the contract's error body
 *   and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { type Client, isPushOf, sleep, token, useStack } from '../support/e2e.ts';

const fx = useStack();
const { call, client } = fx;
const SYS = token('call-backend', 'presence:sys');

/** a WebSocket client of `viewer` subscribed to `target` */
async function watcher(viewer: string, target: string): Promise<Client> {
  expect((await call('POST', '/v1/me/subscriptions', token(viewer), { userIds: [target] })).status).toBe(200);
  return client(viewer);
}

/** no push about `userId` arrives at `c` for a while */
async function quiet(c: Client, userId: string, ms = 800) {
  const before = c.pushes().filter(isPushOf(userId)).length;
  await sleep(ms);
  expect(c.pushes().filter(isPushOf(userId)), `pushes of ${userId}`).toHaveLength(before);
}
const read = async (viewer: string, userId: string) => (await call('GET', `/v1/users/${userId}/presence`, token(viewer))).body;
const bad = { error: 'bad_request', message: expect.any(String) };
/** the sys Lambda invoked directly, as Lambda runs it: its AWS calls checked against the SysInvoke function's IAM policies */
async function invoke(payload: unknown): Promise<any> {
  const sysInvoke = (await import('../../functions/workers/sys-invoke.ts')).handler;
  return fx.stack.metrics.invoke('SysInvoke', () => sysInvoke(payload));
}

describe('call state', () => {
  it('set on a WebSocket device, an HTTP device and a sys device: busy while in a call, the most active call shown, every change pushed', async () => {
    const w = await watcher('cs-w', 'cs-a');
    const phone = await client('cs-a', 'phone');
    await w.next(isPushOf('cs-a', (d) => d.status === 'online'));

    const ringing = await phone.request('setPresence', { call: 'Ringing' });
    expect(ringing.data).toMatchObject({ status: 'busy', call: 'Ringing', devices: [{ device: 'phone', status: 'online', call: 'Ringing' }] });
    await w.next(isPushOf('cs-a', (d) => d.call === 'Ringing' && d.status === 'busy' && d.version === ringing.data.version));

    const desk = await call('PUT', '/v1/me/devices/desk', token('cs-a'), { status: 'online', call: 'CallConnected' });
    expect(desk.status).toBe(200);
    expect(desk.body).toMatchObject({ status: 'busy', call: 'CallConnected' });
    expect(desk.body.devices).toEqual([
      expect.objectContaining({ device: 'desk', call: 'CallConnected' }),
      expect.objectContaining({ device: 'phone', call: 'Ringing' }),
    ]);
    await w.next(isPushOf('cs-a', (d) => d.call === 'CallConnected'));

    // a device PUT without `call` keeps it
    expect((await call('PUT', '/v1/me/devices/desk', token('cs-a'), { status: 'away' })).body.call).toBe('CallConnected');

    const sys = await call('PUT', '/v1/sys/users/cs-a/presence', SYS, { expiresIn: 60, device: 'pbx', call: 'OnHold' });
    expect(sys.status).toBe(200);
    expect(sys.body.devices).toContainEqual(expect.objectContaining({ device: 'pbx', call: 'OnHold' }));

    // calls end: back to the device statuses, pushed
    await call('PUT', '/v1/me/devices/desk', token('cs-a'), { status: 'online', call: 'NoCall' });
    await call('PUT', '/v1/sys/users/cs-a/presence', SYS, { expiresIn: 60, device: 'pbx', call: 'NoCall' });
    const ended = await phone.request('setPresence', { call: 'NoCall' });
    expect(ended.data).toMatchObject({ status: 'online', call: 'NoCall' });
    await w.next(isPushOf('cs-a', (d) => d.version === ended.data.version && d.call === 'NoCall' && d.status === 'online'));
  });

  it('dnd wins over a call', async () => {
    const res = await call('PUT', '/v1/me/devices/desk', token('cs-dnd'), { status: 'online', call: 'CallConnected' });
    expect(res.body.status).toBe('busy');
    const dnd = await call('PATCH', '/v1/me/presence', token('cs-dnd'), { availability: 'dnd' });
    expect(dnd.body).toMatchObject({ status: 'dnd', call: 'CallConnected' });
  });

  it("a hidden user's call shows nothing to viewers who may not see them, on reads and pushes; a friend sees it", async () => {
    await call('PUT', '/v1/sys/users/cs-h/friends/cs-f', SYS);
    const stranger = await watcher('cs-s', 'cs-h');
    const friend = await watcher('cs-f', 'cs-h');
    const h = await client('cs-h', 'phone');
    await h.request('setPresence', { visibility: 'friends' });
    await stranger.next(isPushOf('cs-h', (d) => d.status === 'offline'));
    const strangerView = await read('cs-s', 'cs-h');

    const inCall = await h.request('setPresence', { call: 'CallConnected' });
    expect(inCall.data).toMatchObject({ status: 'busy', call: 'CallConnected' });
    await friend.next(isPushOf('cs-h', (d) => d.call === 'CallConnected'));
    await quiet(stranger, 'cs-h');
    expect(stranger.pushes().filter(isPushOf('cs-h', (d) => d.call !== 'NoCall'))).toEqual([]);
    expect(await read('cs-s', 'cs-h')).toEqual(strangerView);
    expect(strangerView).toMatchObject({ status: 'offline', call: 'NoCall', devices: [] });
    expect(await read('cs-f', 'cs-h')).toMatchObject({ status: 'busy', call: 'CallConnected' });
  });

  it('refuses a call state outside the enum with 400 and changes nothing', async () => {
    await call('PUT', '/v1/me/devices/desk', token('cs-bad'), { status: 'online' });
    const before = await read('cs-bad', 'cs-bad');
    for (const [method, path, body, auth] of [
      ['PUT', '/v1/me/devices/desk', { status: 'online', call: 'OnCall' }, token('cs-bad')],
      ['PUT', '/v1/me/devices/desk', { status: 'online', call: null }, token('cs-bad')],
      ['PATCH', '/v1/me/presence', { call: 'Ringing' }, token('cs-bad')],
      ['PUT', '/v1/sys/users/cs-bad/presence', { expiresIn: 60, call: 'ringing' }, SYS],
    ] as const) {
      const res = await call(method, path, auth, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual(bad);
    }
    const c = await client('cs-bad2');
    expect(await c.request('setPresence', { call: 'Busy' })).toMatchObject({ type: 'error', error: 'bad_request' });
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    expect(await read('cs-bad', 'cs-bad')).toEqual(before);
  });
});

describe('profile', () => {
  const ada = { name: 'Ada Lovelace', pic: 'https://cdn.example.com/u/ada.png?s=64' };

  it('set by the back end (sys route), returned with presence everywhere and pushed to a real subscriber', async () => {
    const w = await watcher('pf-w', 'pf-a');
    const put = await call('PUT', '/v1/sys/users/pf-a/profile', SYS, ada);
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ userId: 'pf-a', status: 'offline', profile: ada, version: 1 });
    await w.next(isPushOf('pf-a', (d) => d.profile?.name === 'Ada Lovelace' && d.version === 1));

    expect((await read('pf-w', 'pf-a')).profile).toEqual(ada);
    expect((await call('GET', '/v1/presence?userIds=pf-a,pf-none', token('pf-w'))).body.presence.map((p: any) => p.profile)).toEqual([ada, null]);
    expect((await w.request('getPresence', { userIds: ['pf-a'] })).data.presence[0].profile).toEqual(ada);
    const me = await client('pf-a');
    expect((await me.request('setPresence', { customStatus: 'hi' })).data.profile).toEqual(ada);
    expect((await call('GET', '/v1/me/presence', token('pf-a'))).body.profile).toEqual(ada);

    // replaced as a whole; the same profile again is no change
    const renamed = await call('PUT', '/v1/sys/users/pf-a/profile', SYS, { name: 'Ada' });
    expect(renamed.body.profile).toEqual({ name: 'Ada', pic: null });
    await w.next(isPushOf('pf-a', (d) => d.profile?.name === 'Ada' && d.profile.pic === null));
    expect((await call('PUT', '/v1/sys/users/pf-a/profile', SYS, { name: 'Ada' })).body.version).toBe(renamed.body.version);
    expect((await call('PUT', '/v1/sys/users/pf-a/profile', SYS, {})).body.profile).toBeNull();
    await w.next(isPushOf('pf-a', (d) => d.profile === null));
  });

  it("a hidden user's profile is not shown to viewers who may not see them, on reads and pushes", async () => {
    await call('PUT', '/v1/sys/users/pf-h/friends/pf-f', SYS);
    await call('PUT', '/v1/sys/users/pf-h/profile', SYS, ada);
    const stranger = await watcher('pf-s', 'pf-h');
    const friend = await watcher('pf-f', 'pf-h');
    await call('PATCH', '/v1/me/presence', token('pf-h'), { visibility: 'friends' });
    await stranger.next(isPushOf('pf-h', (d) => d.profile === null && d.status === 'offline'));
    const strangerView = await read('pf-s', 'pf-h');
    expect(strangerView.profile).toBeNull();

    await call('PUT', '/v1/sys/users/pf-h/profile', SYS, { name: 'Secret name' });
    await friend.next(isPushOf('pf-h', (d) => d.profile?.name === 'Secret name'));
    await quiet(stranger, 'pf-h');
    expect(JSON.stringify(stranger.messages)).not.toContain('Secret name');
    expect(await read('pf-s', 'pf-h')).toEqual(strangerView);
    expect((await call('GET', '/v1/presence?userIds=pf-h', token('pf-s'))).body.presence[0].profile).toBeNull();
  });

  it('needs the sys scope; bad input is a 400 with the error body and changes nothing', async () => {
    await call('PUT', '/v1/sys/users/pf-bad/profile', SYS, ada);
    const before = await read('pf-bad', 'pf-bad');
    expect(await call('PUT', '/v1/sys/users/pf-bad/profile', token('pf-bad'), { name: 'Me' })).toEqual({
      status: 403,
      body: { error: 'forbidden', message: expect.any(String) },
    });
    expect((await call('PUT', '/v1/sys/users/pf-bad/profile', undefined, { name: 'Me' })).status).toBe(401);
    for (const body of [
      { pic: 'http://cdn.example.com/a.png' },
      { pic: 'https://cdn.example.com/a b.png' },
      { pic: `https://cdn.example.com/${'a'.repeat(500)}` },
      { name: 'x'.repeat(65) },
      { name: '' },
      { name: 7 },
      { name: 'ok', avatar: 'https://cdn.example.com/a.png' },
    ]) {
      const res = await call('PUT', '/v1/sys/users/pf-bad/profile', SYS, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual(bad);
    }
    expect((await call('PUT', '/v1/sys/users/USER%23x/profile', SYS, ada)).status).toBe(400);
    expect(await read('pf-bad', 'pf-bad')).toEqual(before);
  });

  it('is set by the direct-invoke sys Lambda too', async () => {
    expect(await invoke({ op: 'setProfile', userId: 'pf-lambda', ...ada })).toMatchObject({ userId: 'pf-lambda', profile: ada });
    expect(await invoke({ op: 'setProfile', userId: 'pf-lambda', pic: 'ftp://x' })).toEqual(bad);
    expect((await read('x', 'pf-lambda')).profile).toEqual(ada);
  });
});

describe('sys terminate all', () => {
  it('ends every device of the user (WebSocket, HTTP, sys) in one change: a subscriber is told once', async () => {
    const w = await watcher('ta-w', 'ta-u');
    const ws = await client('ta-u', 'tab');
    await call('PUT', '/v1/me/devices/desk', token('ta-u'), { status: 'online', call: 'CallConnected' });
    const live = await call('PUT', '/v1/sys/users/ta-u/presence', SYS, { expiresIn: 600, device: 'hub' });
    expect(live.body.devices.map((d: any) => d.device)).toEqual(['desk', 'hub', 'tab']);
    await w.next(isPushOf('ta-u', (d) => d.version === live.body.version));

    // without `all`: the sys devices only
    const sysOnly = await call('DELETE', '/v1/sys/users/ta-u/presence', SYS);
    expect(sysOnly.body.devices.map((d: any) => d.device)).toEqual(['desk', 'tab']);
    await w.next(isPushOf('ta-u', (d) => d.version === sysOnly.body.version));
    const back = await call('PUT', '/v1/sys/users/ta-u/presence', SYS, { expiresIn: 600, device: 'hub' });
    await w.next(isPushOf('ta-u', (d) => d.version === back.body.version));

    const ended = await call('DELETE', '/v1/sys/users/ta-u/presence?all=true', SYS);
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ status: 'offline', call: 'NoCall', devices: [] });
    // one change: one version more, one push
    expect(ended.body.version).toBe(back.body.version + 1);
    await w.next(isPushOf('ta-u', (d) => d.status === 'offline' && d.version === ended.body.version));
    await quiet(w, 'ta-u');
    expect(w.pushes().filter(isPushOf('ta-u', (d) => d.version > back.body.version))).toHaveLength(1);
    expect(await read('ta-w', 'ta-u')).toMatchObject({ status: 'offline', devices: [], version: ended.body.version });

    // the socket stays open and still gets its user's pushes; its next message brings its device back
    expect(ws.ws.readyState).toBe(ws.ws.OPEN);
    expect((await ws.request('setPresence', { customStatus: 'back' })).data).toMatchObject({ status: 'online', devices: [{ device: 'tab' }] });
  });

  it('with a device named: that device whatever its kind; all=false is the default; bad values are 400', async () => {
    await call('PUT', '/v1/me/devices/desk', token('ta-one'), { status: 'online' });
    await call('PUT', '/v1/sys/users/ta-one/presence', SYS, { expiresIn: 600 });
    expect((await call('DELETE', '/v1/sys/users/ta-one/presence?device=desk&all=false', SYS)).body.devices).toHaveLength(2);
    expect((await call('DELETE', '/v1/sys/users/ta-one/presence?device=desk&all=true', SYS)).body.devices.map((d: any) => d.device)).toEqual(['sys']);
    for (const q of ['all=yes', 'all=1', 'all=TRUE', 'all=true&x=1']) {
      const res = await call('DELETE', `/v1/sys/users/ta-one/presence?${q}`, SYS);
      expect(res.status, q).toBe(400);
      expect(res.body).toEqual(bad);
    }
    expect((await read('ta-one', 'ta-one')).devices.map((d: any) => d.device)).toEqual(['sys']);
  });

  it('is an option of the direct-invoke terminatePresence too (a JSON boolean)', async () => {
    await call('POST', '/v1/me/heartbeat', token('ta-lambda'), { device: 'web' });
    await invoke({ op: 'initializePresence', userId: 'ta-lambda', expiresIn: 60 });
    expect((await invoke({ op: 'terminatePresence', userId: 'ta-lambda' })).devices.map((d: any) => d.device)).toEqual(['web']);
    expect(await invoke({ op: 'terminatePresence', userId: 'ta-lambda', all: 'true' })).toEqual(bad);
    expect(await invoke({ op: 'terminatePresence', userId: 'ta-lambda', all: true })).toMatchObject({ status: 'offline', devices: [] });
  });
});

describe('sys initialize visible', () => {
  it('false hides the user (visibility nobody): watchers see nothing; true shows them to everyone; left out, unchanged', async () => {
    const w = await watcher('vi-w', 'vi-u');
    const hidden = await call('PUT', '/v1/sys/users/vi-u/presence', SYS, { expiresIn: 600, visible: false });
    expect(hidden.status).toBe(200);
    expect(hidden.body).toMatchObject({ status: 'online' }); // the back end sees the real presence
    expect((await call('GET', '/v1/me/presence', token('vi-u'))).body).toMatchObject({ status: 'online', visibility: 'nobody' });
    expect(await read('vi-w', 'vi-u')).toMatchObject({ status: 'offline', devices: [], version: 0 });
    await quiet(w, 'vi-u');
    expect(w.pushes().filter(isPushOf('vi-u'))).toEqual([]);

    const shown = await call('PUT', '/v1/sys/users/vi-u/presence', SYS, { expiresIn: 600, visible: true });
    await w.next(isPushOf('vi-u', (d) => d.status === 'online' && d.version === shown.body.version));
    expect((await call('GET', '/v1/me/presence', token('vi-u'))).body.visibility).toBe('everyone');

    await call('PATCH', '/v1/me/presence', token('vi-u'), { visibility: 'friends' });
    await call('PUT', '/v1/sys/users/vi-u/presence', SYS, { expiresIn: 600, status: 'busy' });
    expect((await call('GET', '/v1/me/presence', token('vi-u'))).body).toMatchObject({ status: 'busy', visibility: 'friends' });
  });

  it('takes a boolean only (400 otherwise, nothing changed), over HTTP and direct invoke', async () => {
    for (const visible of ['true', 1, null]) {
      const res = await call('PUT', '/v1/sys/users/vi-bad/presence', SYS, { expiresIn: 600, visible });
      expect(res.status, JSON.stringify(visible)).toBe(400);
      expect(res.body).toEqual(bad);
    }
    expect((await read('vi-bad', 'vi-bad')).version).toBe(0);
    expect(await invoke({ op: 'initializePresence', userId: 'vi-lambda', expiresIn: 60, visible: 'no' })).toEqual(bad);
    expect(await invoke({ op: 'initializePresence', userId: 'vi-lambda', expiresIn: 60, visible: false })).toMatchObject({ status: 'online' });
    expect(await read('x', 'vi-lambda')).toMatchObject({ status: 'offline' });
  });
});

describe('includeOffline on the batch lookup and WS getPresence', () => {
  it('includes offline users by default (as before); false leaves out users who show offline, hidden ones too', async () => {
    await call('POST', '/v1/me/heartbeat', token('io-on'), {});
    await call('POST', '/v1/me/heartbeat', token('io-hidden'), {});
    await call('PATCH', '/v1/me/presence', token('io-hidden'), { visibility: 'nobody' });
    const ids = ['io-off', 'io-on', 'io-hidden', 'io-on'];
    const users = (body: any) => body.presence.map((p: any) => p.userId);
    const batch = (q = '') => call('GET', `/v1/presence?userIds=${ids.join(',')}${q}`, token('io-viewer'));
    expect(users((await batch()).body)).toEqual(ids);
    expect(users((await batch('&includeOffline=true')).body)).toEqual(ids);
    expect(users((await batch('&includeOffline=false')).body)).toEqual(['io-on', 'io-on']);
    // the user themselves is not hidden from themselves
    expect(users((await call('GET', '/v1/presence?userIds=io-hidden,io-off&includeOffline=false', token('io-hidden'))).body)).toEqual(['io-hidden']);

    const c = await client('io-viewer');
    expect(users((await c.request('getPresence', { userIds: ['io-off', 'io-on', 'io-hidden'] })).data)).toEqual(['io-off', 'io-on', 'io-hidden']);
    expect(users((await c.request('getPresence', { userIds: ['io-off', 'io-on', 'io-hidden'], includeOffline: true })).data)).toEqual([
      'io-off',
      'io-on',
      'io-hidden',
    ]);
    const onlineOnly = await c.request('getPresence', { userIds: ['io-off', 'io-on', 'io-hidden'], includeOffline: false });
    expect(onlineOnly.data).toEqual({ presence: [expect.objectContaining({ userId: 'io-on', status: 'online' })] });
  });

  it('refuses values other than true/false: 400 over HTTP, an error reply over the WebSocket', async () => {
    for (const q of ['includeOffline=yes', 'includeOffline=', 'includeOffline=true&includeOffline=false']) {
      const res = await call('GET', `/v1/presence?userIds=io-on&${q}`, token('io-viewer'));
      expect(res.status, q).toBe(400);
      expect(res.body).toEqual(bad);
    }
    const c = await client('io-viewer2');
    for (const includeOffline of ['false', 0, null]) {
      expect(await c.request('getPresence', { userIds: ['io-on'], includeOffline }), JSON.stringify(includeOffline)).toMatchObject({
        type: 'error',
        error: 'bad_request',
      });
    }
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });
});
