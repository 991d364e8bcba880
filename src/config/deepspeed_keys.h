// Internal to src/config: the DeepSpeed keys llmtune models, their strict checks, and lookups of
// dotted keys in a DeepSpeed JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "config/keys.h"

namespace llmtune::config {

// "zero_optimization.stage" -> "/zero_optimization/stage".
nlohmann::json::json_pointer deepspeed_pointer(std::string_view dotted);
// The value at a dotted key, or null when absent or null.
const nlohmann::json* deepspeed_find(const nlohmann::json& j, std::string_view dotted);
bool deepspeed_is_auto(const nlohmann::json* v);

// Fails on an unknown key (with the closest one), a wrong type, or "auto" where Transformers
// fills nothing; then on what the key table cannot express: stage range, offload devices, the
// optimizer and scheduler types and each scheduler's parameters.
void deepspeed_check(const nlohmann::json& j, const Locator& loc);

}  // namespace llmtune::config
