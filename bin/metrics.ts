/**
 * `npm run metrics [-- --url http://127.0.0.1:3000] [--json] [--reset]`: the
 * CloudWatch metrics the functions of a running `npm start` emitted so far
 * (the EMF lines Powertools Metrics writes, summed per metric name by the
 * local stack: GET /__local/metrics, field `emf`), as a table; `--json`
 * prints them as served, `--reset` sets every counter of /__local/metrics
 * back to zero afterwards. docs/observability.md says what each metric is.
 */
import type { LocalMetricsSnapshot } from '../local/metrics.ts';

const args = process.argv.slice(2);
const urlAt = args.indexOf('--url');
const base = urlAt >= 0 ? args.splice(urlAt, 2)[1] : `http://127.0.0.1:${process.env.PORT ?? 3000}`;
const res = await fetch(`${base}/__local/metrics`).catch((err: Error) => {
  console.error(`no local stack at ${base} (${err.message}): start it with npm start`);
  process.exit(1);
});
const { emf } = (await res.json()) as LocalMetricsSnapshot;
if (args.includes('--json')) console.log(JSON.stringify(emf, null, 2));
else {
  const rows = Object.entries(emf.metrics).sort(([a], [b]) => a.localeCompare(b));
  const round = (n: number) => String(Math.round(n * 10) / 10);
  const table = [
    ['metric', 'unit', 'samples', 'sum', 'min', 'max', 'average'],
    ...rows.map(([name, s]) => [name, s.unit, String(s.samples), round(s.sum), round(s.min), round(s.max), round(s.sum / s.samples)]),
  ];
  const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of table) console.log(r.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
  console.log(
    `\nnamespace ${emf.namespaces.join(', ') || '(none yet)'}; ${Object.entries(emf.dimensions)
      .map(([d, v]) => `${d}: ${v.join(', ')}`)
      .join('; ')}`,
  );
}
if (args.includes('--reset')) await fetch(`${base}/__local/metrics`, { method: 'DELETE' });
