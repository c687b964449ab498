import type { Block, Message } from './model.ts';

/** An email ready for a transport: subject, plain-text part, HTML part. */
export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Chat markup (`*bold*`, `` `code` ``) is not email markup: drop the markers, keep the words. */
function unmark(s: string): string {
  return s.replace(/\*([^*\n]+)\*/g, '$1').replace(/`([^`\n]+)`/g, '$1');
}

/** Only http(s) links become buttons; anything else is shown as text. */
function safeHref(url: string): string | undefined {
  return /^https?:\/\//i.test(url) ? url : undefined;
}

function textBlock(b: Block): string {
  switch (b.type) {
    case 'header':
      return `${unmark(b.text)}\n${'='.repeat(Math.min(60, b.text.length))}`;
    case 'text':
      return unmark(b.text);
    case 'facts': {
      const w = Math.max(...b.facts.map((f) => f.label.length));
      return b.facts.map((f) => `${(f.label + ':').padEnd(w + 1)} ${unmark(f.value)}`).join('\n');
    }
    case 'list':
      return b.items.map((i) => `- ${unmark(i)}`).join('\n') + (b.more ? `\n${b.more}` : '');
    case 'code':
      return b.text;
    case 'context':
      return unmark(b.text);
    case 'actions':
      return b.actions.map((a) => ('url' in a ? `${a.label}:\n${a.url}` : `${a.label}: ${a.command}`)).join('\n\n');
  }
}

const FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";

function htmlBlock(b: Block): string {
  switch (b.type) {
    case 'header':
      return (
        `<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3;color:#0f172a;` +
        `${FONT}">${escapeHtml(unmark(b.text))}</h1>`
      );
    case 'text':
      return (
        `<p style="margin:0 0 16px;font-size:16px;line-height:1.5;color:#1e293b;` +
        `${FONT}">${escapeHtml(unmark(b.text))}</p>`
      );
    case 'facts':
      return (
        `<table role="presentation" cellpadding="0" cellspacing="0" ` +
        `style="margin:0 0 16px;border-collapse:collapse;width:100%">` +
        b.facts
          .map(
            (f) =>
              `<tr><th scope="row" style="width:1%;text-align:left;vertical-align:top;padding:4px ` +
              `16px 4px 0;font-size:14px;color:#475569;` +
              `font-weight:600;white-space:nowrap;${FONT}">${escapeHtml(f.label)}</th>` +
              `<td style="padding:4px 0;font-size:14px;color:#0f172a;word-break:break-all;` +
              `${FONT}">${escapeHtml(unmark(f.value))}</td></tr>`,
          )
          .join('') +
        `</table>`
      );
    case 'list':
      return (
        `<ul style="margin:0 0 16px;padding-left:20px;font-size:16px;line-height:1.5;color:#1e293b;` +
        `${FONT}">${b.items.map((i) => `<li>${escapeHtml(unmark(i))}</li>`).join('')}` +
        `${b.more ? `<li>${escapeHtml(b.more)}</li>` : ''}</ul>`
      );
    case 'code':
      return (
        `<pre style="margin:0 0 16px;padding:12px;background:#f1f5f9;` +
        `border-radius:6px;font-size:13px">${escapeHtml(b.text)}</pre>`
      );
    case 'context':
      return (
        `<p style="margin:0 0 16px;font-size:13px;line-height:1.5;color:#64748b;` +
        `${FONT}">${escapeHtml(unmark(b.text))}</p>`
      );
    case 'actions':
      return b.actions
        .map((a) => {
          const href = 'url' in a ? safeHref(a.url) : undefined;
          if (!href)
            return (
              `<p style="margin:0 0 16px;font-size:14px;${FONT}">${escapeHtml(a.label)}` +
              `: ${escapeHtml('url' in a ? a.url : a.command)}</p>`
            );
          return (
            `<table role="presentation" cellpadding="0" cellspacing="0" style="margin:8px ` +
            `0 24px"><tr><td style="border-radius:6px;background:#1d4ed8">` +
            `<a href="${escapeHtml(href)}" style="display:inline-block;padding:12px ` +
            `22px;font-size:16px;font-weight:600;color:#ffffff;` +
            `text-decoration:none;border-radius:6px;${FONT}">${escapeHtml(a.label)}</a>` +
            `</td></tr></table>` +
            `<p style="margin:0 0 16px;font-size:13px;line-height:1.5;color:#64748b;${FONT}">If ` +
            `the button does not work, copy this address into your browser:<br><a href="${escapeHtml(href)}" ` +
            `style="color:#1d4ed8;word-break:break-all">${escapeHtml(href)}</a></p>`
          );
        })
        .join('');
  }
}

/**
 * Renders a message as an email: a plain-text part and an HTML part saying the same
 * (every value escaped; inline styles only, as mail clients strip style sheets).
 */
export function renderEmail(m: Message, subject: string): RenderedEmail {
  const text =
    m.blocks.map(textBlock).filter(Boolean).join('\n\n') +
    '\n\n-- \nSent by MailFerry on behalf of your IT administrator.\n';
  const html =
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta ` +
    `name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${escapeHtml(subject)}</title></head>` +
    `<body style="margin:0;padding:0;background:#f1f5f9">` +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" ` +
    `style="background:#f1f5f9"><tr><td align="center" style="padding:24px 12px">` +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" ` +
    `style="max-width:560px;background:#ffffff;border-radius:8px;border:1px solid #e2e8f0">` +
    `<tr><td style="padding:20px 28px;border-bottom:1px solid ` +
    `#e2e8f0;font-size:14px;font-weight:700;color:#1d4ed8;${FONT}">MailFerry &middot; mailbox migration</td></tr>` +
    `<tr><td style="padding:28px">${m.blocks.map(htmlBlock).join('')}</td></tr>` +
    `</table>` +
    `<p style="margin:16px 0 0;font-size:12px;color:#94a3b8;${FONT}">Sent ` +
    `by MailFerry on behalf of your IT administrator.</p>` +
    `</td></tr></table></body></html>`;
  return { subject, text, html };
}
