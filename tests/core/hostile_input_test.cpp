// The ground floor against hostile input: JSON nesting and typed reads, whole-file reads of
// things that are not files, tensors too large to exist, and the activity an out-of-memory
// report names.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <climits>
#include <string>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "core/tensor.h"
#include "support/errors.h"
#include "support/scratch.h"

namespace llmtune {
namespace {

using nlohmann::json;
using test::throws_error;

TEST(JsonDepth, RefusesNestingPastTheLimitNamingWhereAndTheLine) {
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_NO_THROW(json_check_depth(ok, "ok.json"));
  EXPECT_EQ(json_parse(ok, "ok.json").size(), 1u);
  const std::string deep = "{\n\"x\": " + std::string(300000, '[') + std::string(300000, ']') + "}";
  EXPECT_TRUE(throws_error([&] { json_parse(deep, "config.json"); },
                           {"config.json:2", "nested deeper than 256"}));
  // Brackets inside strings (escaped quotes too) do not nest.
  const std::string quoted =
      "[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"]";
  EXPECT_NO_THROW(json_parse(quoted, "q.json"));
}

TEST(JsonParse, SyntaxErrorsAndHugeNumbersNameTheLine) {
  EXPECT_TRUE(
      throws_error([] { json_parse("{\n\"a\": 1,\n}", "f.json"); }, {"f.json:3", "invalid JSON"}));
  EXPECT_TRUE(throws_error([] { json_parse("[1e400]", "n.json"); }, {"n.json", "1e400"}));
}

TEST(JsonGet, ReadsTypedValuesAndNamesWrongOnes) {
  const json j = json::parse(R"({"n": 3, "big": 1000000000000, "s": "x", "b": true,
                                 "f": 0.5, "neg": -1, "null": null})");
  EXPECT_EQ(json_get<int32_t>(j, "n", "w"), 3);
  EXPECT_EQ(json_get<int64_t>(j, "big", "w"), 1000000000000);
  EXPECT_EQ(json_get<std::string>(j, "s", "w"), "x");
  EXPECT_TRUE(json_get<bool>(j, "b", "w"));
  EXPECT_EQ(json_get<double>(j, "f", "w"), 0.5);
  EXPECT_EQ(json_get_or<int32_t>(j, "missing", 7, "w"), 7);
  EXPECT_EQ(json_get_or<int32_t>(j, "null", 7, "w"), 7);
  EXPECT_TRUE(throws_error([&] { json_get<int32_t>(j, "big", "tokenizer.json"); },
                           {"tokenizer.json", "\"big\"", "32 bits", "1000000000000"}));
  EXPECT_TRUE(throws_error([&] { json_get<std::string>(j, "n", "w"); }, {"\"n\"", "a string"}));
  EXPECT_TRUE(throws_error([&] { json_get<bool>(j, "s", "w"); }, {"true or false"}));
  EXPECT_TRUE(
      throws_error([&] { json_get<int64_t>(j, "missing", "w"); }, {"\"missing\" is missing"}));
  EXPECT_TRUE(throws_error([&] { json_get<int64_t>(json::array(), "n", "w"); }, {"JSON object"}));
}

TEST(ReadFile, ReadsEveryByteAndRefusesWhatIsNotARegularFile) {
  test::ScratchDir dir;
  const std::string text(1 << 20, 'x');
  {
    FILE* f = std::fopen(dir.file("a.txt").c_str(), "wb");
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  EXPECT_EQ(read_file(dir.file("a.txt")), text);
  EXPECT_TRUE(throws_error([&] { read_file(dir.file("missing")); }, {"missing", "cannot open"}));
  EXPECT_TRUE(throws_error([&] { read_file(dir.path()); }, {"is a directory"}));
  // /dev/zero never ends and a FIFO without a writer never answers: both are refused at once.
  EXPECT_TRUE(throws_error([] { read_file("/dev/zero"); }, {"/dev/zero", "not a regular file"}));
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  EXPECT_TRUE(throws_error([&] { read_file(dir.file("fifo")); }, {"not a regular file"}));
}

TEST(TensorAllocation, TooLargeIsOutOfMemoryNamingTheShape) {
  try {
    Tensor::empty({int64_t{1} << 40, int64_t{1} << 40}, DType::F32);
    FAIL() << "allocated 2^80 elements";
  } catch (const OutOfMemory& e) {
    EXPECT_NE(std::string(e.what()).find("[1099511627776, 1099511627776] F32"), std::string::npos)
        << e.what();
  }
  try {  // representable, but no machine has 4 PiB
    Tensor::empty({int64_t{1} << 50}, DType::F32);
    FAIL() << "allocated 4 PiB";
  } catch (const OutOfMemory& e) {
    EXPECT_NE(std::string(e.what()).find("out of CPU memory"), std::string::npos) << e.what();
  }
}

TEST(Activity, TheFailureReportNamesWhatWasBeingDone) {
  try {
    const Activity outer("loading the model m");
    const Activity inner("reading m/config.json");
    EXPECT_EQ(activity_describe(), "loading the model m: reading m/config.json");
    throw std::bad_alloc();
  } catch (const std::bad_alloc&) {
    EXPECT_EQ(activity_describe(), "");
    EXPECT_EQ(activity_at_failure(), "loading the model m: reading m/config.json");
  }
  const Activity next("something else");  // new work: the old failure was handled
  EXPECT_EQ(activity_at_failure(), "");
}

}  // namespace
}  // namespace llmtune
