// The workload's service-account token as the agent uses it: read fresh from its file before every
// request (Kubernetes rotates projected tokens in place), and read for the identity it names.
import { readFile } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import { configError, isMeshcaError } from '../errors.js';
import { callerFromClaims } from '../identity/caller-from-claims.js';

export async function readWorkloadToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw configError(
      'AGENT_TOKEN_UNREADABLE',
      `cannot read the service-account token ${file} (${e.code ?? 'error'}: ${e.message}); mount or write the token there (e.g. "meshca token -n NS --service-account SA > ${file}")`,
      err,
    );
  }
  const token = text.trim();
  if (!token) {
    throw configError(
      'AGENT_TOKEN_EMPTY',
      `the service-account token file ${file} is empty; write the token there (e.g. "meshca token -n NS --service-account SA > ${file}")`,
    );
  }
  return token;
}

/**
 * The namespace and service account a token names, read WITHOUT verifying it: only the CA can
 * judge the token, the agent just needs to know which identity to put in its CSR.
 */
export function identityFromToken(
  token: string,
  file: string,
): { namespace: string; serviceAccount: string } {
  try {
    const payload = decodeJwt(token);
    const { namespace, serviceAccount } = callerFromClaims(payload, String(payload.iss ?? 'unknown issuer'));
    return { namespace, serviceAccount };
  } catch (err) {
    const reason = isMeshcaError(err) ? err.message : `it is not a JWT (${(err as Error).message})`;
    throw configError(
      'AGENT_TOKEN_NO_IDENTITY',
      `cannot tell the workload's identity from the token in ${file}: ${reason}; pass --namespace and --service-account, or use a Kubernetes service-account token`,
      err,
    );
  }
}
