// What the Istio task's `sed … | awk …` does to `openssl s_client -showcerts` output: every
// certificate block, in the order the server sent them, each to become proxy-cert-N.pem.

const BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/** The PEM certificate blocks in `text`, in order, each ending with a newline. */
export function splitCertificates(text: string): string[] {
  return [...text.matchAll(BLOCK)].map((m) => `${m[0].replaceAll('\r\n', '\n')}\n`);
}
