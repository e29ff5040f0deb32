// Collecting problems and notes while reading YAML documents, each tagged with where it was found
// (`<file>: document <n> (<kind> <name>): <field path>`), and typed reads of untyped YAML values.
import { closeMatch } from './close-match.js';

/** Where one object was found: a file, the document's position in it, and, inside a List, the item. */
export interface DocRef {
  readonly file: string;
  /** 1-based position of the YAML document in the file. */
  readonly index: number;
  readonly kind?: string;
  readonly name?: string;
  /** `items[<i>].` for an object inside a `kind: List` document, else ''. */
  readonly itemPath: string;
}

export function describeDoc(ref: DocRef): string {
  const what =
    ref.kind === undefined ? '' : ref.name === undefined ? ` (${ref.kind})` : ` (${ref.kind} ${ref.name})`;
  return `${ref.file}: document ${ref.index}${what}`;
}

interface Finding {
  readonly file: string;
  /** The document's position, 0 for the file as a whole. */
  readonly index: number;
  readonly text: string;
}

/** Everything found wrong (problems) or accepted but unused (notes) in one load. */
export class Findings {
  private readonly problemList: Finding[] = [];
  private readonly noteList: Finding[] = [];

  problem(file: string, index: number, text: string): void {
    this.problemList.push({ file, index, text });
  }

  note(file: string, index: number, text: string): void {
    this.noteList.push({ file, index, text });
  }

  get problemCount(): number {
    return this.problemList.length;
  }

  /** Problems in file order, then document order (checks across documents run last, yet read in place). */
  problems(files: readonly string[]): string[] {
    return inFileOrder(this.problemList, files);
  }

  notes(files: readonly string[]): string[] {
    return inFileOrder(this.noteList, files);
  }
}

function inFileOrder(findings: readonly Finding[], files: readonly string[]): string[] {
  const rank = (f: Finding) => files.indexOf(f.file);
  // Array#sort is stable: findings of one document keep the order they were found in.
  return [...findings].sort((a, b) => rank(a) - rank(b) || a.index - b.index).map((f) => f.text);
}

export type YamlMapping = Record<string, unknown>;

export function isMapping(value: unknown): value is YamlMapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeType(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

export const joinPath = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;

/** Which keys of a mapping are read, known but unused, or (for a closed schema) not allowed. */
export interface FieldRules {
  readonly read: readonly string[];
  /** Known fields meshca has no use for: listed in the document's note. */
  readonly ignored?: readonly string[];
  /** Fields dropped without a note (bookkeeping such as `status`). */
  readonly silent?: readonly string[];
  /** When true an unknown field is a problem (a small schema meshca reads whole); else it is noted. */
  readonly closed: boolean;
}

/** One document's view of the findings: problems and notes carry its location. */
export class DocScope {
  readonly source: string;
  private readonly ignoredPaths: string[] = [];

  constructor(
    readonly ref: DocRef,
    private readonly findings: Findings,
  ) {
    this.source = describeDoc(ref);
  }

  problem(path: string, why: string): void {
    const at = `${this.ref.itemPath}${path}`.replace(/\.$/, '');
    const text = at === '' ? `${this.source}: ${why}` : `${this.source}: ${at}: ${why}`;
    this.findings.problem(this.ref.file, this.ref.index, text);
  }

  note(text: string): void {
    this.findings.note(this.ref.file, this.ref.index, `${this.source}: ${text}`);
  }

  /** Records a field accepted but unused; all of a document's are noted together by flushIgnored. */
  ignore(path: string): void {
    this.ignoredPaths.push(`${this.ref.itemPath}${path}`);
  }

  flushIgnored(): void {
    if (this.ignoredPaths.length > 0) this.note(`ignored by meshca: ${this.ignoredPaths.join(', ')}`);
    this.ignoredPaths.length = 0;
  }

  /** Checks the keys of `value` against `rules`: unknown ones are noted, or refused, or flagged as misspellings. */
  checkFields(value: YamlMapping, path: string, rules: FieldRules): void {
    const known = [...rules.read, ...(rules.ignored ?? [])];
    for (const key of Object.keys(value)) {
      if (rules.read.includes(key) || rules.silent?.includes(key)) continue;
      if (rules.ignored?.includes(key)) {
        this.ignore(joinPath(path, key));
        continue;
      }
      const guess = closeMatch(key, known);
      if (guess !== undefined) {
        this.problem(joinPath(path, key), `unknown field; did you mean "${guess}"?`);
      } else if (rules.closed) {
        this.problem(joinPath(path, key), `unknown field (the fields here are ${known.join(', ')})`);
      } else {
        this.ignore(joinPath(path, key));
      }
    }
  }

  /** `value` when it is a mapping; undefined when absent; a problem when it is something else. */
  mapping(value: unknown, path: string): YamlMapping | undefined {
    if (value === undefined || value === null) return undefined;
    if (isMapping(value)) return value;
    this.problem(path, `must be a mapping, not ${describeType(value)}`);
    return undefined;
  }

  list(value: unknown, path: string): unknown[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (Array.isArray(value)) return value;
    this.problem(path, `must be a list, not ${describeType(value)}`);
    return undefined;
  }

  /** `value` when it is a string; undefined when absent; a problem when it is another type. */
  string(value: unknown, path: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    this.problem(path, `must be a string, not ${describeType(value)} (quote it)`);
    return undefined;
  }

  /** Like string(), and a problem naming `hint` when it is absent or empty. */
  requiredString(value: unknown, path: string, hint: string): string | undefined {
    const text = this.string(value, path);
    if (text === undefined && (value === undefined || value === null)) this.problem(path, `missing; ${hint}`);
    if (text === '') this.problem(path, `is empty; ${hint}`);
    return text === '' ? undefined : text;
  }

  /** A list of strings; entries of another type are problems and left out. */
  stringList(value: unknown, path: string): string[] {
    const items = this.list(value, path) ?? [];
    const strings: string[] = [];
    for (const [i, item] of items.entries()) {
      if (item === null || item === undefined) {
        this.problem(joinPath(path, i), 'is empty');
        continue;
      }
      const text = this.string(item, joinPath(path, i));
      if (text !== undefined) strings.push(text);
    }
    return strings;
  }
}
