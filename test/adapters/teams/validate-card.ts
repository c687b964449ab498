import * as AC from 'adaptivecards';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// ajv-formats is CommonJS: its default export arrives wrapped under Node's ESM loader.
const addFormats: (ajv: Ajv) => Ajv = (addFormatsModule as any).default ?? addFormatsModule;

/** The official Adaptive Cards 1.5 JSON schema (test/fixtures/adaptive-cards, unmodified copy). */
export const CARD_SCHEMA = JSON.parse(
  readFileSync(new URL('../../fixtures/adaptive-cards/adaptive-card.json', import.meta.url), 'utf8'),
);

let compiled: { ajv: Ajv; card: ValidateFunction; byType: Map<string, ValidateFunction> } | undefined;

/**
 * Compiles the schema once. It declares draft-06, whose meta-schema ajv ships separately;
 * it names itself with draft-04's `id`, which ajv 8 refuses, so the in-memory copy carries
 * the same URI as `$id`. `version`, `features` and `example` are the schema's own
 * annotations (not JSON-schema keywords).
 */
function schema() {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  ajv.addVocabulary(['version', 'features', 'example']);
  addFormats(ajv);
  const { id, ...rest } = CARD_SCHEMA;
  const card = ajv.compile({ $id: id, ...rest });
  const byType = new Map<string, ValidateFunction>();
  for (const name of Object.keys(CARD_SCHEMA.definitions)) {
    const fn = ajv.getSchema(`${id}#/definitions/${name}`);
    if (fn) byType.set(name, fn);
  }
  compiled = { ajv, card, byType };
  return compiled;
}

/**
 * Validates a card against the official 1.5 JSON schema. The schema's answer is the
 * verdict; the messages come from checking every typed element against its own definition
 * (the schema's anyOf over all element types otherwise reports every non-matching type),
 * e.g. `/body/9/value must be number`.
 */
export function validateSchema(card: unknown): string[] {
  const { card: whole, byType } = schema();
  if (whole(card)) return [];
  const out: string[] = [];
  const typed = (v: unknown): v is { type: string } =>
    !!v && typeof v === 'object' && typeof (v as any).type === 'string' && byType.has((v as any).type);
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        walk(v, `${path}/${i}`);
      });
      return;
    }
    if (!node || typeof node !== 'object') return;
    if (typed(node) && path !== '') {
      const fn = byType.get(node.type)!;
      if (!fn(node))
        for (const e of fn.errors ?? []) {
          if (e.keyword === 'anyOf' || e.keyword === 'allOf') continue;
          // An error inside a nested typed element is reported by that element.
          const segs = e.instancePath.split('/').slice(1);
          let inner: unknown = node;
          let nested = false;
          for (const s of segs) {
            inner = (inner as any)?.[s];
            if (typed(inner)) nested = true;
          }
          if (!nested) out.push(`${path}${e.instancePath} ${e.message}`);
        }
    }
    for (const [k, v] of Object.entries(node)) walk(v, `${path}/${k}`);
  };
  walk(card, '');
  if (out.length === 0)
    for (const e of whole.errors ?? []) if (e.keyword !== 'anyOf') out.push(`${e.instancePath || '/'} ${e.message}`);
  return [...new Set(out)].map((m) => `schema: ${m}`);
}

/**
 * Checks a card three ways and returns every problem found: against the official Adaptive
 * Cards 1.5 JSON schema (strict where the native renderers are), then parsed with the
 * Adaptive Cards library at schema 1.5 (its warnings and validation events; the library
 * does not enforce the version itself, so the version is checked here too).
 */
export function validate(card: any): string[] {
  const problems: string[] = [];
  if (card.version !== '1.5') problems.push(`version ${card.version}`);
  if (JSON.stringify(card).includes('${')) problems.push('unexpanded template binding');
  problems.push(...validateSchema(card));
  const ctx = new AC.SerializationContext(AC.Versions.v1_5);
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, ctx);
  for (let i = 0; i < ctx.eventCount; i++) {
    const e = ctx.getEventAt(i);
    problems.push(`parse: ${e.message}`);
  }
  for (const e of parsed.validateProperties().validationEvents) problems.push(`validate: ${e.message}`);
  return problems;
}
