import { defineCommand } from './types.ts';
import { UserError } from '../../engine/errors.ts';
import { parseBulkCsv } from '../parse/parse-csv.ts';
import { ASK_OPTIONS, addRows } from './add.ts';

/** Largest bulk input accepted at once (lines). */
export const BULK_MAX_LINES = 20_000;

/** `bulk`: many mailboxes from a CSV (attached, pasted under the command, or a file on the server from the console). */
export const bulk = defineCommand({
  name: 'bulk',
  summary: 'Add many mailboxes from a CSV: source,destination[,source_login,destination_login].',
  args: [],
  options: [
    ...ASK_OPTIONS,
    {
      name: 'file',
      kind: 'string',
      value: 'PATH',
      summary: 'Read the CSV from a file on the MailFerry server.',
      surfaces: ['console'],
    },
  ],
  examples: ['/migrate bulk  (with a CSV file attached, or CSV lines pasted under the command)'],
  admin: true,
  body: true,
  async handler(ctx, { opts, body }) {
    let text = body ?? ctx.attachments.map((a) => a.text).join('\n');
    if (opts.file !== undefined) {
      if (!ctx.services.readLocalFile) throw new UserError('NO_FILES', 'Reading files is not available here.');
      text = await ctx.services.readLocalFile(opts.file);
    }
    if (!text.trim())
      throw new UserError(
        'BULK_EMPTY',
        'No CSV came with the command.',
        'Attach a CSV file, or paste lines under `/migrate bulk`: source,destination[,source_login,destination_login]',
      );
    const lineCount = text.split('\n').length;
    if (lineCount > BULK_MAX_LINES)
      throw new UserError(
        'BULK_TOO_LARGE',
        `The CSV has ${lineCount} lines; at most ${BULK_MAX_LINES} are accepted at once. Split it.`,
      );
    const { rows, refused } = parseBulkCsv(text);
    await addRows(ctx, rows, refused, opts);
  },
});
