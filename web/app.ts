/**
 * The live presence page served by the local stack at http://127.0.0.1:3000/,
 * built on the client SDK: sign in as a user (a local token), watch
 * subscribed users, friends or a group change live, and set your own status,
 * availability, custom status and visibility.
 */
import { connect, type OwnPresence, type Presence, type PresenceClient } from '../sdk/index.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const select = (id: string) => $<HTMLSelectElement>(id);

let client: PresenceClient | undefined;
let me = '';
const shown = new Map<string, Presence>();

function log(line: string) {
  const el = $('log');
  el.textContent = `${new Date().toLocaleTimeString()}  ${line}\n${el.textContent ?? ''}`.slice(0, 8000);
}

function showError(err: unknown) {
  const e = err as { code?: string; message?: string };
  $('error').textContent = e?.message ? `${e.code ? `${e.code}: ` : ''}${e.message}` : String(err);
}

const clearError = () => {
  $('error').textContent = '';
};

/** One card per user; every text goes through textContent (presence is user input). */
function render(p: Presence) {
  const held = shown.get(p.userId);
  if (held && held.version > p.version) return;
  shown.set(p.userId, p);
  $('people-empty').hidden = true;
  let card = document.querySelector<HTMLElement>(`.card[data-user="${CSS.escape(p.userId)}"]`);
  if (!card) {
    card = document.createElement('article');
    card.className = 'card';
    card.dataset.user = p.userId;
    card.innerHTML =
      '<div class="who"><span class="dot"></span><span class="name"></span><span class="status"></span></div><div class="custom"></div><div class="meta"></div>';
    $('people').append(card);
  }
  const part = (cls: string) => card.querySelector(`.${cls}`) as HTMLElement;
  part('dot').className = `dot ${p.status}`;
  part('name').textContent = p.userId === me ? `${p.userId} (me)` : p.userId;
  part('status').textContent = p.status;
  part('custom').textContent = p.customStatus ?? '';
  const devices = p.devices.map((d) => `${d.device}: ${d.status}`).join(', ');
  const seen = p.lastSeen ? `last seen ${new Date(p.lastSeen).toLocaleTimeString()}` : 'never seen';
  part('meta').textContent = `${devices || 'no devices'} · ${seen} · v${p.version}`;
  card.classList.add('flash');
  setTimeout(() => card.classList.remove('flash'), 700);
}

function showOwn(p: OwnPresence) {
  if ((shown.get(p.userId)?.version ?? -1) > p.version) return; // an older reply arriving late
  select('availability').value = p.availability;
  select('visibility').value = p.visibility;
  if (document.activeElement !== input('custom')) input('custom').value = p.customStatus ?? '';
  render(p);
}

async function localToken(userId: string): Promise<string> {
  const res = await fetch('/__local/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) });
  const body = (await res.json()) as { token?: string; message?: string };
  if (!res.ok || !body.token) throw new Error(body.message ?? `token: HTTP ${res.status}`);
  return body.token;
}

async function signIn(userId: string, device: string, pasted: string) {
  const { wsPort } = (await (await fetch('/__local/page-config')).json()) as { wsPort: number };
  // asked here first, so a stack that issues no tokens fails the sign-in clearly; the SDK asks getToken on every
  // (re)connect and HTTP call: hand out this one until it is half-way to its 24 h expiry, then a fresh one
  let issued = pasted ? undefined : { token: await localToken(userId), at: Date.now() };
  me = userId;
  // a pasted token is used as is
  client = connect({
    url: `ws://${location.hostname}:${wsPort}`,
    httpUrl: location.origin,
    ...(pasted
      ? { token: pasted }
      : {
          getToken: async () => {
            if (!issued || Date.now() - issued.at > 12 * 3600_000) issued = { token: await localToken(userId), at: Date.now() };
            return issued.token;
          },
        }),
    device,
  });
  client.on('presence', (p) => {
    log(`push ${p.userId}: ${p.status}${p.customStatus ? ` "${p.customStatus}"` : ''} v${p.version}`);
    render(p);
    // my own changes made elsewhere (another device, an HTTP call) arrive as pushes too; pushes carry
    // what others see, so read my own settings (availability, visibility) back
    if (p.userId === me) client?.http.me().then(showOwn, showError);
  });
  client.on('connected', () => {
    $('session').textContent = `${me} · ${device} · connected`;
    document.body.dataset.connected = 'true';
  });
  client.on('disconnected', () => {
    $('session').textContent = `${me} · reconnecting…`;
    document.body.dataset.connected = 'false';
  });
  client.on('error', (err) => err instanceof Error && showError(err));
  // a refused token never opens the socket (the SDK keeps retrying): say so instead of waiting forever
  const refused = new Promise<never>((_, no) => setTimeout(() => no(new Error('Could not connect: is the token valid for this stack?')), 5000));
  await Promise.race([client.ready(), refused]);
  const own = await client.http.me();
  me = own.userId; // a pasted token speaks for its own user, whatever was typed
  showOwn(own);
  await client.listen({ userIds: [me] }); // hear my own changes from my other devices
  $('signin').hidden = true;
  $('me').hidden = false;
  $('watch').hidden = false;
  log(`signed in as ${me}`);
}

/** Runs a UI action: errors shown, never thrown. */
const act = (fn: () => Promise<void>) => (ev?: Event) => {
  ev?.preventDefault();
  clearError();
  fn().catch(showError);
};

$('signin-form').addEventListener(
  'submit',
  act(async () => {
    $<HTMLButtonElement>('signin-button').disabled = true;
    try {
      await signIn(input('user').value.trim(), input('device').value.trim() || 'web', input('token').value.trim());
    } catch (err) {
      client?.close();
      client = undefined;
      $<HTMLButtonElement>('signin-button').disabled = false;
      $('session').textContent = 'signed out';
      throw err;
    }
  }),
);

const setOwn = (patch: Parameters<PresenceClient['setPresence']>[0]) => act(async () => showOwn(await (client as PresenceClient).setPresence(patch)));
select('status').addEventListener('change', () => setOwn({ status: select('status').value as never })());
select('availability').addEventListener('change', () => setOwn({ availability: select('availability').value as never })());
select('visibility').addEventListener('change', () => setOwn({ visibility: select('visibility').value as never })());
$('custom-form').addEventListener('submit', (ev) => setOwn({ customStatus: input('custom').value.trim() || null })(ev));

$('subscribe-form').addEventListener(
  'submit',
  act(async () => {
    const ids = input('subscribe-ids')
      .value.split(/[\s,]+/)
      .filter(Boolean);
    const r = await (client as PresenceClient).subscribe(ids);
    for (const p of r.presence) render(p);
    log(`subscribed to ${r.subscribed.map((s) => s.userId).join(', ') || 'nobody'}${r.rejected.length ? `; rejected ${r.rejected.join(', ')}` : ''}`);
    input('subscribe-ids').value = '';
  }),
);
$('listen-friends').addEventListener(
  'click',
  act(async () => {
    const list = await (client as PresenceClient).listen({ friends: true });
    for (const p of list) render(p);
    log(`listening to friends (${list.length} online)`);
  }),
);
$('group-form').addEventListener(
  'submit',
  act(async () => {
    const groupId = input('group-id').value.trim();
    const list = await (client as PresenceClient).listen({ groupId });
    for (const p of list) render(p);
    log(`listening to group ${groupId} (${list.length} online)`);
  }),
);
$('signout').addEventListener('click', () => {
  client?.close();
  location.reload();
});
