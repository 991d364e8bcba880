// The building blocks: key distances and suggestions, YAML scalars typed by the core schema, YAML
// to JSON with the line of every key, and where a key is reported.
#include "config/keys.h"

#include <gtest/gtest.h>

#include "config_test_util.h"

namespace llmtune::config {
namespace {

using nlohmann::json;
using test::error_with;

TEST(KeyDistance, CountsEditsAndTranspositionsIgnoringCase) {
  EXPECT_EQ(key_distance("learning_rate", "learning_rate"), 0);
  EXPECT_EQ(key_distance("learning_rat", "learning_rate"), 1);
  EXPECT_EQ(key_distance("slots_per_trail", "slots_per_trial"), 1);  // one transposition
  EXPECT_EQ(key_distance("Learning-Rate", "learning_rate"), 0);
  EXPECT_EQ(key_distance("", "abc"), 3);
  EXPECT_EQ(key_distance("kitten", "sitting"), 3);
}

TEST(KeyClosest, SuggestsLikelyTyposOnly) {
  const std::vector<std::string_view> keys = {"learning_rate", "lr_scheduler_type", "max_steps",
                                              "per_device_train_batch_size"};
  EXPECT_EQ(key_closest("learning_rat", keys), "learning_rate");
  EXPECT_EQ(key_closest("max_step", keys), "max_steps");
  EXPECT_EQ(key_closest("per_device_train_batch", keys), "per_device_train_batch_size");
  EXPECT_EQ(key_closest("warmup", keys), "");
  EXPECT_EQ(key_closest("zzz", keys), "");
}

TEST(YamlScalar, FollowsTheCoreSchemaAndReads1e5AsANumber) {
  EXPECT_EQ(yaml_plain_scalar("5000"), json(5000));
  EXPECT_TRUE(yaml_plain_scalar("5000").is_number_integer());
  EXPECT_EQ(yaml_plain_scalar("-3"), json(-3));
  EXPECT_EQ(yaml_plain_scalar("+3"), json(3));
  EXPECT_EQ(yaml_plain_scalar("0x10"), json(16));
  EXPECT_EQ(yaml_plain_scalar("0o17"), json(15));
  // PyYAML reads 1e-5 (no dot) as a string and Transformers then fails; we read a number.
  EXPECT_TRUE(yaml_plain_scalar("1e-5").is_number_float());
  EXPECT_DOUBLE_EQ(yaml_plain_scalar("1e-5").get<double>(), 1e-5);
  EXPECT_DOUBLE_EQ(yaml_plain_scalar("1.0e-5").get<double>(), 1e-5);
  EXPECT_DOUBLE_EQ(yaml_plain_scalar("2E8").get<double>(), 2e8);
  EXPECT_DOUBLE_EQ(yaml_plain_scalar("0.1").get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(yaml_plain_scalar(".5").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(yaml_plain_scalar("5.").get<double>(), 5.0);
  EXPECT_TRUE(std::isinf(yaml_plain_scalar(".inf").get<double>()));
  EXPECT_EQ(yaml_plain_scalar("true"), json(true));
  EXPECT_EQ(yaml_plain_scalar("False"), json(false));
  EXPECT_TRUE(yaml_plain_scalar("null").is_null());
  EXPECT_TRUE(yaml_plain_scalar("~").is_null());
  EXPECT_EQ(yaml_plain_scalar("yes"), json("yes"));  // YAML 1.1 booleans stay strings
  EXPECT_EQ(yaml_plain_scalar("1_000"), json("1_000"));
  EXPECT_EQ(yaml_plain_scalar("1e"), json("1e"));
  EXPECT_EQ(yaml_plain_scalar("easy"), json("easy"));
  EXPECT_TRUE(yaml_plain_scalar("99999999999999999999").is_number_float());
}

TEST(YamlScalar, AVeryLongScalarIsAStringNotAStackOverflow) {
  const std::string digits(200000, '7');
  EXPECT_EQ(yaml_plain_scalar(digits), digits);
  EXPECT_EQ(yaml_to_json("name: " + digits + "\n", "long.yaml").value["name"], digits);
}

TEST(YamlToJson, QuotedAndBlockScalarsStayStrings) {
  const YamlJson y = yaml_to_json(
      "a: \"5\"\nb: '1e-5'\nc: 5\nd: >-\n  python x\n  python y\ne: !!str 7\nf:\ng: [1, x, "
      "2.5]\n",
      "t.yaml");
  EXPECT_EQ(y.value["a"], json("5"));
  EXPECT_EQ(y.value["b"], json("1e-5"));
  EXPECT_EQ(y.value["c"], json(5));
  EXPECT_EQ(y.value["d"], json("python x python y"));
  EXPECT_EQ(y.value["e"], json("7"));
  EXPECT_TRUE(y.value["f"].is_null());
  EXPECT_EQ(y.value["g"], json::parse("[1, \"x\", 2.5]"));
}

TEST(YamlToJson, RecordsEveryKeyWithItsLineInDocumentOrder) {
  const YamlJson y = yaml_to_json("z: 1\na:\n  y: 2\n  b: [{c: 3}]\n", "t.yaml");
  ASSERT_EQ(y.keys.size(), 5u);
  EXPECT_EQ(y.keys[0].key, "z");
  EXPECT_EQ(y.keys[0].origin, "t.yaml:1");
  EXPECT_EQ(y.keys[1].key, "a");
  EXPECT_EQ(y.keys[2].key, "a.y");
  EXPECT_EQ(y.keys[2].origin, "t.yaml:3");
  EXPECT_EQ(y.keys[3].key, "a.b");
  EXPECT_EQ(y.keys[4].key, "a.b[0].c");
  EXPECT_EQ(y.keys[4].origin, "t.yaml:4");
}

TEST(YamlToJson, ReportsTheLineOfInvalidYaml) {
  EXPECT_TRUE(error_with([] { yaml_to_json("a: 1\nb:\n  c: 2\n d: 3\n", "bad.yaml"); },
                         {"bad.yaml:4", "invalid YAML"}));
  EXPECT_TRUE(error_with([] { yaml_to_json("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml"); },
                         {"bad.yaml:", "invalid YAML"}));
  EXPECT_TRUE(error_with([] { yaml_to_json("a: 1\n\tb: 2\n", "tab.yaml"); },
                         {"tab.yaml:", "invalid YAML"}));
}

TEST(YamlToJson, RejectsDuplicateKeysNonScalarKeysAndSeveralDocuments) {
  EXPECT_TRUE(error_with([] { yaml_to_json("a:\n  r: 8\n  r: 16\n", "d.yaml"); },
                         {"d.yaml:3", "duplicate key 'a.r'", "d.yaml:2"}));
  EXPECT_TRUE(error_with([] { yaml_to_json("? [1, 2]\n: x\n", "k.yaml"); },
                         {"k.yaml:1", "a key must be a plain name"}));
  EXPECT_TRUE(error_with([] { yaml_to_json("a: 1\n---\nb: 2\n", "m.yaml"); },
                         {"m.yaml", "more than one document"}));
}

TEST(YamlToJson, BoundsAliasExpansionAndNesting) {
  // "Billion laughs": each level repeats the one before ten times; 10^12 values in 13 lines.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  EXPECT_TRUE(error_with([&] { yaml_to_json(bomb, "bomb.yaml"); },
                         {"bomb.yaml:", "more than 100000 values", "aliases"}));
  // A few aliases, as real configs use them, are fine.
  const YamlJson y = yaml_to_json("base: &b {lr: 1}\nother: *b\n", "ok.yaml");
  EXPECT_EQ(y.value["other"]["lr"], 1);
  // Deep nesting: yaml-cpp's own guard says "bad file"; the message says what it means.
  const std::string deep = "x: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  EXPECT_TRUE(
      error_with([&] { yaml_to_json(deep, "deep.yaml"); }, {"deep.yaml:1", "nested deeper than"}));
  std::string nested = "a:\n";
  for (int i = 1; i < 80; ++i) nested += std::string(2 * i, ' ') + "b:\n";
  EXPECT_TRUE(error_with([&] { yaml_to_json(nested, "n.yaml"); }, {"n.yaml:", "nested deeper"}));
}

TEST(YamlToJson, NonFiniteNumbersAreErrorsNamingTheKey) {
  // JSON (the store) has no infinity or NaN: they would come back as null, i.e. the default.
  for (const char* v : {".inf", "-.Inf", ".nan", ".NaN", "1e400"}) {
    EXPECT_TRUE(error_with(
        [&] {
          yaml_to_json(std::string("training_args:\n  learning_rate: ") + v + "\n", "c.yaml");
        },
        {"c.yaml:2", "training_args.learning_rate", "finite number"}))
        << v;
  }
  EXPECT_EQ(yaml_to_json("lr: '.inf'\n", "q.yaml").value["lr"], ".inf");  // a string stays one
}

TEST(YamlToJson, EmptyTextIsNull) {
  EXPECT_TRUE(yaml_to_json("", "e.yaml").value.is_null());
  EXPECT_TRUE(yaml_to_json("# only a comment\n", "e.yaml").value.is_null());
}

TEST(Locator, FallsBackToTheNearestParentThenTheFile) {
  const Locator loc("x.yaml", {{"a", "x.yaml:1"}, {"a.b", "x.yaml:2"}, {"c", "--set c=1"}});
  EXPECT_EQ(loc.at("a.b"), "x.yaml:2");
  EXPECT_EQ(loc.at("a.b.vals[1]"), "x.yaml:2");
  EXPECT_EQ(loc.at("a.z"), "x.yaml:1");
  EXPECT_EQ(loc.at("c.d.e"), "--set c=1");
  EXPECT_EQ(loc.at("q"), "x.yaml");
}

TEST(ReadValues, NameTheKeyTheLineAndWhatWasFound) {
  const Locator loc("x.yaml", {{"n", "x.yaml:7"}});
  EXPECT_EQ(read_int(json(1e3), "n", loc), 1000);
  EXPECT_TRUE(error_with([&] { read_int(json(2.5), "n", loc); },
                         {"x.yaml:7: n: expected an integer, got 2.5"}));
  EXPECT_TRUE(error_with([&] { read_number(json("1e-5"), "n", loc); },
                         {"x.yaml:7: n: expected a number", "\"1e-5\"", "remove the quotes"}));
  EXPECT_TRUE(error_with([&] { read_bool(json("yes"), "n", loc); },
                         {"expected true or false", "the string \"yes\""}));
  EXPECT_TRUE(
      error_with([&] { read_string(json::array(), "n", loc); }, {"expected a string, got a list"}));
  EXPECT_TRUE(error_with([&] { read_map(json(3), "n", loc); }, {"expected a map"}));
}

TEST(ReadTextFile, NamesAMissingFile) {
  EXPECT_TRUE(error_with([] { read_text_file("/nonexistent/x.yaml", "experiment file"); },
                         {"cannot read experiment file '/nonexistent/x.yaml'"}));
}

}  // namespace
}  // namespace llmtune::config
