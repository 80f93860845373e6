/** A Redis URL fit for a log line or an error message: the password (and ACL user's) becomes ***. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.host) {
      if (u.password) u.password = '***';
      return u.toString();
    }
  } catch {
    // not a URL: masked below
  }
  // Not a proper URL (`user:secret@host:6379`, the scheme forgotten, or a password with an
  // unencoded "/"): whatever precedes the last @ may be a password.
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/i, '$1***@');
}
