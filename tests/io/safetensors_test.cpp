// safetensors: the writer's exact bytes (against a hand-written file and the PyTorch reference
// program's own writer), round trips, and the reader's refusal of every malformed file.
#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "io/io_test_util.h"

namespace llmtune::io {
namespace {

using test::bit_equal;
using test::safetensors_bytes;
using test::ScratchDir;
using test::throws_error;

// A tensor holding exactly these bit patterns (any dtype; `T` matches its element size).
template <typename T>
Tensor raw_tensor(const std::vector<T>& bits, const Shape& shape, DType dtype) {
  EXPECT_EQ(sizeof(T), dtype_size(dtype));
  Tensor t = Tensor::empty(shape, dtype);
  EXPECT_EQ(static_cast<size_t>(t.numel()), bits.size());
  if (!bits.empty()) t.copy_from_host(bits.data());
  return t;
}

std::string hex_bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

TEST(SafetensorsWrite, ExactBytesForMixedDtypes) {
  // Given out of order: the writer sorts by dtype descending in the Rust enum order
  // (F32 > I32 > BF16 > F16), then by name.
  const NamedTensors tensors = {
      {"h", Tensor::from_f32({1.0f, 3.0f}, {2}, DType::BF16)},
      {"idx", Tensor::from_i32({1, 2, 3}, {3})},
      {"z", Tensor::from_f32({1.0f, -2.0f}, {2})},
      {"f", Tensor::from_f32({1.0f}, {1}, DType::F16)},
      {"b", Tensor::from_f32({-1.0f}, {1, 1}, DType::BF16)},
      {"a", Tensor::from_f32({0.5f}, {})},
  };
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                             R"("z":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
                             R"("idx":{"dtype":"I32","shape":[3],"data_offsets":[12,24]},)"
                             R"("b":{"dtype":"BF16","shape":[1,1],"data_offsets":[24,26]},)"
                             R"("h":{"dtype":"BF16","shape":[2],"data_offsets":[26,30]},)"
                             R"("f":{"dtype":"F16","shape":[1],"data_offsets":[30,32]}})"
                             "    ";  // 364 bytes of JSON, padded to 368
  ASSERT_EQ(header.size(), 368u);
  const std::string data =
      hex_bytes({0x00, 0x00, 0x00, 0x3f}) +                          // a: 0.5
      hex_bytes({0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0}) +  // z: 1, -2
      hex_bytes({1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}) +              // idx: 1, 2, 3
      hex_bytes({0x80, 0xbf}) +                                      // b: -1
      hex_bytes({0x80, 0x3f, 0x40, 0x40}) +                          // h: 1, 3
      hex_bytes({0x00, 0x3c});                                       // f: 1
  const std::string expected = hex_bytes({0x70, 0x01, 0, 0, 0, 0, 0, 0}) + header + data;
  EXPECT_EQ(safetensors_serialize(tensors), expected);

  ScratchDir dir;
  const std::string path = dir.file("t.safetensors");
  safetensors_write(path, tensors);
  EXPECT_EQ(read_file(path), expected);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"t.safetensors"});  // no temporary left
}

TEST(SafetensorsWrite, NoMetadataAndHeaderPadding) {
  // Without metadata there is no __metadata__ key; 54 bytes of JSON pad to 56.
  const std::string header = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  ASSERT_EQ(header.size(), 54u);
  EXPECT_EQ(
      safetensors_serialize({{"x", Tensor::from_f32({1.0f}, {1})}}, {}),
      hex_bytes({56, 0, 0, 0, 0, 0, 0, 0}) + header + "  " + hex_bytes({0x00, 0x00, 0x80, 0x3f}));
}

TEST(SafetensorsWrite, RefusesDuplicateNames) {
  const NamedTensors tensors = {{"w", Tensor::from_f32({1.0f}, {1})},
                                {"w", Tensor::from_f32({2.0f}, {1})}};
  EXPECT_TRUE(throws_error([&] { safetensors_serialize(tensors); }, {"\"w\"", "twice"}));
}

// The reference program (tests/reference/make_reference.py) writes its files with its own
// Python writer, which follows the Rust library's layout: re-serializing what we read must give
// the same bytes.
TEST(SafetensorsWrite, ReproducesReferenceFilesByteForByte) {
  const std::string root = LLMTUNE_REFERENCE_DIR;
  ASSERT_TRUE(std::filesystem::exists(root + "/llama_gqa/model.safetensors"))
      << "run tests/reference/make_reference.py --out " << root;
  int files = 0;
  for (const char* name : {"llama_gqa", "llama_linear", "llama_tied", "mistral_window"}) {
    for (const char* rel : {"model.safetensors", "data.safetensors", "expected.safetensors",
                            "adapter/adapter_model.safetensors"}) {
      const std::string path = root + "/" + name + "/" + rel;
      SCOPED_TRACE(path);
      const auto file = SafetensorsFile::open(path);
      NamedTensors tensors;
      // Reverse file order, so the writer must do the sorting itself.
      for (auto it = file->entries().rbegin(); it != file->entries().rend(); ++it) {
        tensors.emplace_back(it->name, file->tensor(it->name));
      }
      EXPECT_EQ(file->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
      EXPECT_TRUE(safetensors_serialize(tensors) == read_file(path));
      ++files;
    }
  }
  EXPECT_EQ(files, 16);
}

TEST(SafetensorsRead, RoundTripIsBitExact) {
  const NamedTensors tensors = {
      // +0, -0, +inf, -inf, a NaN with payload, the smallest subnormal.
      {"w.f32", raw_tensor<uint32_t>(
                    {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00001u, 0x00000001u},
                    {2, 3}, DType::F32)},
      {"w.bf16", raw_tensor<uint16_t>({0x3f80, 0x8000, 0x7fc1, 0x0001}, {4}, DType::BF16)},
      {"w.f16", raw_tensor<uint16_t>({0x3c00, 0xfc00}, {2, 1}, DType::F16)},
      {"ids", Tensor::from_i32({-1, 0, INT32_MAX, INT32_MIN, 42}, {5})},
      {"scalar", Tensor::from_f32({3.25f}, {})},
      {"empty", Tensor::zeros({0, 3}, DType::F32)},
      {"empty.bf16", Tensor::zeros({2, 0}, DType::BF16)},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"note", "round trip \u2713"}};
  ScratchDir dir;
  const std::string path = dir.file("rt.safetensors");
  safetensors_write(path, tensors, metadata);

  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->path(), path);
  EXPECT_EQ(file->metadata(), metadata);
  ASSERT_EQ(file->entries().size(), tensors.size());
  size_t end = 0;
  for (const SafetensorsEntry& e : file->entries()) {
    EXPECT_EQ(e.begin, end) << e.name;  // offset order, contiguous
    end = e.end;
  }
  EXPECT_EQ((std::filesystem::file_size(path) - end) % 8, 0u);  // data starts 8-aligned
  for (const auto& [name, want] : tensors) {
    SCOPED_TRACE(name);
    const SafetensorsEntry* e = file->find(name);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->dtype_name, dtype_name(want.dtype()));
    EXPECT_EQ(e->shape, want.shape());
    EXPECT_EQ(e->end - e->begin, want.nbytes());
    EXPECT_TRUE(bit_equal(file->tensor(name), want));
  }

  // Tensors keep the mapping alive, and writing to one never changes the file.
  Tensor w = file->tensor("w.f32");
  const std::string before = read_file(path);
  file.reset();
  EXPECT_TRUE(bit_equal(w, tensors[0].second));
  w.zero_();
  EXPECT_EQ(read_file(path), before);
  EXPECT_TRUE(bit_equal(SafetensorsFile::open(path)->tensor("w.f32"), tensors[0].second));
}

TEST(SafetensorsRead, AcceptsUnpaddedHeaderFromOtherWriters) {
  // Not a multiple of 8: the data starts unaligned, which the format allows.
  ScratchDir dir;
  const std::string path = dir.file("u.safetensors");
  write_file_atomic(path,
                    safetensors_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                      hex_bytes({0x00, 0x00, 0xc0, 0x3f})));
  const auto file = SafetensorsFile::open(path);
  EXPECT_TRUE(file->metadata().empty());
  EXPECT_EQ(file->tensor("x").to_f32(), std::vector<float>{1.5f});
}

struct BadFile {
  const char* what;
  std::string bytes;
  std::vector<std::string> message;  // substrings, besides the path
};

std::string prefix(uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out;
}

TEST(SafetensorsRead, RefusesEveryMalformedFileWithItsReason) {
  const std::string a4 = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string d4(4, '\0'), d8(8, '\0'), d12(12, '\0');
  const std::vector<BadFile> cases = {
      {"empty file", "", {"has 0 bytes, fewer than the 8-byte header length"}},
      {"shorter than 8 bytes", "\x01\x02\x03", {"has 3 bytes, fewer than the 8-byte header"}},
      {"header past the end",
       prefix(100) + "{}",
       {"header length 100 points past the end of the 10-byte file"}},
      {"header over 100 MB",
       prefix(200'000'000) + "{}      ",
       {"header length 200000000 exceeds the 100 MB limit"}},
      {"empty header", prefix(0) + "{}", {"does not start with '{'"}},
      {"header starts with space", safetensors_bytes(" {}", ""), {"does not start with '{'"}},
      {"header is a list", safetensors_bytes("[{}]", ""), {"does not start with '{'"}},
      {"invalid JSON",
       safetensors_bytes(R"({"a":{"dtype":"F32",)", ""),
       {"the header is not valid JSON"}},
      {"text after the JSON", safetensors_bytes("{} x", ""), {"the header is not valid JSON"}},
      {"duplicate tensor", safetensors_bytes("{" + a4 + "," + a4 + "}", d8), {"lists \"a\" twice"}},
      {"unknown dtype",
       safetensors_bytes(R"({"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}})",
                         std::string(16, '\0')),
       {"tensor \"a\": unknown dtype \"F128\""}},
      {"missing data_offsets",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1]}})", ""),
       {"tensor \"a\" needs dtype, shape and data_offsets"}},
      {"negative size",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", d4),
       {"tensor \"a\": shape holds a non-integer or negative size"}},
      {"size overflow",
       safetensors_bytes(
           R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})", d4),
       {"tensor \"a\": shape is too large"}},
      {"offsets not integers",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}})", d4),
       {"tensor \"a\": data_offsets must be two non-negative integers"}},
      {"offsets reversed",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", d4),
       {"tensor \"a\": data_offsets end before they begin"}},
      {"size does not match dtype*shape",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", d4),
       {"tensor \"a\": data_offsets cover 4 bytes but F32[2] needs 8"}},
      {"hole",
       safetensors_bytes("{" + a4 + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                         d12),
       {"tensor \"b\" starts at byte 8 of the data but 4 was expected (a hole or an overlap)"}},
      {"overlap",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                         d12),
       {"tensor \"b\" starts at byte 4 of the data but 8 was expected"}},
      {"truncated data",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d4),
       {"the tensors cover 8 bytes of data but the file holds 4 (truncated?)"}},
      {"trailing bytes",
       safetensors_bytes("{" + a4 + "}", d8),
       {"the tensors cover 4 bytes of data but the file holds 8 (trailing bytes)"}},
      {"non-string metadata value",
       safetensors_bytes(R"({"__metadata__":{"format":1},)" + a4 + "}", d4),
       {"__metadata__ value for \"format\" is not a string"}},
      {"metadata not an object",
       safetensors_bytes(R"({"__metadata__":"pt",)" + a4 + "}", d4),
       {"__metadata__ must be an object of strings"}},
  };
  ScratchDir dir;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].what);
    const std::string path = dir.file("bad" + std::to_string(i) + ".safetensors");
    write_file_atomic(path, cases[i].bytes);
    std::vector<std::string> parts = cases[i].message;
    parts.push_back(path + ": not a valid safetensors file: ");
    EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(path); }, parts));
  }
}

TEST(SafetensorsRead, MissingFileNamesThePath) {
  ScratchDir dir;
  const std::string path = dir.file("absent.safetensors");
  EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(path); },
                           {"cannot open " + path, "No such file or directory"}));
}

// A FIFO in a weights file's place would block the open for ever; a directory cannot be mapped.
TEST(SafetensorsRead, RefusesWhatIsNotARegularFile) {
  ScratchDir dir;
  ASSERT_EQ(::mkfifo(dir.file("model.safetensors").c_str(), 0600), 0);
  EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(dir.file("model.safetensors")); },
                           {"model.safetensors is not a regular file"}));
  std::filesystem::create_directories(dir.file("d.safetensors"));
  EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(dir.file("d.safetensors")); },
                           {"d.safetensors is a directory"}));
}

TEST(SafetensorsRead, TensorLookupErrors) {
  // Valid file: F64 is a legal dtype that llmtune does not compute with.
  ScratchDir dir;
  const std::string path = dir.file("f64.safetensors");
  write_file_atomic(path,
                    safetensors_bytes(R"({"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
                                      R"("x":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                      std::string(8, '\0') + hex_bytes({0x00, 0x00, 0x80, 0x3f})));
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->find("d")->dtype_name, "F64");
  EXPECT_EQ(file->tensor("x").to_f32(), std::vector<float>{1.0f});
  EXPECT_TRUE(
      throws_error([&] { file->tensor("d"); },
                   {path, "tensor \"d\" has dtype F64; llmtune reads F32, BF16, F16 and I32"}));
  EXPECT_EQ(file->find("nope"), nullptr);
  EXPECT_TRUE(throws_error([&] { file->tensor("nope"); }, {path, "no tensor named \"nope\""}));
}

// Shape is int64: a size JSON allows but int64 cannot hold must be refused, not wrapped to a
// negative dimension (a zero elsewhere in the shape keeps the byte count check at 0).
TEST(SafetensorsRead, RefusesSizeBeyondInt64) {
  ScratchDir dir;
  const std::string path = dir.file("big.safetensors");
  write_file_atomic(path,
                    safetensors_bytes(R"({"a":{"dtype":"F32","shape":[0,9223372036854775808],)"
                                      R"("data_offsets":[0,0]}})",
                                      ""));
  EXPECT_TRUE(throws_error(
      [&] {
        const auto file = SafetensorsFile::open(path);
        ADD_FAILURE() << "opened with shape " << shape_str(file->entries().at(0).shape);
      },
      {path, "tensor \"a\"", "shape"}));
}

// The reference reader (serde) refuses a repeated field inside a tensor entry; keeping either
// value silently would make the file's meaning depend on the parser.
TEST(SafetensorsRead, RefusesDuplicateFieldInsideATensor) {
  ScratchDir dir;
  const std::string path = dir.file("dup.safetensors");
  write_file_atomic(path, safetensors_bytes(R"({"a":{"dtype":"I32","dtype":"F32","shape":[1],)"
                                            R"("data_offsets":[0,4]}})",
                                            std::string(4, '\0')));
  EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(path); }, {path, "\"dtype\"", "twice"}));
}

}  // namespace
}  // namespace llmtune::io
