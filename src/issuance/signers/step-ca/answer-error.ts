// Turns a step-ca HTTP error answer into meshca's error: who is at fault (the request, the signer's
// configuration, or step-ca's availability), with step-ca's own message kept for the operator.
import { caUnusable, invalidInput, type MeshcaError, unavailable } from '../../../errors.js';
import type { JsonAnswer } from './https-json.js';

/** step-ca's `{"status":…,"message":…}` message, or the start of whatever else it sent. */
export function stepCaMessage(answer: JsonAnswer): string {
  const message = (answer.json as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string' && message !== '') return message;
  const text = answer.text.trim().slice(0, 300);
  return text === '' ? 'no message' : text;
}

/**
 * The error for a non-success answer. `endpoint` is the URL that answered; `subject` says what was
 * asked, e.g. `a certificate for spiffe://td/ns/a/sa/b valid 3600 s`.
 */
export function answerError(answer: JsonAnswer, endpoint: string, subject: string): MeshcaError {
  const said = `HTTP ${answer.status}: ${stepCaMessage(answer)}`;
  const { status } = answer;
  if (status === 401) {
    return caUnusable(
      'RA_STEP_UNAUTHORIZED',
      `step-ca at ${endpoint} refused the provisioner token for ${subject} (${said}); check the provisioner name, key id and password (or X5C certificate), that meshca's and step-ca's clocks agree, and step-ca's log for the reason`,
    );
  }
  if (status === 403) {
    return invalidInput(
      'RA_STEP_FORBIDDEN',
      `step-ca at ${endpoint} refused to issue ${subject} (${said}); the provisioner's policy or claims do not allow this identity or lifetime: ask for a shorter TTL or widen the provisioner's claims`,
    );
  }
  if (status === 400) {
    return invalidInput(
      'RA_STEP_BAD_REQUEST',
      `step-ca at ${endpoint} rejected the request for ${subject} as malformed (${said})`,
    );
  }
  if (status >= 500) {
    return unavailable(
      'RA_STEP_UNAVAILABLE',
      `step-ca at ${endpoint} failed while handling the request for ${subject} (${said}); see step-ca's log`,
    );
  }
  return caUnusable(
    'RA_STEP_UNEXPECTED_STATUS',
    `step-ca at ${endpoint} answered the request for ${subject} with an unexpected ${said}; check that the signer's URL points at step-ca's API`,
  );
}
