// Writes docs/errors.md from the error table in src/error-codes.ts, with each code's exit code
// (src/cli/main.ts) and gRPC status (src/server/error-status.ts). Run it with `npm run docs:errors`;
// test/docs/errors-md.test.ts fails when docs/errors.md is not what this would write.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { status } from '@grpc/grpc-js';
import { exitCodeFor } from '../src/cli/main.js';
import { ERROR_CODES, type ErrorCode } from '../src/error-codes.js';
import { ERROR_KINDS, type ErrorKind } from '../src/errors.js';
import { grpcStatusFor } from '../src/server/error-status.js';

export const ERROR_DOCS_FILE = fileURLToPath(new URL('../docs/errors.md', import.meta.url));
export const ERROR_DOCS_COMMAND = 'npm run docs:errors';

/** Table cell text: no pipes or HTML to break the row. */
function cell(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('|', '\\|');
}

const grpcName = (kind: ErrorKind) => status[grpcStatusFor(kind)];

/** The text of docs/errors.md. */
export function renderErrorDocs(): string {
  const codes = (Object.keys(ERROR_CODES) as ErrorCode[]).sort();
  const lines = [
    '# meshca error codes',
    '',
    `<!-- Generated from src/error-codes.ts by \`${ERROR_DOCS_COMMAND}\`; do not edit by hand. -->`,
    '',
    'Every failure meshca expects carries a stable code, named by the layer that finds it (`PKI_…`,',
    '`CA_…`, `SERVER_…`), and a kind. The kind decides the exit code of a `meshca` command and the',
    'gRPC status the CA server answers a `CreateCertificate` call with:',
    '',
    '| Kind | Exit code | gRPC status |',
    '|---|---|---|',
    ...ERROR_KINDS.map((kind) => `| \`${kind}\` | ${exitCodeFor(kind)} | ${grpcName(kind)} |`),
    '',
    'Exit codes: 0 ok, 1 the operation failed, 2 bad usage or input, 3 bad configuration or CA files,',
    '70 a bug. `CA_CALL_…` codes are how a client of the CA (`meshca agent`, `meshca csr`, the',
    'library) reports the gRPC status the CA answered with.',
    '',
    `## All ${codes.length} codes`,
    '',
    '| Code | Kind | Exit code | gRPC status | Meaning |',
    '|---|---|---|---|---|',
    ...codes.map((code) => {
      const { kind, meaning } = ERROR_CODES[code];
      return `| \`${code}\` | ${kind} | ${exitCodeFor(kind)} | ${grpcName(kind)} | ${cell(meaning)} |`;
    }),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(ERROR_DOCS_FILE, renderErrorDocs());
  console.log(`wrote ${ERROR_DOCS_FILE} (${Object.keys(ERROR_CODES).length} codes)`);
}
