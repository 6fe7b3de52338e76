/**
 * The Agora Chat presence REST facade (docs/compat.md, "Agora Chat REST")
 * against the local stack: every request example of Agora's presence page
 * replayed (its cURL examples, copied below as fixtures; only the host, the
 * org/app pair and the tokens are ours), each response checked field by field
 * against the documented one (names, JSON types including the strings for
 * numbers, values where they are determined), the errors in Agora's REST
 * error shape, user vs app tokens, visibility, and that a status set through
 * the facade is the contract's change: pushed to our WebSocket subscribers.
 */
import { describe, expect, it } from 'vitest';
import { AGORA_MESSAGES } from '../../functions/compat/agora-model.ts';
import { agoraErrorBody, agoraOk, agoraPresenceList, agoraSubList, agoraSubscribedList } from '../../functions/compat/agora-schemas.ts';
import { signHs256 } from '../../functions/core/jwt.ts';
import { eventually, isPushOf, type RawReply, SECRET, sendRaw, token, useStack } from '../support/e2e.ts';
import { problemWith } from '../support/schema-check.ts';

// ---------------------------------------------------------------- the document's examples (fixtures)

/** The page's request examples, as written (host a1-test.agora.com:8089, org 5101220107132865, app test, an app token). */
const CURL_EXAMPLES = `
# Set the presence status of a user
curl -X POST 'a1-test.agora.com:8089/5101220107132865/test/users/c1/presence/android_123423453246/0' \\
-H 'Authorization: Bearer YWMtnjEbUopPEeybKGMmN0wpeZsaLSh8UEgpirS4wNAM_qx8oS2wik8R7LE4Rclv5hu9AwMAAAF-4tr__wBPGgDWGAeO86wl2lHGeTnU030fpWuEDR015Vk6ULWGYGKccA' \\
-H 'Content-Type: application/json' \\
-d '{"ext":"123"}'

# Subscribe to the presence status of multiple users
curl -X POST 'a1-test.agora.com:8089/5101220107132865/test/users/wzy/presence/1000' \\
-H 'Authorization: Bearer YWMtnjEbUopPEeybKGMmN0wpeZsaLSh8UEgpirS4wNAM_qx8oS2wik8R7LE4Rclv5hu9AwMAAAF-4tr__wBPGgDWGAeO86wl2lHGeTnU030fpWuEDR015Vk6ULWGYGKccA' \\
-H 'Content-Type: application/json' \\
-d '{"usernames":["c2","c3"]}'

# Retrieve the presence status of multiple users
curl -X POST 'a1-test.agora.com:8089/5101220107132865/test/users/wzy/presence' \\
-H 'Authorization: Bearer YWMtnjEbUopPEeybKGMmN0wpeZsaLSh8UEgpirS4wNAM_qx8oS2wik8R7LE4Rclv5hu9AwMAAAF-4tr__wBPGgDWGAeO86wl2lHGeTnU030fpWuEDR015Vk6ULWGYGKccA' \\
-H 'Content-Type: application/json' \\
-d '{"usernames":["c2","c3"]}'

# Unsubscribe from the presence status of multiple users
curl -X DELETE 'a1-test.agora.com:8089/5101220107132865/test/users/wzy/presence' \\
-H 'Authorization: Bearer YWMtnjEbUopPEeybKGMmN0wpeZsaLSh8UEgpirS4wNAM_qx8oS2wik8R7LE4Rclv5hu9AwMAAAF-4tr__wBPGgDWGAeO86wl2lHGeTnU030fpWuEDR015Vk6ULWGYGKccA' \\
-H 'Content-Type: application/json' \\
-d '["c1"]'

# Retrieve the subscriptions of a user
curl -X GET 'a1-test.agora.com:8089/5101220107132865/test/users/wzy/presence/sublist?pageNum=1&pageSize=100' \\
-H 'Authorization: Bearer YWMtnjEbUopPEeybKGMmN0wpeZsaLSh8UEgpirS4wNAM_qx8oS2wik8R7LE4Rclv5hu9AwMAAAF-4tr__wBPGgDWGAeO86wl2lHGeTnU030fpWuEDR015Vk6ULWGYGKccA' \\
-H 'Content-Type: application/json'
`;

/** The documented responses, as written (the trailing `%` of the shell prompt dropped; the status example's duplicate key kept once). */
const DOCUMENTED = {
  set: { result: 'ok' },
  subscribe: {
    result: [
      { uid: '', last_time: '1644466063', expiry: '1645500371', ext: '123', status: { android: '1', 'android_6b5610ac-4e11-4661-82b3-dee17bc7b2cc': '0' } },
      { uid: 'c3', last_time: '1645183991', expiry: '1645500371', ext: '', status: { android: '0', 'android_6b5610ac-4e11-4661-82b3-dee17bc7b2cc': '0' } },
    ],
  },
  statuses: {
    result: [
      { uid: 'c2', last_time: '1644466063', ext: '', status: { android: '0' } },
      { uid: 'c3', last_time: '1644475330', ext: '', status: { android: '0' } },
    ],
  },
  unsubscribe: { result: 'ok' },
  sublist: {
    result: {
      totalnum: '2',
      sublist: [
        { uid: 'lxml2', expiry: '1645822322' },
        { uid: 'lxml1', expiry: '1645822322' },
      ],
    },
  },
} as const;

interface CurlExample {
  title: string;
  method: string;
  /** path and query, the org/app pair replaced by this stack's */
  path: string;
  body?: string;
}

function curlExamples(text: string): CurlExample[] {
  return text
    .split(/\n(?=# )/)
    .map((b) => b.trim())
    .filter(Boolean)
    .map((block) => {
      const title = /^# (.+)$/m.exec(block)?.[1] as string;
      const m = /curl -X (\w+) 'a1-test\.agora\.com:8089\/5101220107132865\/test(\/[^']+)'/.exec(block);
      if (!m) throw new Error(`not a cURL example: ${block}`);
      const body = /-d '([^']*)'/.exec(block)?.[1];
      return { title, method: m[1] as string, path: `${BASE}${m[2]}`, ...(body !== undefined ? { body } : {}) };
    });
}

// ---------------------------------------------------------------- helpers

/** the local stack's org/app pair (AGORA_ORG / AGORA_APP unset: local / presence) */
const BASE = '/local/presence';
const fx = useStack({ sweepIntervalSeconds: 3600 });
const APP = token('agora-app-server', 'presence:app');

type Reply = RawReply;
const send = (method: string, path: string, auth: string | null, body?: string): Promise<Reply> =>
  sendRaw(fx.stack.httpUrl, method, path, { auth, body, headers: { 'content-type': 'application/json' } });

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
/** same field names, each of the documented JSON type (numbers are strings in Agora's answers) */
function expectShape(actual: Record<string, unknown>, documented: Record<string, unknown>): void {
  expect(Object.keys(actual)).toEqual(Object.keys(documented));
  for (const [k, v] of Object.entries(documented)) expect(typeOf(actual[k]), k).toBe(typeOf(v));
}
const secondsNear = (s: string, ms: number, slackS: number) => Math.abs(Number(s) - ms / 1000) <= slackS;

/** the `exception` of each `error` code (Hyphenate's examples for the first three; ours for the others) */
const EXCEPTION: Record<string, string> = {
  illegal_argument: 'java.lang.IllegalArgumentException',
  json_parse: 'org.codehaus.jackson.JsonParseException',
  auth_bad_access_token: 'org.apache.usergrid.rest.exceptions.SecurityException',
  unauthorized: 'EasemobSecurityException',
  forbidden_op: 'EasemobForbiddenOpException',
  'Request Entity Too Large': 'EasemobRequestEntityTooLargeException',
};

/** Agora's error body, field by field: the status, the `error` code and its exception, the description when given, timestamp (ms) and duration 0. */
function expectAgoraError(r: Reply, status: number, error: string, description?: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(problemWith(agoraErrorBody, r.body)).toBeNull();
  expect(r.body.error, JSON.stringify(r.body)).toBe(error);
  expect(r.body.exception).toBe(EXCEPTION[error]);
  if (description !== undefined) expect(r.body.error_description).toBe(description);
  expect(r.body.duration).toBe(0);
  expect(Math.abs(r.body.timestamp - Date.now())).toBeLessThan(60_000);
}

// ---------------------------------------------------------------- the examples, replayed

describe("the page's examples, replayed", () => {
  it('every example answers what the page shows, field by field (an app token, as the page uses)', async () => {
    const examples = curlExamples(CURL_EXAMPLES);
    expect(examples.map((e) => `${e.method} ${e.path}`)).toEqual([
      `POST ${BASE}/users/c1/presence/android_123423453246/0`,
      `POST ${BASE}/users/wzy/presence/1000`,
      `POST ${BASE}/users/wzy/presence`,
      `DELETE ${BASE}/users/wzy/presence`,
      `GET ${BASE}/users/wzy/presence/sublist?pageNum=1&pageSize=100`,
    ]);
    // c2 is online on two resources with ext "123" (through the facade); c3 was online and went offline; wzy also follows c1
    expect((await send('POST', `${BASE}/users/c2/presence/android/1`, token('c2'), '{"ext":"123"}')).body).toEqual(DOCUMENTED.set);
    expect((await send('POST', `${BASE}/users/c2/presence/web_1/in%20a%20meeting`, token('c2'), '{"ext":"123"}')).status).toBe(200);
    expect((await send('POST', `${BASE}/users/c3/presence/android/1`, token('c3'), '{"ext":""}')).status).toBe(200);
    expect((await send('POST', `${BASE}/users/c3/presence/android/0`, token('c3'), '{"ext":""}')).status).toBe(200);
    expect((await send('POST', `${BASE}/users/wzy/presence/1000`, APP, '{"usernames":["c1"]}')).status).toBe(200);

    const t0 = Date.now();
    const replies: Reply[] = [];
    for (const e of examples) replies.push(await send(e.method, e.path, APP, e.body));
    for (const [i, r] of replies.entries()) expect(r.status, `${examples[i]?.title}: ${JSON.stringify(r.body)}`).toBe(200);
    const [set, sub, statuses, unsub, sublist] = replies.map((r) => r.body);

    // set c1's android_123423453246 offline with ext 123
    expect(set).toEqual(DOCUMENTED.set);
    expect(problemWith(agoraOk, set)).toBeNull();
    const c1 = (await send('POST', `${BASE}/users/wzy/presence`, APP, '{"usernames":["c1"]}')).body.result[0];
    // a resource that never was live is not listed
    expect(c1).toMatchObject({ uid: 'c1', ext: '123' });
    expect(c1.status).toEqual({});

    // subscribe wzy to c2, c3 for 1000 s
    expect(problemWith(agoraSubscribedList, sub)).toBeNull();
    expect(sub.result).toHaveLength(2);
    for (const [i, r] of sub.result.entries()) expectShape(r, DOCUMENTED.subscribe.result[i] as Record<string, unknown>);
    const [c2, c3] = sub.result;
    expect(c2).toMatchObject({ uid: 'c2', ext: '123' });
    expect(c2.status).toEqual({ android: '1', web_1: 'in a meeting' });
    // c3's resource went offline: "0", as the page's c3 reads
    expect(c3).toMatchObject({ uid: 'c3', ext: '' });
    expect(c3.status).toEqual(DOCUMENTED.statuses.result[1]?.status);
    for (const r of sub.result) {
      expect(secondsNear(r.expiry, t0 + 1000_000, 30), r.expiry).toBe(true);
      expect(secondsNear(r.last_time, t0, 60), r.last_time).toBe(true);
    }

    // the statuses of c2, c3 (no expiry)
    expect(problemWith(agoraPresenceList, statuses)).toBeNull();
    for (const [i, r] of statuses.result.entries()) expectShape(r, DOCUMENTED.statuses.result[i] as Record<string, unknown>);
    expect(statuses.result.map((r: { uid: string }) => r.uid)).toEqual(['c2', 'c3']);
    expect(statuses.result[0]).toEqual({ uid: 'c2', last_time: c2.last_time, ext: '123', status: c2.status });

    // unsubscribe wzy from c1 (a bare array, as the example sends)
    expect(unsub).toEqual(DOCUMENTED.unsubscribe);

    // wzy's subscriptions: c2 and c3 (c1 gone), numbers as strings
    expect(problemWith(agoraSubList, sublist)).toBeNull();
    expectShape(sublist.result, DOCUMENTED.sublist.result);
    expectShape(sublist.result.sublist[0], DOCUMENTED.sublist.result.sublist[0]);
    expect(sublist.result.totalnum).toBe('2');
    expect(sublist.result.sublist.map((s: { uid: string }) => s.uid).sort()).toEqual(['c2', 'c3']);
    expect(sublist.result.sublist[0].expiry).toBe(c2.expiry);
  });
});

// ---------------------------------------------------------------- tokens

describe('tokens: a user acts on its own uid, an app token on any', () => {
  it("no token or a bad one: 401 with Agora's code and message for each; a user token on another uid: 403; all in Agora's error shape, changing nothing", async () => {
    const statuses = (auth: string | null) => send('POST', `${BASE}/users/t1/presence`, auth, '{"usernames":["t2"]}');
    const expired = 'Unable to authenticate due to expired access token.';
    expectAgoraError(await statuses(null), 401, 'unauthorized', expired);
    expectAgoraError(await statuses(token('t1', undefined, -10)), 401, 'unauthorized', expired);
    expectAgoraError(await statuses('not-a-jwt'), 401, 'auth_bad_access_token', 'Unable to authenticate due to corrupt access token.');
    const foreign = signHs256({ sub: 't1', exp: Math.floor(Date.now() / 1000) + 600 }, `not-${SECRET}`);
    expectAgoraError(await statuses(foreign), 401, 'auth_bad_access_token', 'Unable to authenticate.');
    expectAgoraError(await send('POST', `${BASE}/users/t2/presence/android/1`, token('t1'), '{"ext":"x"}'), 403, 'forbidden_op', AGORA_MESSAGES.forbidden);
    expectAgoraError(await send('POST', `${BASE}/users/t2/presence/60`, token('t1'), '{"usernames":["t3"]}'), 403, 'forbidden_op', AGORA_MESSAGES.forbidden);
    expectAgoraError(
      await send('GET', `${BASE}/users/t2/presence/sublist?pageNum=1&pageSize=10`, token('t1', 'presence:admin'), undefined),
      403,
      'forbidden_op',
      AGORA_MESSAGES.forbidden,
    );
    // nothing changed: t2 has no device, no subscription
    expect((await fx.call('GET', '/v1/users/t2/presence', token('t1'))).body).toMatchObject({ status: 'offline', devices: [] });
    expect((await send('GET', `${BASE}/users/t2/presence/sublist?pageNum=1&pageSize=10`, APP)).body).toEqual({ result: { totalnum: '0', sublist: [] } });
    // the user's own token, and an app token on anyone
    expect((await send('POST', `${BASE}/users/t2/presence/android/1`, token('t2'), '{"ext":""}')).status).toBe(200);
    expect((await send('POST', `${BASE}/users/t2/presence/ios_1/1`, APP, '{"ext":""}')).status).toBe(200);
    expect((await fx.call('GET', '/v1/users/t2/presence', token('t1'))).body.devices.map((d: { device: string }) => d.device).sort()).toEqual([
      'android',
      'ios_1',
    ]);
  });

  it('another org/app pair is no route: 404', async () => {
    const r = await send('POST', '/5101220107132865/test/users/c1/presence', APP, '{"usernames":["c2"]}');
    expect(r.status).toBe(404);
  });
});

// ---------------------------------------------------------------- bad input

describe("bad input: 400 in Agora's shape, nothing changed", () => {
  it("every documented limit and field: Agora's code, and its message where its page has one for the case", async () => {
    const u = 'bad-1';
    const auth = token(u);
    const hundredOne = Array.from({ length: 101 }, (_, i) => `u${i}`);
    const many = JSON.stringify({ usernames: hundredOne });
    /** method, path, body; the error code and the message Agora's page gives for the case (ours otherwise: not compared) */
    const cases: [string, string, string | undefined, string?, string?][] = [
      ['POST', `${BASE}/users/${u}/presence/0`, '{"usernames":["x"]}'],
      ['POST', `${BASE}/users/${u}/presence/2592001`, '{"usernames":["x"]}'],
      ['POST', `${BASE}/users/${u}/presence/abc`, '{"usernames":["x"]}'],
      ['POST', `${BASE}/users/${u}/presence/60`, many, 'illegal_argument', 'too many sub presence'],
      ['POST', `${BASE}/users/${u}/presence/60`, '{"usernames":[]}'],
      ['POST', `${BASE}/users/${u}/presence/60`, '["x"]'],
      ['POST', `${BASE}/users/${u}/presence`, many, 'illegal_argument', 'too many get presences'],
      ['POST', `${BASE}/users/${u}/presence`, '{"usernames":["a b"]}'],
      ['POST', `${BASE}/users/${u}/presence`, '{not json', 'json_parse', 'Unexpected character.'],
      ['POST', `${BASE}/users/${u}/presence/60`, '{"usernames":', 'json_parse', 'Unexpected character.'],
      ['DELETE', `${BASE}/users/${u}/presence`, '{}'],
      ['DELETE', `${BASE}/users/${u}/presence`, JSON.stringify(hundredOne), 'illegal_argument', 'too many unsub presences'],
      ['DELETE', `${BASE}/users/${u}/presence`, many, 'illegal_argument', 'too many unsub presences'],
      ['POST', `${BASE}/users/${u}/presence/android/1`, undefined],
      ['POST', `${BASE}/users/${u}/presence/android/1`, JSON.stringify({ ext: 'x'.repeat(65) }), 'illegal_argument', 'ext is too big'],
      ['POST', `${BASE}/users/${u}/presence/android/1`, '{"ext":5}'],
      ['POST', `${BASE}/users/${u}/presence/bad%20resource/1`, '{"ext":""}'],
      ['POST', `${BASE}/users/${u}/presence/android/${'s'.repeat(65)}`, '{"ext":""}'],
      ['GET', `${BASE}/users/${u}/presence/sublist?pageNum=1&pageSize=501`, undefined],
      ['GET', `${BASE}/users/${u}/presence/sublist?pageNum=1&pageSize=0`, undefined],
      ['GET', `${BASE}/users/${u}/presence/sublist`, undefined],
    ];
    for (const [method, path, body, error = 'illegal_argument', description] of cases) {
      const r = await send(method, path, auth, body);
      expect(r.status, `${method} ${path} ${body}: ${JSON.stringify(r.body)}`).toBe(400);
      expectAgoraError(r, 400, error, description);
    }
    // past the contract's 64 KB body limit: Agora's 413
    expectAgoraError(
      await send('POST', `${BASE}/users/${u}/presence/android/1`, auth, JSON.stringify({ ext: 'x', pad: 'y'.repeat(70_000) })),
      413,
      'Request Entity Too Large',
      'Request Entity Too Large.',
    );
    expect((await fx.call('GET', '/v1/me/presence', auth)).body).toMatchObject({ status: 'offline', devices: [], customStatus: null });
    expect((await fx.call('GET', '/v1/me/subscriptions', auth)).body).toMatchObject({ total: 0 });
  });

  it('limits that pass: 100 usernames, 30 days, pageSize 500, unsubscribe by {"users": [...]}', async () => {
    const u = 'lim-1';
    const hundred = Array.from({ length: 100 }, (_, i) => `lim-t${i}`);
    const sub = await send('POST', `${BASE}/users/${u}/presence/2592000`, token(u), JSON.stringify({ usernames: hundred }));
    expect(sub.status).toBe(200);
    expect(sub.body.result).toHaveLength(100);
    const page2 = await send('GET', `${BASE}/users/${u}/presence/sublist?pageNum=2&pageSize=30`, token(u));
    expect(page2.body.result.totalnum).toBe('100');
    expect(page2.body.result.sublist.map((s: { uid: string }) => s.uid)).toEqual([...hundred].sort().slice(30, 60));
    expect((await send('GET', `${BASE}/users/${u}/presence/sublist?pageNum=1&pageSize=500`, token(u))).body.result.sublist).toHaveLength(100);
    expect((await send('DELETE', `${BASE}/users/${u}/presence`, token(u), JSON.stringify({ users: hundred.slice(0, 50) }))).body).toEqual({ result: 'ok' });
    expect((await send('DELETE', `${BASE}/users/${u}/presence`, token(u), JSON.stringify({ usernames: hundred.slice(50) }))).body).toEqual({ result: 'ok' });
    expect((await send('GET', `${BASE}/users/${u}/presence/sublist?pageNum=1&pageSize=500`, token(u))).body.result.totalnum).toBe('0');
  });
});

// ---------------------------------------------------------------- one presence

describe('the facade is the contract underneath', () => {
  it('a status set through the facade is pushed to our WebSocket subscribers; custom status and ext read back', async () => {
    const user = 'ag-pub';
    const watcher = 'ag-watch';
    expect((await fx.call('POST', '/v1/me/subscriptions', token(watcher), { userIds: [user] })).status).toBe(200);
    const ws = await fx.client(watcher);

    expect((await send('POST', `${BASE}/users/${user}/presence/android_1/1`, token(user), '{"ext":"hello"}')).status).toBe(200);
    const online = await eventually(async () => ws.pushes().find(isPushOf(user, (p) => p.status === 'online')));
    expect(online.data).toMatchObject({ customStatus: 'hello', devices: [expect.objectContaining({ device: 'android_1', status: 'online', ext: null })] });

    expect((await send('POST', `${BASE}/users/${user}/presence/android_1/busy`, APP, '{"ext":"hello"}')).status).toBe(200);
    await eventually(async () => ws.pushes().find(isPushOf(user, (p) => p.status === 'busy')));
    expect((await send('POST', `${BASE}/users/${user}/presence/web_2/on%20a%20call`, token(user), '{"ext":"hello"}')).status).toBe(200);
    const read = await send('POST', `${BASE}/users/${watcher}/presence`, token(watcher), JSON.stringify({ usernames: [user] }));
    expect(read.body.result[0]).toMatchObject({ uid: user, ext: 'hello', status: { android_1: 'busy', web_2: 'on a call' } });

    for (const r of ['android_1', 'web_2']) expect((await send('POST', `${BASE}/users/${user}/presence/${r}/0`, token(user), '{"ext":""}')).status).toBe(200);
    const offline = await eventually(async () => ws.pushes().find(isPushOf(user, (p) => p.status === 'offline')));
    expect(offline.data.devices).toEqual([]);
    const after = await send('POST', `${BASE}/users/${watcher}/presence`, token(watcher), JSON.stringify({ usernames: [user] }));
    expect(after.body.result[0]).toMatchObject({ uid: user, ext: '' });
    expect(after.body.result[0].status).toEqual({ android_1: '0', web_2: '0' });
    expect(Number(after.body.result[0].last_time)).toBeGreaterThan(0);
  });

  it("batch status applies the contract's visibility rules", async () => {
    const hidden = 'ag-hidden';
    expect((await send('POST', `${BASE}/users/${hidden}/presence/android/1`, token(hidden), '{"ext":"secret"}')).status).toBe(200);
    await fx.call('PATCH', '/v1/me/presence', token(hidden), { visibility: 'nobody' });
    const r = await send('POST', `${BASE}/users/ag-stranger/presence`, token('ag-stranger'), JSON.stringify({ usernames: [hidden] }));
    expect(r.body.result[0]).toMatchObject({ uid: hidden, ext: '' });
    expect(r.body.result[0].status).toEqual({});
    // the user sees themselves
    const own = await send('POST', `${BASE}/users/${hidden}/presence`, token(hidden), JSON.stringify({ usernames: [hidden] }));
    expect(own.body.result[0]).toMatchObject({ ext: 'secret', status: { android: '1' } });
    // a resource gone offline is shown where live ones are: to themselves, never to those the user hides from
    expect((await send('POST', `${BASE}/users/${hidden}/presence/android/0`, token(hidden), '{"ext":"secret"}')).status).toBe(200);
    const ownAfter = await send('POST', `${BASE}/users/${hidden}/presence`, token(hidden), JSON.stringify({ usernames: [hidden] }));
    expect(ownAfter.body.result[0].status).toEqual({ android: '0' });
    const strangerAfter = await send('POST', `${BASE}/users/ag-stranger/presence/60`, token('ag-stranger'), JSON.stringify({ usernames: [hidden] }));
    expect(strangerAfter.body.result[0].status).toEqual({});
  });
});

// ---------------------------------------------------------------- offline resources

describe('resources that went offline read "0", as Agora lists them', () => {
  it('one set offline with status 0 and one whose WebSocket closed read "0" while another stays "1"; our API shows neither', async () => {
    const user = 'ag-gone';
    const watcher = 'ag-gone-watch';
    const gone = 'android_6b5610ac-4e11-4661-82b3-dee17bc7b2cc';
    expect((await fx.call('POST', '/v1/me/subscriptions', token(watcher), { userIds: [user] })).status).toBe(200);
    const watch = await fx.client(watcher);
    for (const r of ['android', gone]) expect((await send('POST', `${BASE}/users/${user}/presence/${r}/1`, token(user), '{"ext":""}')).status).toBe(200);
    const tab = await fx.client(user, 'web_tab');
    const statusOf = async () =>
      (await send('POST', `${BASE}/users/${watcher}/presence`, token(watcher), JSON.stringify({ usernames: [user] }))).body.result[0].status;
    await eventually(async () => JSON.stringify(await statusOf()) === JSON.stringify({ android: '1', [gone]: '1', web_tab: '1' }));

    // offline through the facade's "0", and by the WebSocket closing
    expect((await send('POST', `${BASE}/users/${user}/presence/${gone}/0`, token(user), '{"ext":""}')).status).toBe(200);
    expect(await statusOf()).toEqual({ android: '1', [gone]: '0', web_tab: '1' });
    await tab.close();
    const afterClose = await eventually(async () => {
      const st = await statusOf();
      return st.web_tab === '0' ? st : undefined;
    });
    expect(afterClose).toEqual({ android: '1', [gone]: '0', web_tab: '0' });
    // the page's subscribe example: live first, then the offline ones
    const sub = await send('POST', `${BASE}/users/${watcher}/presence/600`, token(watcher), JSON.stringify({ usernames: [user] }));
    expect(problemWith(agoraSubscribedList, sub.body)).toBeNull();
    expect(Object.entries(sub.body.result[0].status)).toEqual([
      ['android', '1'],
      [gone, '0'],
      ['web_tab', '0'],
    ]);

    // our API: the live device only, in reads and in pushes
    const ours = await fx.call('GET', `/v1/users/${user}/presence`, token(watcher));
    expect(ours.body.devices.map((d: { device: string }) => d.device)).toEqual(['android']);
    expect(JSON.stringify(ours.body)).not.toContain(gone);
    const last = await eventually(async () =>
      watch
        .pushes()
        .filter(isPushOf(user))
        .find((p) => p.data.devices.length === 1),
    );
    expect(last.data.devices.map((d: { device: string }) => d.device)).toEqual(['android']);
    for (const p of watch.pushes()) {
      expect(Object.keys(p.data)).not.toContain('gone');
      for (const d of p.data.devices) expect(['online', 'away', 'busy', 'dnd']).toContain(d.status);
    }

    // a resource that comes back is live again
    expect((await send('POST', `${BASE}/users/${user}/presence/${gone}/away`, token(user), '{"ext":""}')).status).toBe(200);
    expect(await statusOf()).toEqual({ android: '1', [gone]: 'away', web_tab: '0' });
  });
});
