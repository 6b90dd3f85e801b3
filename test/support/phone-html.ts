/**
 * A Slack thread as the mobile app lays it out, as HTML, for a look with headless Chromium and for measuring its
 * height: a 390 px wide screen, a 36 px avatar and a 306 px text column beside it, 15 px Lato on 22 px lines,
 * inline emoji drawn 22 px wide, code spans in a monospace font. The fonts are the files
 * test/support/phone-layout.ts measures with, so the picture and the layout model agree.
 */
import { PHONE, PHONE_FONTS, withEmoji } from './phone-layout.js';

/** One message of the thread, as the bot posted it. */
export interface PhoneMessage {
  /** Top-level text, shown when there are no blocks (and as a file's comment). */
  text?: string;
  blocks?: readonly unknown[];
  /** Files shared with the message: an image is drawn at the column's width, anything else as a file card. */
  files?: readonly PhoneFile[];
}

export interface PhoneFile {
  name: string;
  /** For an image: its bytes, shown inline. */
  png?: Buffer;
}

interface Block {
  type: string;
  text?: { type: string; text: string };
  elements?: { type: string; text?: string | { text: string }; style?: string }[];
  fields?: { text: string }[];
  alt_text?: string;
  accessory?: { type: string; text?: { text: string } };
}

const EMOJI = /(\p{Extended_Pictographic}\uFE0F?|[\u25AA\u25AB\u25FB-\u25FE\u2B1B\u2B1C]\uFE0F?)/gu;

/** Slack mrkdwn (already escaped with &amp; &lt; &gt;) as HTML. */
export function mrkdwnHtml(mrkdwn: string): string {
  const parts = withEmoji(mrkdwn).split(/(```[\s\S]*?```|`[^`\n]+`)/);
  return parts
    .map((part) => {
      if (part.startsWith('```') && part.endsWith('```') && part.length >= 6) return `<pre>${part.slice(3, -3)}</pre>`;
      if (part.startsWith('`') && part.endsWith('`') && part.length >= 2) return `<code>${part.slice(1, -1)}</code>`;
      return part
        .replace(/&lt;@(\w+)&gt;|<@(\w+)>/g, (_, a: string | undefined, b: string | undefined) => `<span class="mention">@${a ?? b ?? ''}</span>`)
        .replace(/<([^|>]+)\|([^>]+)>/g, '<a>$2</a>')
        .replace(/(^|[\s(])\*([^*\n]+)\*/g, '$1<b>$2</b>')
        .replace(/(^|[\s(])_([^_\n]+)_/g, '$1<i>$2</i>')
        .replace(EMOJI, '<span class="e">$1</span>')
        .replace(/\n/g, '<br>');
    })
    .join('');
}

function blockHtml(block: Block): string {
  switch (block.type) {
    case 'section': {
      // A button beside the text (an accessory) takes the right of the column, as Slack draws it.
      const accessory = block.accessory?.type === 'button' ? `<span class="button" style="float:right;margin:0 0 4px 8px">${block.accessory.text?.text ?? ''}</span>` : '';
      return `<div class="section">${accessory}${mrkdwnHtml(block.text?.text ?? '')}${(block.fields ?? []).map((f) => `<div>${mrkdwnHtml(f.text)}</div>`).join('')}</div>`;
    }
    case 'context':
      return `<div class="context">${(block.elements ?? []).map((e) => mrkdwnHtml(typeof e.text === 'string' ? e.text : '')).join(' ')}</div>`;
    case 'actions':
      return `<div class="actions">${(block.elements ?? [])
        .map((e) => `<span class="button ${e.style ?? ''}">${typeof e.text === 'object' ? e.text.text : ''}</span>`)
        .join('')}</div>`;
    case 'divider':
      return '<hr>';
    case 'header':
      return `<div class="header">${block.text?.text ?? ''}</div>`;
    default:
      return `<div class="section">[${block.type}]</div>`;
  }
}

function messageHtml(message: PhoneMessage, index: number): string {
  const body = message.blocks && message.blocks.length > 0 ? (message.blocks as Block[]).map(blockHtml).join('') : `<div class="section">${mrkdwnHtml(message.text ?? '')}</div>`;
  const files = (message.files ?? [])
    .map((file) =>
      file.png
        ? `<img class="picture" src="data:image/png;base64,${file.png.toString('base64')}" alt="${file.name}">`
        : `<div class="file"><span class="icon">CSV</span><b>${file.name}</b></div>`,
    )
    .join('');
  const divider = index === 1 ? '<div class="replies">replies</div>' : '';
  return `${divider}<div class="message"><div class="avatar"></div><div class="column"><div class="name"><b>ZenSweep</b> <span class="app">APP</span> <span class="time">03:47</span></div>${body}${files}</div></div>`;
}

/** The whole thread as one HTML page, 390 px wide. */
export function threadHtml(messages: readonly PhoneMessage[]): string {
  const font = (family: string, file: string, weight = 'normal') =>
    `@font-face{font-family:'${family}';src:url('file://${file}');font-weight:${weight};}`;
  return `<!doctype html><html><head><meta charset="utf-8"><style>
${font('PhoneText', PHONE_FONTS.regular)}
${font('PhoneText', PHONE_FONTS.bold, 'bold')}
${font('PhoneMono', PHONE_FONTS.mono)}
html,body{margin:0;padding:0;background:#fff;width:${PHONE.screen}px;}
body{font-family:'PhoneText',sans-serif;font-size:${PHONE.fontPx}px;line-height:${PHONE.linePx}px;color:#1d1c1d;font-kerning:normal;}
.message{display:flex;padding:8px ${PHONE.screen - PHONE.left - PHONE.avatar - PHONE.gap - PHONE.column}px 8px ${PHONE.left}px;}
.avatar{width:${PHONE.avatar}px;height:${PHONE.avatar}px;border-radius:8px;background:#4a154b;flex:none;margin-right:${PHONE.gap}px;}
.column{width:${PHONE.column}px;flex:none;overflow-wrap:anywhere;}
.name{height:${PHONE.linePx}px;} .app{font-size:10px;background:#eee;padding:0 3px;border-radius:2px;color:#666;} .time{font-size:12px;color:#888;}
.section{margin-top:4px;white-space:normal;}
.context{margin-top:4px;font-size:${PHONE.contextFontPx}px;line-height:${PHONE.contextLinePx}px;color:#616061;}
.actions{margin-top:8px;display:flex;flex-wrap:wrap;gap:8px;}
.button{display:inline-block;height:32px;line-height:30px;padding:0 12px;border:1px solid #ccc;border-radius:6px;font-weight:bold;font-size:14px;}
.button.primary{background:#007a5a;color:#fff;} .button.danger{color:#e01e5a;}
code{font-family:'PhoneMono',monospace;font-size:${PHONE.monoFontPx}px;padding:0 ${PHONE.codePadPx}px;border:1px solid #e0e0e0;border-radius:3px;color:#c01343;background:#f8f8f8;}
pre{font-family:'PhoneMono',monospace;font-size:${PHONE.monoFontPx}px;margin:4px 0;padding:6px;border:1px solid #e0e0e0;border-radius:4px;white-space:pre-wrap;}
.e{display:inline-block;width:${PHONE.emojiPx}px;height:${PHONE.linePx}px;text-align:center;font-family:'Noto Color Emoji';font-size:18px;line-height:${PHONE.linePx}px;vertical-align:top;}
.mention{color:#1264a3;background:#e8f5fa;}
.picture{display:block;width:${PHONE.column}px;height:auto;margin-top:6px;border-radius:6px;border:1px solid #eee;box-sizing:border-box;}
.file{margin-top:6px;height:52px;border:1px solid #ddd;border-radius:8px;display:flex;align-items:center;gap:8px;padding:0 8px;font-size:14px;}
.file .icon{background:#2bac76;color:#fff;font-size:11px;font-weight:bold;border-radius:4px;padding:10px 6px;}
.replies{border-top:1px solid #eee;border-bottom:1px solid #eee;color:#616061;font-size:13px;padding:6px 16px;}
</style></head><body>${messages.map(messageHtml).join('')}</body></html>`;
}
