/**
 * SCRAM-SHA-256 against the test vector of RFC 7677 §3, and the checks that make a login
 * fail: a server that does not extend our nonce, a wrong server signature, a server error.
 */
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import { saslPrep, ScramClient } from "../../../daemon/pgwire/scram.ts";

// RFC 7677 §3: user "user", password "pencil".
const CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
  "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
  "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

function rfcClient(): ScramClient {
  return new ScramClient("pencil", { user: "user", nonce: CLIENT_NONCE });
}

Deno.test("ScramClient reproduces the RFC 7677 test vector and accepts its server signature", () => {
  const scram = rfcClient();
  assertEquals(scram.clientFirst(), `n,,n=user,r=${CLIENT_NONCE}`);
  assertEquals(scram.clientFinal(SERVER_FIRST), CLIENT_FINAL);
  assert(!scram.verified, "verified before the server-final-message");
  scram.verifyServerFinal(SERVER_FINAL);
  assert(scram.verified, "not verified after a correct server signature");
});

Deno.test("ScramClient.verifyServerFinal() rejects a wrong server signature", () => {
  const scram = rfcClient();
  scram.clientFinal(SERVER_FIRST);
  const forged = "v=" + btoa("x".repeat(32));
  assertThrows(() => scram.verifyServerFinal(forged), { message: /signature is wrong/ });
  assertThrows(() => scram.verifyServerFinal("v="), { message: /signature is wrong/ });
  assert(!scram.verified);
});

Deno.test("ScramClient.verifyServerFinal() reports a server-side error and refuses early calls", () => {
  const early = rfcClient();
  assertThrows(() => early.verifyServerFinal(SERVER_FINAL), { message: /before the proof/ });
  const scram = rfcClient();
  scram.clientFinal(SERVER_FIRST);
  assertThrows(() => scram.verifyServerFinal("e=invalid-proof"), { message: /invalid-proof/ });
});

Deno.test("ScramClient.clientFinal() rejects a nonce that does not extend the client's", () => {
  const scram = rfcClient();
  const stolen = SERVER_FIRST.replace(`r=${CLIENT_NONCE}`, "r=someoneElsesNonce");
  assertThrows(() => scram.clientFinal(stolen), SyntaxError);
  const same = `r=${CLIENT_NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`;
  assertThrows(() => rfcClient().clientFinal(same), SyntaxError);
});

Deno.test("ScramClient.clientFinal() rejects malformed and absurd server-first-messages", () => {
  assertThrows(() => rfcClient().clientFinal("garbage"), SyntaxError);
  assertThrows(() => rfcClient().clientFinal(`r=${CLIENT_NONCE}xyz,s=AAAA`), SyntaxError);
  assertThrows(() => rfcClient().clientFinal(`m=ext,${SERVER_FIRST}`), SyntaxError);
  const huge = SERVER_FIRST.replace("i=4096", "i=999999999");
  assertThrows(() => rfcClient().clientFinal(huge), RangeError);
  const zero = SERVER_FIRST.replace("i=4096", "i=0");
  assertThrows(() => rfcClient().clientFinal(zero), RangeError);
});

Deno.test("ScramClient makes a fresh random nonce and escapes the user name", () => {
  const a = new ScramClient("pw").clientFirst();
  const b = new ScramClient("pw").clientFirst();
  assert(a.startsWith("n,,n=,r=") && a.length > 20, a);
  assert(a !== b, "two clients used the same nonce");
  assertEquals(
    new ScramClient("pw", { user: "a=b,c", nonce: "n" }).clientFirst(),
    "n,,n=a=3Db=2Cc,r=n",
  );
});

Deno.test("saslPrep() keeps ASCII, maps spaces and soft hyphens, NFKC-normalises", () => {
  assertEquals(saslPrep("pencil"), "pencil");
  assertEquals(saslPrep("a\tb"), "a\tb"); // ASCII passes as it is, as in pg_saslprep
  assertEquals(saslPrep("I\u00adX"), "IX");
  assertEquals(saslPrep("a\u00a0b"), "a b");
  assertEquals(saslPrep("\u2168"), "IX");
  assertEquals(saslPrep("\u00aa"), "a");
  // A prohibited character makes SASLprep fail; PostgreSQL then uses the password as it is.
  assertEquals(saslPrep("\u00e9\u0007"), "\u00e9\u0007");
});
