/**
 * Checks the layout model (test/support/phone-layout.ts) against Chromium's own layout: each line of the fixture
 * threads, and lines made to wrap, laid out by both; prints every line on which they disagree.
 *   tsx test/support/phone-check.ts
 * Needs Debian's chromium. Run by hand when the model or the fonts change, not by the tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PHONE, PHONE_FONTS, phoneRows, phoneThreadHeight, pngSize } from './phone-layout.js';
import { shoot } from './phone-shot.js';
import { mrkdwnHtml } from './phone-html.js';
import { loadReportFixture, REPORT_FIXTURES } from './report-fixtures.js';
import { phoneThread } from './phone-thread.js';

interface Sample {
  line: string;
  context: boolean;
}

function samples(): Sample[] {
  const out: Sample[] = [];
  for (const name of REPORT_FIXTURES) {
    const { report, now } = loadReportFixture(name);
    for (const message of phoneThread(report, now)) {
      for (const block of (message.blocks ?? []) as { type: string; text?: { text: string }; elements?: { text?: unknown }[] }[]) {
        if (block.type === 'section') for (const line of block.text?.text.split('\n') ?? []) out.push({ line, context: false });
        if (block.type === 'context') for (const e of block.elements ?? []) if (typeof e.text === 'string') out.push({ line: e.text, context: true });
      }
      if (!message.blocks && message.text) out.push({ line: message.text, context: false });
    }
  }
  const words = 'communication administratively prohibited, said router 198.18.0.254 host unreachable';
  for (let n = 20; n <= words.length; n += 3) out.push({ line: `\`198.18.${n}.1\` ${words.slice(0, n)}`, context: false });
  for (let n = 1; n <= 30; n += 1) out.push({ line: Array.from({ length: n }, (_, i) => `198.18.${i}.2\u2013\u2060${i + 9}`).join(', '), context: false });
  for (let n = 10; n <= 18; n += 1) out.push({ line: '🟩'.repeat(n), context: false });
  return out;
}

const list = samples();
const dir = mkdtempSync(join(tmpdir(), 'zs-phone-check-'));
try {
  const font = (family: string, file: string, weight = 'normal') => `@font-face{font-family:'${family}';src:url('file://${file}');font-weight:${weight};}`;
  const page = `<!doctype html><html><head><meta charset="utf-8"><style>
${font('PhoneText', PHONE_FONTS.regular)}${font('PhoneText', PHONE_FONTS.bold, 'bold')}${font('PhoneMono', PHONE_FONTS.mono)}
body{margin:0;font-family:'PhoneText';font-size:${PHONE.fontPx}px;line-height:${PHONE.linePx}px;font-kerning:normal;}
div.l{width:${PHONE.column}px;overflow-wrap:anywhere;} div.c{font-size:${PHONE.contextFontPx}px;line-height:${PHONE.contextLinePx}px;}
code{font-family:'PhoneMono';font-size:${PHONE.monoFontPx}px;padding:0 ${PHONE.codePadPx}px;border:1px solid #ddd;line-height:1;}
.e{display:inline-block;width:${PHONE.emojiPx}px;height:${PHONE.linePx}px;vertical-align:top;font-size:18px;line-height:${PHONE.linePx}px;}
</style></head><body>${list.map((s, i) => `<div class="l${s.context ? ' c' : ''}" id="s${i}">${mrkdwnHtml(s.line)}</div>`).join('')}
<script>document.fonts.ready.then(()=>{const out=[];document.querySelectorAll('div.l').forEach(d=>{const lh=d.classList.contains('c')?${PHONE.contextLinePx}:${PHONE.linePx};out.push(Math.round(d.getBoundingClientRect().height/lh));});const p=document.createElement('pre');p.id='rows';p.textContent=JSON.stringify(out);document.body.append(p);});</script></body></html>`;
  writeFileSync(join(dir, 'check.html'), page);
  const dom = execFileSync(
    'chromium',
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--allow-file-access-from-files', `--user-data-dir=${join(dir, 'profile')}`, '--virtual-time-budget=5000', '--dump-dom', `file://${join(dir, 'check.html')}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 },
  );
  const chromium = JSON.parse(/<pre id="rows">([^<]*)<\/pre>/.exec(dom)?.[1] ?? '[]') as number[];
  let differ = 0;
  list.forEach((sample, i) => {
    const model = phoneRows(sample.line, { context: sample.context });
    if (model !== chromium[i]) {
      differ += 1;
      process.stdout.write(`differ: model ${model}, chromium ${chromium[i]}: ${sample.line}\n`);
    }
  });
  process.stdout.write(`${list.length} lines, ${differ} laid out differently\n`);
  for (const name of REPORT_FIXTURES) {
    const { report, now } = loadReportFixture(name);
    const thread = phoneThread(report, now);
    const model = phoneThreadHeight(
      thread.map((m) => ({ ...m, files: (m.files ?? []).map((f) => (f.png ? { picture: pngSize(f.png) } : {})) })),
    );
    process.stdout.write(`${name}: the model says ${model} px, Chromium ${shoot(thread, join(dir, `${name}.png`))} px\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
