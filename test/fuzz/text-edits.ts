// The edits the fuzz tests make to a well-formed text input (a PEM bundle, a JWT): replace one
// character, delete or insert some, cut the end off. Each test adds edits of its own kind.

export type TextEdit =
  | { op: 'replace'; at: number; char: string }
  | { op: 'delete'; at: number; count: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'truncate'; keep: number };

/** `text` with `e` applied; positions wrap around the text's length, so every number is an edit. */
export function applyTextEdit(text: string, e: TextEdit): string {
  const at = (n: number) => n % (text.length + 1);
  switch (e.op) {
    case 'replace':
      return text.slice(0, at(e.at)) + e.char + text.slice(at(e.at) + 1);
    case 'delete':
      return text.slice(0, at(e.at)) + text.slice(at(e.at) + e.count);
    case 'insert':
      return text.slice(0, at(e.at)) + e.text + text.slice(at(e.at));
    case 'truncate':
      return text.slice(0, at(e.keep));
  }
}
