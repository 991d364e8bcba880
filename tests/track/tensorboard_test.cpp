// TensorBoard event files: CRC32C, the INTEROP example bytes, and every value read back by an
// independent standard-library Python reader (tests/track/read_tfevents.py), including a file
// cut mid-record as a crash would leave it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "core/error.h"
#include "support/scratch.h"
#include "track/tensorboard.h"

namespace llmtune::track {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kPython = "/usr/bin/python3";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uint64_t le(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(s[pos + i])} << (8 * i);
  return v;
}

// The payloads of a file's records, checking the framing and both masked CRCs on the way.
std::vector<std::string> records(const std::string& blob) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < blob.size()) {
    EXPECT_GE(blob.size() - pos, 12u);
    const uint64_t length = le(blob, pos, 8);
    EXPECT_EQ(le(blob, pos + 8, 4), masked_crc32c(blob.data() + pos, 8));
    const std::string data = blob.substr(pos + 12, length);
    EXPECT_EQ(le(blob, pos + 12 + length, 4), masked_crc32c(data.data(), data.size()));
    out.push_back(data);
    pos += 12 + length + 4;
  }
  EXPECT_EQ(pos, blob.size());
  return out;
}

struct Oracle {
  int status = -1;  // the reader's exit status
  json entries;
};

Oracle run_reader(const std::string& file) {
  const std::string cmd = std::string(kPython) + " " + LLMTUNE_SOURCE_DIR +
                          "/tests/track/read_tfevents.py '" + file + "' 2>/dev/null";
  std::FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  Oracle o;
  o.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  o.entries = json::parse(out, nullptr, false);
  return o;
}

// The reader prints non-finite floats as strings.
double oracle_value(const json& v) {
  if (v.is_number()) return v.get<double>();
  const std::string s = v.get<std::string>();
  if (s == "NaN") return std::nan("");
  return s == "Infinity" ? std::numeric_limits<double>::infinity()
                         : -std::numeric_limits<double>::infinity();
}

struct Scalar {
  std::string tag;
  int64_t step;
  double value;
  double wall_time;
};

TEST(Crc32c, CheckValueAndMask) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  const uint32_t c = crc32c("123456789", 9);
  EXPECT_EQ(masked_crc32c("123456789", 9), ((c >> 15) | (c << 17)) + 0xA282EAD8u);
}

TEST(TensorboardTag, HuggingFaceNames) {
  EXPECT_EQ(tensorboard_tag("loss"), "train/loss");
  EXPECT_EQ(tensorboard_tag("learning_rate"), "train/learning_rate");
  EXPECT_EQ(tensorboard_tag("epoch"), "train/epoch");
  EXPECT_EQ(tensorboard_tag("eval_loss"), "eval/loss");
  EXPECT_EQ(tensorboard_tag("eval_bleu"), "eval/bleu");
  EXPECT_EQ(tensorboard_tag("test_accuracy"), "test/accuracy");
  EXPECT_EQ(tensorboard_tag("evaluation"), "train/evaluation");
}

TEST(EventWriter, FileNameFirstRecordAndInteropExampleBytes) {
  test::ScratchDir dir;
  const std::string logdir = dir.file("runs/a");
  std::string path;
  {
    EventWriter w(logdir);
    path = w.path();
    w.scalar("train/loss", 5, 1.5, 1700000000.25);
  }
  const std::string name = fs::path(path).filename().string();
  EXPECT_TRUE(
      std::regex_match(name, std::regex(R"(events\.out\.tfevents\.\d{10}\..+\.\d+\.llmtune)")))
      << name;
  EXPECT_EQ(fs::path(path).parent_path(), fs::path(logdir));

  const std::vector<std::string> r = records(read_all(path));
  ASSERT_EQ(r.size(), 2u);
  // Event{wall_time (0x09 + 8 bytes), file_version (0x1A, 13, "brain.Event:2")}.
  ASSERT_EQ(r[0].size(), 9u + 2 + 13);
  EXPECT_EQ(r[0][0], '\x09');
  EXPECT_EQ(r[0].substr(9), std::string("\x1A\x0D") + "brain.Event:2");

  const std::string expected = std::string("\x10\x05\x2A\x13\x0A\x11\x0A\x0A", 8) + "train/loss" +
                               std::string("\x15\x00\x00\xC0\x3F", 5);
  ASSERT_EQ(r[1].size(), 9 + expected.size());
  EXPECT_EQ(r[1][0], '\x09');
  EXPECT_EQ(r[1].substr(9), expected);
  double wall;
  std::memcpy(&wall, r[1].data() + 1, 8);
  EXPECT_EQ(wall, 1700000000.25);
}

TEST(EventWriter, TwoWritersInOneDirectoryGetTwoFiles) {
  test::ScratchDir dir;
  EventWriter a(dir.path()), b(dir.path());
  EXPECT_NE(a.path(), b.path());
  EXPECT_EQ(dir.listing().size(), 2u);
}

TEST(EventWriter, UncreatableDirectoryNamesThePath) {
  test::ScratchDir dir;
  std::ofstream(dir.file("file")) << "x";
  try {
    EventWriter w(dir.file("file/sub"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("file/sub")), std::string::npos) << e.what();
  }
}

TEST(EventWriter, PythonReaderAgreesOnEveryValue) {
  if (!fs::exists(kPython)) GTEST_SKIP() << kPython << " absent: the oracle reader needs it";
  test::ScratchDir dir;
  std::vector<Scalar> written = {
      {"train/loss", 1, 2.5, 1.0},
      {"train/negative", 2, -123.456, 2.5},
      {"train/huge", 3, 3.0e38, 3.0},
      {"train/overflow", 4, 1e39, 4.0},  // beyond float32: +inf
      {"train/tiny", 5, 1e-40, 5.0},     // a float32 subnormal
      {"train/underflow", 6, 1e-50, 6.0},
      {"train/zero", 0, 0.0, 7.0},  // step 0 is left out of the proto
      {"train/nan", 7, std::nan(""), 8.0},
      {"train/neg_inf", 8, -std::numeric_limits<double>::infinity(), 9.0},
      {"train/big_step", int64_t{1} << 40, 0.1, 10.0},
      {"train/negative_step", -3, 0.2, 11.0},
      {std::string(300, 'x'), 9, 1.0 / 3, 12.0},     // tag length: a 2-byte varint
      {std::string(20000, 'y'), 10, 2.0 / 3, 13.0},  // a 3-byte varint
      {"eval/Genauigkeit_ü_准确率_🙂", 11, 0.75, 14.0},
  };
  for (int i = 0; i < 500; ++i) {
    written.push_back({"train/learning_rate", 100 + i, 1e-5 * (i % 37) - 3e-5, 100.0 + i * 0.125});
  }
  std::string path;
  {
    EventWriter w(dir.path());
    path = w.path();
    for (const Scalar& s : written) w.scalar(s.tag, s.step, s.value, s.wall_time);
  }
  records(read_all(path));  // the C++-side framing check

  const Oracle o = run_reader(path);
  ASSERT_EQ(o.status, 0);
  ASSERT_TRUE(o.entries.is_array());
  ASSERT_EQ(o.entries.size(), written.size() + 1);
  EXPECT_EQ(o.entries[0]["file_version"], "brain.Event:2");
  EXPECT_EQ(o.entries[0]["step"], 0);
  for (size_t i = 0; i < written.size(); ++i) {
    const Scalar& s = written[i];
    const json& e = o.entries[i + 1];
    SCOPED_TRACE(s.tag.substr(0, 40));
    EXPECT_EQ(e["tag"].get<std::string>(), s.tag);
    EXPECT_EQ(e["step"].get<int64_t>(), s.step);
    EXPECT_EQ(e["wall_time"].get<double>(), s.wall_time);
    const auto expected = static_cast<float>(s.value);
    const double got = oracle_value(e["value"]);
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(got));
    } else {
      EXPECT_EQ(got, static_cast<double>(expected));
    }
  }
}

TEST(EventWriter, TruncatedFileReadsUpToTheLastCompleteRecord) {
  if (!fs::exists(kPython)) GTEST_SKIP() << kPython << " absent: the oracle reader needs it";
  test::ScratchDir dir;
  std::string path;
  {
    EventWriter w(dir.path());
    path = w.path();
    for (int i = 1; i <= 5; ++i) w.scalar("train/loss", i, 1.0 / i, i);
  }
  const uintmax_t full = fs::file_size(path);
  const uintmax_t last_record = records(read_all(path)).back().size() + 16;
  // Cut inside the last record's data CRC, its data, and its length header.
  for (const uintmax_t cut : {uintmax_t{2}, uintmax_t{20}, last_record - 5}) {
    SCOPED_TRACE(cut);
    const std::string copy = dir.file("cut.tfevents");
    fs::copy_file(path, copy, fs::copy_options::overwrite_existing);
    fs::resize_file(copy, full - cut);
    const Oracle o = run_reader(copy);
    EXPECT_EQ(o.status, 2);  // the partial record is flagged
    ASSERT_TRUE(o.entries.is_array());
    ASSERT_EQ(o.entries.size(), 5u);  // file_version and steps 1..4
    EXPECT_EQ(o.entries[4]["step"], 4);
    EXPECT_EQ(o.entries[4]["value"].get<double>(), static_cast<double>(0.25f));
  }
  // A flipped byte is corruption, not truncation.
  std::string blob = read_all(path);
  blob[blob.size() - 8] ^= 0x40;
  std::ofstream(dir.file("bad.tfevents"), std::ios::binary) << blob;
  EXPECT_EQ(run_reader(dir.file("bad.tfevents")).status, 1);
}

}  // namespace
}  // namespace llmtune::track
