/**
 * Renders a fixture report's thread as the phone shows it, with headless Chromium (Debian's `chromium`), and prints
 * its height in px:
 *   tsx test/support/phone-shot.ts mixed-24 /tmp/mixed-24.png
 * Used to look at the views, not by the tests (they lay the blocks out with test/support/phone-layout.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PHONE } from './phone-layout.js';
import { threadHtml, type PhoneMessage } from './phone-html.js';
import { loadReportFixture, type ReportFixture } from './report-fixtures.js';
import { alertThread, chartThread, homeScreen, resolvedThread } from './alert-fixture.js';
import { phoneThread } from './phone-thread.js';

function chromium(args: string[], profile: string): string {
  return execFileSync(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--hide-scrollbars',
      '--allow-file-access-from-files',
      `--user-data-dir=${profile}`,
      ...args,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 },
  );
}

/** The height of the page in px, then a screenshot of all of it. */
export function shoot(messages: readonly PhoneMessage[], png: string): number {
  const dir = mkdtempSync(join(tmpdir(), 'zs-phone-'));
  try {
    const page = join(dir, 'thread.html');
    const measure = `<script>window.addEventListener('load',()=>{document.fonts.ready.then(()=>{const d=document.createElement('div');d.id='height';d.textContent=String(document.body.scrollHeight);document.body.append(d);});});</script>`;
    writeFileSync(page, threadHtml(messages).replace('</body>', `${measure}</body>`));
    const dom = chromium(['--virtual-time-budget=5000', '--dump-dom', `file://${page}`], join(dir, 'p1'));
    const height = Number(/<div id="height">(\d+)<\/div>/.exec(dom)?.[1] ?? NaN);
    writeFileSync(page, threadHtml(messages));
    chromium(['--virtual-time-budget=5000', `--window-size=${PHONE.screen},${height}`, `--screenshot=${png}`, `file://${page}`], join(dir, 'p2'));
    return height;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [name, png] = process.argv.slice(2);
  if (!name || !png) throw new Error('usage: tsx test/support/phone-shot.ts <fixture | watch-alert | watch-resolved | home | watch-chart> <out.png>');
  const thread =
    name === 'watch-alert'
      ? alertThread()
      : name === 'watch-resolved'
        ? resolvedThread()
        : name === 'home'
          ? homeScreen()
          : name === 'watch-chart'
            ? chartThread()
        : (() => {
            const { report, now } = loadReportFixture(name as ReportFixture);
            return phoneThread(report, now);
          })();
  const height = shoot(thread, png);
  process.stdout.write(`${name}: ${height} px\n`);
}
