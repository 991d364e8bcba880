// A .safetensors file: header length, JSON header, data offsets.
#include "io/safetensors.h"
#include "core/tensor.h"
#include "fuzz/targets.h"

namespace llmtune::fuzz {

int fuzz_safetensors(const uint8_t* data, size_t size) {
  const std::string path = fuzz_write("model.safetensors", fuzz_bytes(data, size));
  return fuzz_run([&] {
    const auto file = io::SafetensorsFile::open(path);
    // What open() promises: the entries tile the data section, which lies inside the file.
    size_t end = 0;
    for (const io::SafetensorsEntry& e : file->entries()) {
      LLMTUNE_CHECK(e.begin == end && e.end >= e.begin, "entries do not tile: ", e.name);
      end = e.end;
    }
    LLMTUNE_CHECK(end <= size, "entries end past the file");
    for (const io::SafetensorsEntry& e : file->entries()) {
      LLMTUNE_CHECK(file->find(e.name) == &e, "find() does not return the entry ", e.name);
      try {
        const Tensor t = file->tensor(e.name);
        LLMTUNE_CHECK(t.numel() * static_cast<int64_t>(dtype_size(t.dtype())) ==
                          static_cast<int64_t>(e.end - e.begin),
                      "tensor size differs from its offsets: ", e.name);
        if (t.dtype() != DType::I32) (void)t.to_f32();  // reads every byte
      } catch (const InternalError&) {
        throw;
      } catch (const Error&) {  // a dtype llmtune does not compute with
      }
    }
  });
}

}  // namespace llmtune::fuzz
