/** The per-source coverage table of the Management page and the evidence pack. */

import type { JSX } from "hono/jsx/jsx-runtime";
import { count } from "./format.ts";
import { Text } from "./text.tsx";

/** One source's row, its times already formatted by the page ("—" when it has none). */
export interface CoverageRow {
  source: string;
  events: number;
  first: string;
  last: string;
}

export function CoverageTable(props: { rows: CoverageRow[]; id?: string }): JSX.Element {
  return (
    <table id={props.id}>
      <thead>
        <tr>
          <th>source</th>
          <th class="num">events</th>
          <th>first</th>
          <th>last</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => (
          <tr>
            <td>
              <Text value={r.source} />
            </td>
            <td class="num">{count(r.events)}</td>
            <td>{r.first}</td>
            <td>{r.last}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
