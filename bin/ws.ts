/**
 * `npm run ws -- <token> [device] [--url ws://127.0.0.1:3001]`: a tiny
 * WebSocket console for the walk-through. Prints every message received;
 * each line typed on stdin is sent as a message (JSON, e.g.
 * {"action":"setPresence","status":"busy"}). Sends a heartbeat every 30 s.
 */
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const args = process.argv.slice(2);
const urlAt = args.indexOf('--url');
const base = urlAt >= 0 ? args.splice(urlAt, 2)[1] : `ws://127.0.0.1:${process.env.WS_PORT ?? 3001}`;
const [token, device] = args;
if (!token) {
  console.error('usage: npm run ws -- <token> [device] [--url ws://127.0.0.1:3001]');
  process.exit(2);
}
const q = new URLSearchParams({ token });
if (device) q.set('device', device);
const ws = new WebSocket(`${base}/?${q}`);
ws.on('unexpected-response', (_req, res) => {
  console.error(`handshake refused: ${res.statusCode}`);
  process.exit(1);
});
ws.on('error', (err) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
ws.on('open', () => {
  console.error(`connected to ${base}${device ? ` as device ${device}` : ''}; type JSON messages, Ctrl-D to quit`);
  const hb = setInterval(() => ws.send(JSON.stringify({ action: 'heartbeat' })), 30_000);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim()) ws.send(line.trim());
  });
  rl.on('close', () => {
    clearInterval(hb);
    ws.close();
  });
});
ws.on('message', (data) => console.log(data.toString()));
ws.on('close', (code) => {
  console.error(`closed (${code})`);
  process.exit(0);
});
