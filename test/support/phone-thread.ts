/** The messages the bot posts for a report, as PhoneMessages: the parent, the report in the thread, the files. */
import type { DistributedReport } from '../../src/core/report.js';
import { finishedBlocks, reportBlocks } from '../../src/views/blocks.js';
import type { PhoneMessage } from './phone-html.js';

export async function phoneThread(report: DistributedReport, _now: Date): Promise<PhoneMessage[]> {
  const header = { user: 'U0ONCALL', text: report.targets.join(' '), groups: report.groups, addresses: report.planned };
  const view = reportBlocks(report, header);
  const messages: PhoneMessage[] = [{ blocks: finishedBlocks(header, report) }, { blocks: view.blocks }];
  if (view.folded) messages.push({ files: [{ name: `${header.text}: every host` }] });
  return messages;
}
