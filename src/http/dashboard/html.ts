// The dashboard's one escaping rule: every value put into a page goes through `html`, which escapes
// it unless it is already markup that `html` made. A SPIFFE ID, a reason or a search term a caller
// chose can then never become markup, whichever view prints it.

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for an HTML element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Markup built by `html` (and only by it), so it is not escaped a second time. */
export class SafeHtml {
  readonly #markup: string;
  constructor(markup: string) {
    this.#markup = markup;
  }
  toString(): string {
    return this.#markup;
  }
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** A tagged template: the literal parts are markup, every interpolated value is escaped. */
export function html(parts: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = parts[0]!;
  values.forEach((value, i) => {
    out += render(value) + parts[i + 1]!;
  });
  return new SafeHtml(out);
}
