// GGUF writing and reading: the byte layout of the header, metadata and tensor descriptions,
// 32-byte alignment, F16 rounding, Q8_0 blocks as ggml's reference quantizer makes them, and the
// reader's refusal of damaged files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "io/gguf.h"
#include "io_test_util.h"

namespace llmtune {
namespace {

using io::GgmlType;
using io::GgufValue;

template <typename T>
T at(const std::string& bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

io::GgufTensor tensor(const std::string& name, const std::vector<float>& v, const Shape& shape,
                      GgmlType type) {
  return {name, shape, type, [v, shape] { return Tensor::from_f32(v, shape); }};
}

std::vector<float> ramp(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * static_cast<float>(i) + 0.1f);
  return v;
}

TEST(Gguf, HeaderMetadataAndTensorsAsTheFormatLaysThemOut) {
  test::ScratchDir dir;
  io::GgufWriter w;
  w.add("general.architecture", GgufValue::text("llama"));
  w.add("llama.block_count", GgufValue::u32(4));
  w.add("llama.rope.freq_base", GgufValue::f32(10000.0f));
  w.add("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
  w.add("tokenizer.ggml.tokens", GgufValue::texts({"<unk>",
                                                   "\xe2\x96\x81"
                                                   "a"}));
  w.add("tokenizer.ggml.scores", GgufValue::f32s({0.0f, -1.5f}));
  w.add("tokenizer.ggml.token_type", GgufValue::i32s({2, 1}));
  w.add_tensor(tensor("norm.weight", ramp(5, 1), {5}, GgmlType::kF32));
  w.add_tensor(tensor("w.weight", ramp(6, 1), {2, 3}, GgmlType::kF16));
  w.add_tensor(tensor("q.weight", ramp(64, 2), {2, 32}, GgmlType::kQ8_0));
  w.write(dir.file("m.gguf"));
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"m.gguf"});  // no temporary left

  const std::string b = read_file(dir.file("m.gguf"));
  EXPECT_EQ(b.substr(0, 4), "GGUF");
  EXPECT_EQ(at<uint32_t>(b, 4), 3u);
  EXPECT_EQ(at<uint64_t>(b, 8), 3u);   // tensors
  EXPECT_EQ(at<uint64_t>(b, 16), 7u);  // key/value pairs
  // The first pair: u64 key length, key, u32 type (8: string), u64 length, "llama".
  EXPECT_EQ(at<uint64_t>(b, 24), 20u);
  EXPECT_EQ(b.substr(32, 20), "general.architecture");
  EXPECT_EQ(at<uint32_t>(b, 52), 8u);
  EXPECT_EQ(at<uint64_t>(b, 56), 5u);
  EXPECT_EQ(b.substr(64, 5), "llama");
  EXPECT_EQ(at<uint64_t>(b, 69), 17u);  // "llama.block_count", u32 (4) 4
  EXPECT_EQ(at<uint32_t>(b, 69 + 8 + 17), 4u);
  EXPECT_EQ(at<uint32_t>(b, 69 + 8 + 17 + 4), 4u);

  const io::GgufFile f = io::gguf_read(dir.file("m.gguf"));
  ASSERT_EQ(f.metadata.size(), 7u);
  EXPECT_EQ(f.find("general.architecture")->string, "llama");
  EXPECT_EQ(f.find("llama.rope.freq_base")->type, io::GgufType::kF32);
  EXPECT_EQ(f.find("llama.rope.freq_base")->number, 10000.0);
  EXPECT_EQ(f.find("tokenizer.ggml.add_bos_token")->type, io::GgufType::kBool);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->strings[1],
            "\xe2\x96\x81"
            "a");
  EXPECT_EQ(f.find("tokenizer.ggml.scores")->array_type, io::GgufType::kF32);
  EXPECT_EQ(f.find("tokenizer.ggml.scores")->numbers[1], -1.5);
  EXPECT_EQ(f.find("tokenizer.ggml.token_type")->array_type, io::GgufType::kI32);
  EXPECT_EQ(f.data_start % 32, 0u);
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[1].dims, (std::vector<int64_t>{3, 2}));  // innermost first
  EXPECT_EQ(f.tensors[0].offset, 0u);
  EXPECT_EQ(f.tensors[1].offset, 32u);  // 20 bytes of F32, padded to 32
  EXPECT_EQ(f.tensors[2].offset, 64u);  // 12 bytes of F16, padded
  EXPECT_EQ(f.tensors[2].type, static_cast<uint32_t>(GgmlType::kQ8_0));
  EXPECT_EQ(b.size(), f.data_start + 64 + 96);  // two 34-byte blocks, padded to 96
  EXPECT_EQ(f.tensor_f32(f.tensors[0]), ramp(5, 1));
  const std::vector<float> h = f.tensor_f32(f.tensors[1]);
  for (size_t i = 0; i < h.size(); ++i) EXPECT_EQ(h[i], f16_to_f32(f32_to_f16(ramp(6, 1)[i])));
}

// ggml's quantize_row_q8_0_ref: d = amax / 127 (stored as f16), q = roundf(x / d).
TEST(Gguf, Q8_0BlocksAreGgmlsReferenceQuantization) {
  std::vector<float> x(64, 0.0f);
  // Block 1: amax 127, so d = 1 and x itself is rounded: halves go away from zero (roundf),
  // which round-half-to-even would not do for 2.5 and -0.5.
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = -0.5f;
  x[4] = 1.49f;
  x[5] = -127.0f;
  // Block 2 is all zeros: d = 0, every q = 0 (no division by zero).
  std::vector<uint8_t> q(2 * io::kQ8BlockBytes);
  io::q8_0_quantize(x.data(), 64, q.data());
  EXPECT_EQ(at<uint16_t>(std::string(q.begin(), q.end()), 0), f32_to_f16(1.0f));
  const auto qs = [&](int i) { return static_cast<int8_t>(q[2 + i]); };
  EXPECT_EQ(qs(0), 127);
  EXPECT_EQ(qs(1), 3);
  EXPECT_EQ(qs(2), -3);
  EXPECT_EQ(qs(3), -1);
  EXPECT_EQ(qs(4), 1);
  EXPECT_EQ(qs(5), -127);
  EXPECT_EQ(qs(6), 0);
  for (size_t i = io::kQ8BlockBytes; i < q.size(); ++i) EXPECT_EQ(q[i], 0) << i;

  // A scale that is not exact in f16: each value is within half a step of d (the f32 scale
  // used to quantize) once dequantized with the stored f16 scale, plus |q| times d's rounding.
  const std::vector<float> v = ramp(32 * 8, 0.37f);
  std::vector<uint8_t> blocks(8 * io::kQ8BlockBytes);
  io::q8_0_quantize(v.data(), 256, blocks.data());
  std::vector<float> back(256);
  io::q8_0_dequantize(blocks.data(), 256, back.data());
  for (int b = 0; b < 8; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(v[b * 32 + j]));
    const float d = amax / 127.0f;
    const float d16 = f16_to_f32(f32_to_f16(d));
    for (int j = 0; j < 32; ++j) {
      EXPECT_LE(std::fabs(back[b * 32 + j] - v[b * 32 + j]),
                d / 2 * 1.0001f + 127 * std::fabs(d16 - d))
          << "block " << b << " element " << j;
    }
  }
}

TEST(Gguf, AFailedWriteLeavesNothing) {
  test::ScratchDir dir;
  io::GgufWriter w;
  w.add("general.architecture", GgufValue::text("llama"));
  w.add_tensor(tensor("a.weight", ramp(4, 1), {4}, GgmlType::kF32));
  w.add_tensor({"b.weight", {4}, GgmlType::kF32, []() -> Tensor { throw Error("damaged"); }});
  EXPECT_TRUE(test::throws_error([&] { w.write(dir.file("m.gguf")); }, {"damaged"}));
  EXPECT_TRUE(dir.listing().empty());
}

TEST(Gguf, TheReaderRefusesDamagedFiles) {
  test::ScratchDir dir;
  io::GgufWriter w;
  w.add("tokenizer.ggml.tokens", GgufValue::texts({"a", "b"}));
  w.add_tensor(tensor("t.weight", ramp(64, 1), {64}, GgmlType::kF32));
  w.write(dir.file("good.gguf"));
  const std::string good = read_file(dir.file("good.gguf"));
  const auto damaged = [&](std::string bytes) {
    write_file_atomic(dir.file("bad.gguf"), bytes);
    return test::throws_error([&] { io::gguf_read(dir.file("bad.gguf")); }, {dir.file("bad.gguf")});
  };
  std::string magic = good;
  magic[0] = 'X';
  EXPECT_TRUE(damaged(magic));
  std::string version = good;
  version[4] = 2;
  EXPECT_TRUE(damaged(version));
  EXPECT_TRUE(damaged(good.substr(0, good.size() - 1)));  // the tensor's data cut short
  EXPECT_TRUE(damaged(good.substr(0, 40)));               // inside the metadata
  std::string count = good;                               // an array claiming 2^40 elements
  const size_t array_count = 8 + 8 + 8 + 8 + 21 + 4 + 4;
  ASSERT_EQ(at<uint64_t>(good, array_count), 2u);
  const uint64_t huge = uint64_t{1} << 40;
  std::memcpy(count.data() + array_count, &huge, 8);
  EXPECT_TRUE(damaged(count));
}

}  // namespace
}  // namespace llmtune
