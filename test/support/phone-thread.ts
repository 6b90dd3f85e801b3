/**
 * The messages the bot posts for a report (src/slack/reporter.ts), as the phone shows them: the parent message,
 * the report in its thread, and the reply with the map picture and the CSV.
 */
import type { DistributedReport } from '../../src/core/report.js';
import { mapPng } from '../../src/slack/map-picture.js';
import { filesComment, finishedBlocks, reportBlocks } from '../../src/views/blocks.js';
import { mapSvg, sweepMap } from '../../src/views/map.js';
import type { PhoneMessage } from './phone-html.js';

export function phoneThread(report: DistributedReport, now: Date): PhoneMessage[] {
  const header = { user: 'U0ONCALL', text: report.targets.join(' '), groups: report.groups, addresses: report.planned };
  const view = reportBlocks(report, header, now);
  const map = sweepMap(report);
  return [
    { blocks: finishedBlocks(header, report) },
    { blocks: view.blocks },
    {
      text: filesComment(report, map),
      files: [...(map ? [{ name: 'map.png', png: mapPng(mapSvg(map)) }] : []), { name: 'Every host (CSV)' }],
    },
  ];
}
