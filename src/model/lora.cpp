#include "model/lora.h"

#include <algorithm>

#include "core/error.h"

namespace llmtune::model {

std::vector<std::string> LoraConfig::resolved_targets() const {
  if (target_modules.empty()) return {"q_proj", "v_proj"};
  const auto& all = lora_supported_modules();
  if (target_modules.size() == 1 && target_modules[0] == "all-linear") return all;
  for (const std::string& t : target_modules) {
    if (std::find(all.begin(), all.end(), t) == all.end()) {
      std::string names;
      for (const std::string& m : all) names += (names.empty() ? "" : ", ") + m;
      throw Error(str("LoRA target module \"", t, "\" is not supported; choose from ", names,
                      " or \"all-linear\""));
    }
  }
  std::vector<std::string> out;
  for (const std::string& m : all) {
    if (std::find(target_modules.begin(), target_modules.end(), m) != target_modules.end()) {
      out.push_back(m);
    }
  }
  return out;
}

void LoraConfig::validate() const {
  if (r < 1) throw Error(str("LoRA r must be at least 1, got ", r));
  if (!(alpha > 0) || !(alpha <= 1e6))
    throw Error(str("lora_alpha must be positive and at most 1e6, got ", alpha));
  if (!(dropout >= 0 && dropout < 1))
    throw Error(str("lora_dropout must be in [0, 1), got ", dropout));
  resolved_targets();
}

}  // namespace llmtune::model
