// A Secret's data as text, the way a mounted Secret's files would read.
import type { V1Secret } from '@kubernetes/client-node';

export function secretTexts(secret: V1Secret): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    texts[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  for (const [key, value] of Object.entries(secret.stringData ?? {})) texts[key] = value;
  return texts;
}

export function secretData(texts: Record<string, string>): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(texts)) data[key] = Buffer.from(value).toString('base64');
  return data;
}
