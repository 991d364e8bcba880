// Exact match of SQL after normalization: differences that do not change what a query means to
// SQLite - letter case outside string literals, whitespace, the quote style of string literals,
// a trailing semicolon - do not count.
#pragma once

#include <string>

namespace llmtune::eval {

// The SQL as a sequence of tokens joined by single spaces: string literals ('...' or "...")
// re-quoted with single quotes (content kept exactly, '' escapes kept), punctuation as written,
// numbers and every other word (keywords and identifiers, which SQLite compares without case)
// in upper case; trailing semicolons and surrounding whitespace dropped. E.g.
//   select count(*) from head where name = "Bob";
//   SELECT COUNT ( * ) FROM HEAD WHERE NAME = 'Bob'
// The details:
//   - Whitespace is SQLite's: space, \t, \n, \f, \r. Tokens are string literals, quoted
//     identifiers, numbers, words ([A-Za-z_] or a byte >= 0x80, then also digits and $), the
//     operators <= >= <> != == || << >> and single characters.
//   - A "..." literal's "" becomes " and its ' becomes ''. An unterminated literal is kept as
//     written, so it never equals a terminated one.
//   - `...` and [...] identifiers become one `...` token (` doubled inside), in upper case.
//   - Numbers (12, 1.5, .5, 1e-3, 0x1f) keep their digits; their letters are upper-cased.
//   - Upper case is ASCII only, as SQLite folds identifiers. Comments and equivalent operators
//     (= and ==, <> and !=) are not unified.
std::string normalize_sql(const std::string& sql);

// normalize_sql(prediction) == normalize_sql(reference).
bool sql_exact_match(const std::string& prediction, const std::string& reference);

}  // namespace llmtune::eval
