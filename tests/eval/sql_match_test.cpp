// SQL exact match: what normalization forgives (keyword and identifier case, whitespace, the
// quotes around string literals, trailing semicolons) and what it must not (the case and content
// of string literals, numbers, anything else that changes the query).
#include "eval/sql_match.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace llmtune::eval {
namespace {

TEST(NormalizeSql, HeaderExample) {
  EXPECT_EQ(normalize_sql("select count(*) from head where name = \"Bob\";"),
            "SELECT COUNT ( * ) FROM HEAD WHERE NAME = 'Bob'");
}

TEST(NormalizeSql, Tokens) {
  struct Row {
    std::string sql, normalized;
  };
  const std::vector<Row> rows = {
      {"", ""},
      {"  \t\n ; ;; ", ""},
      {"SELECT 1", "SELECT 1"},
      {"  select\t a\r\nfrom\ft  ", "SELECT A FROM T"},
      {"SELECT T1.name FROM head AS T1", "SELECT T1 . NAME FROM HEAD AS T1"},
      {"a<=b AND c>=d AND e<>f AND g!=h AND i==j",
       "A <= B AND C >= D AND E <> F AND G != H AND I == J"},
      {"a< =b", "A < = B"},
      {"x||'y'", "X || 'y'"},
      {"'it''s'", "'it''s'"},
      {"\"it's\"", "'it''s'"},
      {"\"say \"\"hi\"\"\"", "'say \"hi\"'"},
      {"'say \"hi\"'", "'say \"hi\"'"},
      {"'  Two  Spaces  '", "'  Two  Spaces  '"},
      {"'unterminated", "'unterminated"},
      {"\"unterminated 'x", "\"unterminated 'x"},
      {"`my col` + [Other Col]", "`MY COL` + `OTHER COL`"},
      {"`a``b` [a`b]", "`A``B` `A``B`"},
      {"1 1.5 .5 1. 1e10 1E-3 2.5e+4 0x1f 0X1F", "1 1.5 .5 1. 1E10 1E-3 2.5E+4 0X1F 0X1F"},
      {"-5 +3", "- 5 + 3"},
      {"age>56", "AGE > 56"},
      {"name_1 $x @y :z ?1", "NAME_1 $ X @ Y : Z ? 1"},
      {"caf\u00e9 = 'Caf\u00c9'", "CAF\u00e9 = 'Caf\u00c9'"},
      {"SELECT 1; SELECT 2;", "SELECT 1 ; SELECT 2"},
      {"-- comment", "- - COMMENT"},
  };
  for (const Row& r : rows) EXPECT_EQ(normalize_sql(r.sql), r.normalized) << r.sql;
}

TEST(SqlExactMatch, Table) {
  struct Pair {
    std::string a, b;
    bool equal;
    const char* why;
  };
  const std::string gold = "SELECT COUNT(*) FROM head WHERE age > 56";
  const std::vector<Pair> pairs = {
      {gold, gold, true, "identical"},
      {gold, "select count(*) from head where age > 56", true, "keyword and identifier case"},
      {gold, "SELECT COUNT(*) FROM HEAD WHERE AGE > 56", true, "identifier case"},
      {gold, "Select Count(*) From Head Where Age > 56", true, "mixed case"},
      {gold, "SELECT COUNT ( * ) FROM head WHERE age>56", true, "spaces around punctuation"},
      {gold, "  SELECT\tCOUNT(*)\nFROM head\r\n WHERE   age > 56  ", true, "whitespace"},
      {gold, gold + ";", true, "trailing semicolon"},
      {gold, gold + " ; ;\n", true, "trailing semicolons and whitespace"},
      {"SELECT a FROM t WHERE n = \"Bob\"", "SELECT a FROM t WHERE n = 'Bob'", true,
       "double against single quotes"},
      {"SELECT a FROM t WHERE n = \"O'Brien\"", "select a from t where n = 'O''Brien'", true,
       "a quote inside the literal"},
      {"SELECT `Name` FROM t", "select [name] from T", true, "quoted identifier case and style"},
      {"SELECT a FROM t WHERE x >= 1e3", "SELECT a FROM t WHERE x >= 1E3", true, "exponent case"},

      {"SELECT a FROM t WHERE n = 'Bob'", "SELECT a FROM t WHERE n = 'bob'", false,
       "string literal case"},
      {"SELECT a FROM t WHERE n = \"Bob\"", "SELECT a FROM t WHERE n = 'BOB'", false,
       "string literal case across quote styles"},
      {"SELECT a FROM t WHERE n = 'Bob '", "SELECT a FROM t WHERE n = 'Bob'", false,
       "whitespace inside a literal"},
      {"SELECT a FROM t WHERE n = 'a  b'", "SELECT a FROM t WHERE n = 'a b'", false,
       "inner whitespace of a literal"},
      {"SELECT a FROM t WHERE n = 'x'", "SELECT a FROM t WHERE n = x", false,
       "a literal is not an identifier"},
      {"SELECT a FROM t WHERE n = 'x'", "SELECT a FROM t WHERE n = 'x", false,
       "an unterminated literal"},
      {gold, "SELECT COUNT(*) FROM head WHERE age > 57", false, "a different number"},
      {gold, "SELECT COUNT(*) FROM head WHERE age > 56.0", false, "a number as written"},
      {gold, "SELECT COUNT(*) FROM head WHERE age >= 56", false, "a different operator"},
      {gold, "SELECT COUNT(*) FROM head", false, "a missing clause"},
      {gold, "SELECT COUNT(*) FROM head WHERE age > 56 LIMIT 1", false, "an extra clause"},
      {gold, "SELECT COUNT(*) FROM heads WHERE age > 56", false, "a different table"},
      {"SELECT a, b FROM t", "SELECT b, a FROM t", false, "swapped columns"},
      {"SELECT a_b FROM t", "SELECT a b FROM t", false, "an underscore is part of a name"},
      {"SELECT 1; SELECT 2", "SELECT 1 SELECT 2", false, "an inner semicolon counts"},
      {"SELECT caf\u00e9 FROM t", "SELECT CAF\u00c9 FROM t", false,
       "non-ASCII letters are not case-folded"},
  };
  for (const Pair& p : pairs) {
    EXPECT_EQ(sql_exact_match(p.a, p.b), p.equal)
        << p.why << "\n  " << p.a << "\n  " << p.b << "\n  " << normalize_sql(p.a) << "\n  "
        << normalize_sql(p.b);
    EXPECT_EQ(sql_exact_match(p.b, p.a), p.equal) << p.why << " (swapped)";
  }
}

TEST(NormalizeSql, IsIdempotent) {
  for (const std::string& sql :
       {std::string("select \"it's\" , `x``y`, 1e3 from t where a<>b;"),
        std::string("SELECT T1.name FROM head AS T1 JOIN management AS T2 ON T1.id = T2.id"),
        std::string("'unterminated \"")}) {
    EXPECT_EQ(normalize_sql(normalize_sql(sql)), normalize_sql(sql)) << sql;
  }
}

}  // namespace
}  // namespace llmtune::eval
