/**
 * Qualified table names as PostgreSQL's `quote_qualified_identifier()` prints them — the form
 * pgAudit writes in its OBJECT_NAME field — so that the WAL and the log name one table the same
 * way: `public.orders`, `"Sales"."Order Lines"`, `public."user"`. A name is quoted only when it
 * has to be, so plain names read as `schema.table` and a dot inside a name cannot be mistaken
 * for the separator.
 */

// PostgreSQL 15's keywords that quote_identifier() quotes: every category but "unreserved"
// (SELECT word FROM pg_get_keywords() WHERE catcode <> 'U').
const QUOTED_KEYWORDS: ReadonlySet<string> = new Set(
  ("all analyse analyze and any array as asc asymmetric authorization between bigint binary bit " +
    "boolean both case cast char character check coalesce collate collation column concurrently " +
    "constraint create cross current_catalog current_date current_role current_schema " +
    "current_time current_timestamp current_user dec decimal default deferrable desc distinct do " +
    "else end except exists extract false fetch float for foreign freeze from full grant " +
    "greatest group grouping having ilike in initially inner inout int integer intersect " +
    "interval into is isnull join lateral leading least left like limit localtime " +
    "localtimestamp national natural nchar none normalize not notnull null nullif numeric offset " +
    "on only or order out outer overlaps overlay placing position precision primary real " +
    "references returning right row select session_user setof similar smallint some substring " +
    "symmetric table tablesample then time timestamp to trailing treat trim true union unique " +
    "user using values varchar variadic verbose when where window with xmlattributes xmlconcat " +
    "xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable")
    .split(" "),
);

const PLAIN_RE = /^[a-z_][a-z0-9_]*$/;

/**
 * Quotes one identifier as PostgreSQL's `quote_ident()` does.
 *
 * @example
 * quoteIdent("orders"); // "orders"
 * quoteIdent("Order Lines"); // "\"Order Lines\""
 */
export function quoteIdent(name: string): string {
  if (PLAIN_RE.test(name) && !QUOTED_KEYWORDS.has(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * `schema.name`, each part quoted where needed.
 *
 * @example
 * qualifiedName("Sales", "user"); // "\"Sales\".\"user\""
 */
export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}
