// Flag parsing for every command (node:util parseArgs), with one shape of help text and usage errors.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { invalidInput } from '../errors.js';

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** One line per option: `--flag VALUE  what it does (env NAME, default X)`. */
  optionHelp: string[];
  examples: string[];
  allowPositionals?: boolean;
}

export function helpText(spec: CommandSpec): string {
  return [
    `meshca ${spec.name} — ${spec.summary}`,
    '',
    `Usage: ${spec.usage}`,
    '',
    'Options:',
    ...spec.optionHelp.map((l) => `  ${l}`),
    '  -h, --help              show this help',
    '',
    'Examples:',
    ...spec.examples.map((l) => `  ${l}`),
    '',
  ].join('\n');
}

export type ParsedArgs = {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
};

/** Parses argv for `spec`; returns undefined after printing help when -h/--help is given. */
export function parseCommandArgs(
  spec: CommandSpec,
  argv: string[],
  out: (s: string) => void,
): ParsedArgs | undefined {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    }) as ParsedArgs;
  } catch (err) {
    throw invalidInput(
      'CLI_USAGE',
      `${(err as Error).message}\nUsage: ${spec.usage}\n(see "meshca ${spec.name} --help")`,
    );
  }
  if (parsed.values.help) {
    out(helpText(spec));
    return undefined;
  }
  return parsed;
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const list = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
