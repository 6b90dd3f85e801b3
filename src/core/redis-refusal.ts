/**
 * Errors from Redis that say it refused ZenSweep, as opposed to being away: what retrying cannot fix. Kept apart
 * from the connection code (it loads nothing), so that every command's failure report can word them.
 */

/** The TLS errors that say the server's certificate is not trusted (or not for this name), Node's codes. */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Why Redis refused, in words with the fix, when `error` is one that retrying cannot fix; undefined for any other
 * (Redis away, a timeout), which a service waits out.
 */
export function refusalOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  // A cluster that no node would answer says only "Failed to refresh slots cache." (ioredis's ClusterAllFailedError):
  // why the last node refused is underneath.
  const underneath = (error as { lastNodeError?: unknown }).lastNodeError;
  if (underneath instanceof Error) return refusalOf(underneath);
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const message = error.message;
  if (message.startsWith('WRONGPASS')) return 'wrong user name or password (WRONGPASS): check REDIS_USERNAME and REDIS_PASSWORD';
  if (message.startsWith('NOAUTH')) return 'it asks for a password and none was given (NOAUTH): set REDIS_PASSWORD';
  if (message.includes('called without any password configured')) return 'a password was given but it has none (AUTH): leave REDIS_PASSWORD unset';
  if (message.startsWith('NOPERM')) return `the user may not run a command ZenSweep needs (${message.split('\n')[0]?.slice(0, 160) ?? 'NOPERM'}): see the README for its ACL`;
  if (UNTRUSTED_CERTIFICATE.has(code)) return `its TLS certificate is not trusted (${code}): set REDIS_TLS_CA to the CA file that signed it`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(message)) return 'it does not speak TLS on that port: write redis://, or give its TLS port';
  return undefined;
}

