/**
 * The report of a run: its figures as table rows (report-rows*.ts), the targets judged on them,
 * the markdown tables (report-base.ts) and docs/benchmarks.md (report-doc.ts).
 */
import { verdict, type Ctx, type Row, type RunReport, type TargetRow } from './report-base.js';
import { rowsB0, rowsB1, rowsB2, rowsB3 } from './report-rows.js';
import { rowsB4, rowsB5, rowsB6, rowsB7, rowsTrustOff } from './report-rows-fleet.js';

export { markdownTable, targetsTable, TARGETS, type PeerResults, type Row, type RunReport, type TargetRow } from './report-base.js';
export { benchmarksDoc } from './report-doc.js';

export function buildTable(r: RunReport['results'], quick: boolean): { table: Row[]; targets: TargetRow[] } {
  const rows: Row[] = [];
  const targets: TargetRow[] = [];
  const c: Ctx = {
    rows,
    quick,
    /** A target judged here; in quick mode the sizes differ from the issue's, so nothing is judged. */
    judge: (id, target, measured, ok) => {
      const met = quick ? undefined : ok;
      targets.push({ id, target, measured, met });
      return `${target}: ${verdict(met)}`;
    },
  };
  const peer = r.peer;
  if (r.B0 !== undefined) rowsB0(c, r.B0);
  if (r.B1 !== undefined) rowsB1(c, r.B1, peer?.B1);
  if (r.B2 !== undefined) rowsB2(c, r.B2, peer?.B2);
  if (r.B3 !== undefined) rowsB3(c, r.B3, peer?.B3);
  if (r.B4 !== undefined) rowsB4(c, r.B4);
  if (r.B5 !== undefined) rowsB5(c, r.B5, peer?.B5);
  if (r.B6 !== undefined) rowsB6(c, r.B6, peer?.B6);
  if (r.trustOff !== undefined) rowsTrustOff(c, r, r.trustOff);
  if (r.B7 !== undefined) rowsB7(c, r.B7);
  return { table: rows, targets };
}
