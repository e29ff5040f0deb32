// A file written the way a task's instructions write it, `cat > FILE <<EOF … EOF`: the template is
// printed with its shell variables, the file gets them filled in, as an unquoted heredoc would.
import { type DemoContext, writeDemoFile } from './demo-context.js';

/** `${NAME}` replaced by `values[NAME]`; unknown names stay as written. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** Prints `cat > file <<EOF`, the template and `EOF`; writes the filled-in text; returns the absolute path. */
export async function writeHeredoc(
  ctx: DemoContext,
  file: string,
  template: string,
  values: Readonly<Record<string, string>> = {},
): Promise<string> {
  ctx.report.command(`cat > ${file} <<EOF`);
  ctx.report.result(`${template}EOF`);
  return writeDemoFile(ctx, file, fillTemplate(template, values));
}
