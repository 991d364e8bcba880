// The Jinja interpreter against jinja2 (tests/text/render_templates.py writes what jinja2 renders
// for every chat template x conversation and every language case; the output must match byte
// for byte), and its errors: where they point, and which kind they are.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "text/jinja.h"

namespace llmtune::text::jinja {
namespace {

using Json = nlohmann::ordered_json;

const std::string kExpectedDir = LLMTUNE_TEXT_DIR;

// JSON-quoted, so whitespace differences show in failure messages.
std::string quoted(const std::string& s) {
  return Json(s).dump();
}

std::string render(const std::string& source, const Json& context = Json::object()) {
  return Template(source).render(context);
}

// Renders every case of an expected file and reports each mismatch with its name.
void check_oracle_file(const std::string& file_name, size_t min_cases) {
  std::string path = kExpectedDir + "/" + file_name;
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << path << " is absent: run tests/text/render_templates.py (ctest runs it as "
                 << "the jinja_reference test)";
  std::ifstream in(path);
  Json expected = Json::parse(in);
  const Json& cases = expected.at("cases");
  ASSERT_GE(cases.size(), min_cases);
  size_t outputs = 0, raised = 0, errors = 0;
  for (const Json& c : cases) {
    const std::string name = c.at("name");
    const Json& result = c.at("result");
    SCOPED_TRACE("case " + name + ", template " + quoted(c.at("template")));
    try {
      std::string got = render(c.at("template"), c.at("context"));
      if (result.contains("output")) {
        ++outputs;
        EXPECT_EQ(got, result.at("output").get<std::string>())
            << "rendered " << quoted(got) << "\njinja2   " << result.at("output").dump();
      } else {
        ADD_FAILURE() << "rendered " << quoted(got) << " where jinja2 failed with "
                      << result.dump();
      }
    } catch (const TemplateRaised& e) {
      ++raised;
      if (result.contains("raised")) {
        EXPECT_EQ(std::string(e.what()), result.at("raised").get<std::string>());
      } else {
        ADD_FAILURE() << "raise_exception(" << quoted(e.what()) << "), jinja2 gave "
                      << result.dump();
      }
    } catch (const TemplateError& e) {
      ++errors;
      EXPECT_TRUE(result.contains("error"))
          << "TemplateError " << quoted(e.what()) << ", jinja2 gave " << result.dump();
      EXPECT_GT(e.line(), 0) << e.what();
      EXPECT_GT(e.column(), 0) << e.what();
    }
  }
  std::printf("[ jinja2 %s ] %zu outputs, %zu raise_exception, %zu errors compared\n",
              expected.at("jinja2_version").get<std::string>().c_str(), outputs, raised, errors);
}

TEST(JinjaOracle, LanguageCasesMatchJinja2) {
  check_oracle_file("jinja_cases_expected.json", 150);
}

TEST(JinjaOracle, ChatTemplatesMatchJinja2) {
  check_oracle_file("jinja_chat_expected.json", 300);
}

// ---- errors: kind, message, line and column ----

// The TemplateError `source` throws when parsed or rendered with `context`.
TemplateError error_of(const std::string& source, const Json& context = Json::object()) {
  try {
    Template(source).render(context);
  } catch (const TemplateError& e) {
    return e;
  }
  ADD_FAILURE() << "no TemplateError for " << quoted(source);
  return TemplateError("none", 0, 0);
}

void expect_error(const std::string& source, int line, int column, const std::string& message,
                  const Json& context = Json::object()) {
  TemplateError e = error_of(source, context);
  EXPECT_EQ(e.line(), line) << e.what();
  EXPECT_EQ(e.column(), column) << e.what();
  EXPECT_NE(std::string(e.what()).find(message), std::string::npos)
      << quoted(e.what()) << " lacks " << quoted(message);
  std::string prefix = "line " + std::to_string(line) + ", column " + std::to_string(column);
  EXPECT_EQ(std::string(e.what()).rfind(prefix, 0), 0u) << e.what();
}

TEST(JinjaErrors, SyntaxErrorsPointAtTheToken) {
  expect_error("{{ 1 + }}", 1, 8, "unexpected end of print statement");
  expect_error("ab\ncd {{ x | }}", 2, 11, "expected a name");
  expect_error("{% if x %}\n  {% frobnicate %}\n{% endif %}", 2, 6,
               "Encountered unknown tag 'frobnicate'");
  expect_error("{{ 'a' ~ }}", 1, 10, "unexpected end of print statement");
  expect_error("{{ a b }}", 1, 6, "expected end of print statement, got name 'b'");
  expect_error("{{ (1 }}", 1, 7, "unexpected '}', expected ')'");
  expect_error("x\n\n   {{ 1 ! 2 }}", 3, 9, "unexpected char '!'");
  expect_error("{% for x in y recursive %}{% endfor %}", 1, 15, "recursive for loops");
  expect_error("{% include 'other.j2' %}", 1, 4, "'include' tag is not supported");
  expect_error("{{ f(*args) }}", 1, 6, "*args and **kwargs in calls are not supported");
  expect_error("{% break %}", 1, 4, "'break' outside of a for loop");
  expect_error("{{ 'caf\xc3\xa9' + }}", 1, 13, "unexpected end of print statement");
}

TEST(JinjaErrors, UnclosedTagsNameTheOpeningTag) {
  expect_error("text\n  {% if true %}\n  body", 2, 6,
               "Unexpected end of template. Jinja was looking for the following tags: 'elif' or "
               "'else' or 'endif'. The innermost block that needs to be closed is 'if'.");
  expect_error("{% for m in messages %}{% if m %}{% endfor %}", 1, 37,
               "You probably made a nesting mistake");
  expect_error("a\nb {{ x ", 2, 3, "the tag opened here lacks its '}}'");
  expect_error("{% if x", 1, 1, "lacks its '%}'");
  expect_error("ok\n{# never closed", 2, 1, "Missing end of comment tag");
  expect_error("{% raw %} never closed", 1, 1, "Missing end of raw directive");
  expect_error("{{ 'unterminated }}", 1, 4, "unterminated string literal");
}

TEST(JinjaErrors, UnknownFiltersAndTestsAreNamedWhenParsing) {
  expect_error("line one\n{{ messages | nosuchfilter }}", 2, 15, "No filter named 'nosuchfilter'.");
  expect_error("{{ x is nosuchtest }}", 1, 9, "No test named 'nosuchtest'.");
  expect_error("{{ x | striptags }}", 1, 8, "No filter named 'striptags'.");
}

// As jinja2 3.x does, an unknown name inside an if statement or inline if-expression is an
// error only when evaluated; elsewhere the constructor rejects it.
TEST(JinjaErrors, UnknownFilterInsideIfFailsOnlyWhenEvaluated) {
  Template t("{% if flag %}\n  {{ x | nosuch }}{% endif %}ok");
  EXPECT_EQ(t.render(Json{{"flag", false}}), "ok");
  try {
    t.render(Json{{"flag", true}});
    FAIL() << "no exception";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 10);
    EXPECT_NE(std::string(e.what()).find("No filter named 'nosuch' found."), std::string::npos);
  }
  EXPECT_THROW(Template("{% if x %}{% for i in x %}{{ i | nosuch }}{% endfor %}{% endif %}"),
               TemplateError);
}

TEST(JinjaErrors, RuntimeErrorsPointAtTheExpression) {
  expect_error("{{ undefined_function(1) }}", 1, 4, "'undefined_function' is undefined");
  expect_error("line\n  {{ 'text'.nosuch() }}", 2, 13, "'str object' has no attribute 'nosuch'");
  expect_error("{{ 1 + 'a' }}", 1, 6, "unsupported operand type(s) for +: 'int' and 'str'");
  expect_error("{{ 'a' + 1 }}", 1, 8, "can only concatenate str (not \"int\") to str");
  expect_error("{{ 1 // 0 }}", 1, 6, "integer division or modulo by zero");
  expect_error("{% for x in 5 %}{% endfor %}", 1, 13, "'int' object is not iterable");
  expect_error("{% for a, b in [[1]] %}{% endfor %}", 1, 8, "not enough values to unpack");
  expect_error("{{ messages[0].content.missing.x }}", 1, 24,
               "'dict object' has no attribute 'content'",
               Json::parse(R"({"messages": [{"role": "user"}]})"));
  expect_error("{{ 2 ** 70 }}", 1, 6, "integer overflow");
  expect_error("{% set x = 1 %}{% set x.y = 2 %}", 1, 23, "cannot assign attribute");
}

// Where jinja2 runs into Python's recursion limit, the interpreter stops with a TemplateError
// rather than overflowing the stack.
TEST(JinjaErrors, DeepNestingAndRecursionFailCleanly) {
  std::string deep = "{{ " + std::string(1000, '(') + "1" + std::string(1000, ')') + " }}";
  EXPECT_THROW(Template{deep}, TemplateError);
  std::string deep_ifs;
  for (int i = 0; i < 400; ++i) deep_ifs += "{% if true %}";
  EXPECT_THROW(Template{deep_ifs}, TemplateError);
  expect_error("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", 1, 20,
               "maximum recursion depth exceeded");
}

// Templates ship inside downloaded tokenizer_config.json files: work that would run for minutes
// or exhaust memory stops at once with the limit named (jinja2 itself would grind on).
TEST(JinjaLimits, HugeValuesLongLoopsAndGrowingOutputStop) {
  const char* kValue = "more than 16 MiB";
  expect_error("{{ 'a' * 10000000000 }}", 1, 8, kValue);
  expect_error("{{ [1, 2] * 10000000000 }}", 1, 11, kValue);
  expect_error("{{ 'x' | center(10000000000) }}", 1, 10, kValue);
  expect_error("{{ 'x'.ljust(10000000000) }}", 1, 8, kValue);
  expect_error("{{ 'x'.zfill(10000000000) }}", 1, 8, kValue);
  expect_error("{{ '%0999999999d' % 1 }}", 1, 19, kValue);
  expect_error("{{ '%.999999999f' % 1.5 }}", 1, 19, kValue);
  expect_error("{{ '{:999999999}'.format(1) }}", 1, 19, kValue);
  expect_error("{{ 'x' | indent(10000000000) }}", 1, 10, kValue);
  expect_error("{{ ('a' * 1000000).replace('a', 'b' * 1000000) }}", 1, 20, kValue);
  expect_error(
      "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}", 1, 47,
      "more than 10000000 steps");
  expect_error(
      "{% set ns = namespace(s='') %}{% for i in range(100000) %}"
      "{% set ns.s = ns.s ~ ('x' * 10000) %}{% endfor %}",
      1, 78, "more than 256 MiB");
  expect_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", 1, 32,
               "rendered text grew past 16 MiB");
  // Ordinary work is untouched, and each render has its own budget.
  const Template t("{% for i in range(100000) %}{{ i % 10 }}{% endfor %}");
  for (int k = 0; k < 3; ++k) EXPECT_EQ(t.render(Json::object()).size(), 100000u);
}

// Every place a string grows piece by piece stops at the value limit before it grows past it:
// a list of 10 MB of strings joined with a long separator; a list holding it 100 times printed
// or serialized; formats of it; a text of a million lines indented; a string list repeated (a
// list holds copies of its strings, so [s] * n costs n strings). Printing or comparing lists
// nested to 10^9 elements costs steps (jinja2 would grind for hours or exhaust memory).
TEST(JinjaLimits, StringsGrownPieceByPieceStop) {
  const std::string big =
      "{% set s = 'x' * 1000 %}{% set l = [s] * 10000 %}{% set m = [l] * 100 %}";
  const std::string lines = "{% set t = 'a\\n' * 1000000 %}";
  for (const std::string& t : std::vector<std::string>{
           big + "{{ l | join(',' * 1000) }}", big + "{{ ('y' * 1000).join(l) }}", big + "{{ m }}",
           big + "{{ m | tojson }}", big + "{{ {'a': m} }}", big + "{{ '%s%s' % (m, m) }}",
           big + "{{ '{}{}'.format(m, m) }}", big + "{{ [s * 10000] * 100000 }}",
           lines + "{{ t | indent(100) }}", lines + "{{ t | indent(100, true, true) }}",
           "{{ 'a' * 1000000000 }}", "{{ 'x' | center(2000000000) }}", "{{ '%0999999999d' % 1 }}",
           "{{ 'x'.rjust(2147483648) }}"}) {
    const TemplateError e = error_of(t, Json::object());
    EXPECT_NE(std::string(e.what()).find("more than 16 MiB"), std::string::npos)
        << t << ": " << e.what();
  }
  EXPECT_EQ(render(big + "{{ (l | join(',')) | length }}"), "10009999");  // within the limits
  std::string nested = "{% set a0 = [1] * 10 %}{% set b0 = [1] * 10 %}";
  for (int i = 1; i <= 9; ++i) {
    const std::string n = std::to_string(i), p = std::to_string(i - 1);
    nested += "{% set a" + n + " = [a" + p + "] * 10 %}{% set b" + n + " = [b" + p + "] * 10 %}";
  }
  EXPECT_NE(std::string(error_of("{% for i in range(1000000000) %}{% endfor %}").what())
                .find("Range too big"),
            std::string::npos);
  for (const std::string& t : {nested + "{{ a9 == b9 }}", nested + "{{ a9 < b9 }}",
                               nested + "{{ a9 in [b9] }}", nested + "{{ a9 }}"}) {
    const TemplateError e = error_of(t, Json::object());
    const std::string what = e.what();
    EXPECT_TRUE(what.find("more than 10000000 steps") != std::string::npos ||
                what.find("more than 16 MiB") != std::string::npos)
        << t << ": " << what;
  }
}

// Long flat chains nest too: a + b + c + ... is a tree as deep as the chain is long, which
// evaluating and freeing would recurse through (a stack overflow at 20,000 links).
TEST(JinjaErrors, LongChainsFailCleanly) {
  std::string sum = "{{ 1";
  std::string filters = "{{ 'x'";
  std::string attrs = "{{ x";
  for (int i = 0; i < 20000; ++i) {
    sum += " + 1";
    filters += " | upper";
    attrs += ".a";
  }
  for (const std::string& t : {sum + " }}", filters + " }}", attrs + " }}"}) {
    try {
      Template{t};
      ADD_FAILURE() << "parsed a chain of 20000 links";
    } catch (const TemplateError& e) {
      EXPECT_NE(std::string(e.what()).find("chains or nests more than 300"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(render("{{ 1 + 1 + 1 + 1 }}{{ 'a' | upper | lower }}"), "4a");
}

TEST(JinjaErrors, SandboxRefusesMutation) {
  Json ctx = Json::parse(R"({"items": [1, 2], "d": {"a": 1}})");
  expect_error("{{ items.append(3) }}", 1, 10,
               "access to attribute 'append' of 'list' object is unsafe.", ctx);
  expect_error("{% set _ = d.update({'b': 2}) %}", 1, 14,
               "access to attribute 'update' of 'dict' object is unsafe.", ctx);
  expect_error("{{ items.pop() }}", 1, 10, "'pop' of 'list' object is unsafe", ctx);
  // Reading the method without calling it is an Undefined, as in jinja2.
  EXPECT_EQ(render("[{{ items.append }}]", ctx), "[]");
}

TEST(JinjaErrors, RaiseExceptionCarriesTheTemplatesMessage) {
  const std::string source =
      "{% for m in messages %}{% if m.role == 'system' %}"
      "{{ raise_exception('Only user and assistant roles are supported!') }}"
      "{% endif %}{{ m.content }}{% endfor %}";
  Json ctx = Json::parse(R"({"messages": [{"role": "user", "content": "hi"},
                                         {"role": "system", "content": "s"}]})");
  try {
    render(source, ctx);
    FAIL() << "no exception";
  } catch (const TemplateRaised& e) {
    EXPECT_STREQ(e.what(), "Only user and assistant roles are supported!");
  }
  // TemplateRaised is an llmtune::Error, not a TemplateError.
  EXPECT_THROW(render("{{ raise_exception('x') }}"), TemplateRaised);
  EXPECT_THROW(render("{{ raise_exception('x') }}"), Error);
}

// ---- the public interface ----

TEST(JinjaTemplate, ParsesOnceRendersMany) {
  Template t("{% for m in messages %}[{{ m }}]{% endfor %}");
  EXPECT_EQ(t.render(Json::parse(R"({"messages": [1, "a"]})")), "[1][a]");
  EXPECT_EQ(t.render(Json::parse(R"({"messages": []})")), "");
  Template moved = std::move(t);
  EXPECT_EQ(moved.render(Json::parse(R"({"messages": [true, null, 1.5]})")), "[True][None][1.5]");
}

TEST(JinjaTemplate, OptionsTurnTrimAndLstripOff) {
  const std::string source = "  {% if true %}\nx\n  {% endif %}\n";
  EXPECT_EQ(Template(source).render(Json::object()), "x\n");
  EXPECT_EQ(Template(source, Options{false, false}).render(Json::object()), "  \nx\n  ");
  EXPECT_EQ(Template(source, Options{true, false}).render(Json::object()), "  x\n  ");
}

TEST(JinjaTemplate, ContextKeepsInsertionOrderAndUnicode) {
  Json ctx =
      Json::parse(R"({"d": {"zeta": 1, "alpha": "\u00e9\ud83d\ude42", "mid": [1.0, 1e-7]}})");
  EXPECT_EQ(render("{{ d }}|{{ d|tojson }}", ctx),
            "{'zeta': 1, 'alpha': '\xc3\xa9\xf0\x9f\x99\x82', 'mid': [1.0, 1e-07]}|"
            "{\"zeta\": 1, \"alpha\": \"\xc3\xa9\xf0\x9f\x99\x82\", \"mid\": [1.0, 1e-07]}");
}

TEST(JinjaTemplate, RejectsANonObjectContext) {
  EXPECT_THROW(Template("x").render(Json::array()), Error);
}

TEST(JinjaTemplate, StrftimeNowFormatsTheLocalTime) {
  std::string year = render("{{ strftime_now('%Y') }}");
  ASSERT_EQ(year.size(), 4u);
  EXPECT_GE(std::stoi(year), 2024);
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') | length }}"), "11");
}

}  // namespace
}  // namespace llmtune::text::jinja
