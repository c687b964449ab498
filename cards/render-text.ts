import type { Block, Message } from './model.ts';

/** Renders a message as plain text (console, logs of what was posted, fallbacks). */
export function renderText(m: Message): string {
  return m.blocks.map(renderBlock).filter(Boolean).join('\n');
}

function renderBlock(b: Block): string {
  switch (b.type) {
    case 'header':
      return `== ${b.text} ==`;
    case 'text':
      return b.text;
    case 'facts': {
      const w = Math.max(...b.facts.map((f) => f.label.length));
      return b.facts.map((f) => `  ${(f.label + ':').padEnd(w + 1)} ${f.value}`).join('\n');
    }
    case 'list':
      return b.items.map((i) => `  • ${i}`).join('\n') + (b.more ? `\n  ${b.more}` : '');
    case 'code':
      return b.text
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n');
    case 'context':
      return `  (${b.text})`;
    case 'actions':
      return b.actions.map((a) => `  [${a.label}] ${'url' in a ? a.url : a.command}`).join('\n');
  }
}
