/**
 * Secrets named by the config file, never written in it (DESIGN.md: "Secrets come from files or
 * systemd credentials"). A relative name is looked up in systemd's `$CREDENTIALS_DIRECTORY`
 * (`LoadCredential=` in the unit), an absolute one is read as it is. One trailing newline is
 * dropped, as `echo secret > file` leaves one.
 */

/** Reads a secret; throws `TypeError` naming the file and why, without the secret. */
export function readSecret(name: string): string {
  const dir = Deno.env.get("CREDENTIALS_DIRECTORY");
  const path = name.startsWith("/") ? name : dir !== undefined ? `${dir}/${name}` : null;
  if (path === null) {
    throw new TypeError(
      `secret "${name}" is a credential name, but CREDENTIALS_DIRECTORY is not set ` +
        "(give an absolute path, or LoadCredential= in the systemd unit)",
    );
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new TypeError(`cannot read secret file ${path}: ${why}`);
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret === "") throw new TypeError(`secret file ${path} is empty`);
  return secret;
}
