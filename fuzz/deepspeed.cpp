// A DeepSpeed JSON config: parsed against default TrainingArguments, then finalized.
#include "config/deepspeed.h"
#include "config/experiment.h"
#include "core/json.h"
#include "fuzz/targets.h"

namespace llmtune::fuzz {

int fuzz_deepspeed(const uint8_t* data, size_t size) {
  return fuzz_run([&] {
    const std::string path = "ds_config.json";
    const config::TrainingArgs args;
    for (int world : {1, 4}) {
      config::DeepSpeedConfig c =
          config::deepspeed_parse(json_parse(fuzz_bytes(data, size), path), path, args, world);
      config::deepspeed_finalize(c, args, 4096, 1000);
    }
  });
}

}  // namespace llmtune::fuzz
