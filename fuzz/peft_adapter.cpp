// A PEFT adapter_config.json.
#include "io/peft_adapter.h"
#include "fuzz/targets.h"

namespace llmtune::fuzz {

int fuzz_peft_adapter(const uint8_t* data, size_t size) {
  fuzz_write("adapter/adapter_config.json", fuzz_bytes(data, size));
  return fuzz_run([&] {
    const model::LoraConfig c = io::adapter_config_load(fuzz_scratch() + "/adapter");
    c.validate();
    (void)c.resolved_targets();
    (void)c.scaling();
  });
}

}  // namespace llmtune::fuzz
