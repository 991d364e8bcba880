#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "core/files.h"
#include "core/json.h"

namespace llmtune::model {

namespace {

using nlohmann::json;

// Reads key `k` of `j` as T; a missing key gives `fallback` unless `required`.
template <typename T>
T get(const json& j, const char* k, const T& fallback, const std::string& where,
      bool required = false) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) {
    if (required) {
      throw Error(str(where, ": missing required key \"", k,
                      "\"; a Llama/Mistral config.json must define it"));
    }
    return fallback;
  }
  // nlohmann would truncate 4.5 to an integer and accept 1e400 as a double: neither is meant.
  bool ok = true;
  if constexpr (std::is_same_v<T, int64_t>) ok = it->is_number_integer();
  if constexpr (std::is_same_v<T, double>) ok = it->is_number() && std::isfinite(it->get<double>());
  try {
    if (ok) return it->get<T>();
  } catch (const json::exception&) {
  }
  throw Error(str(where, ": key \"", k, "\" has the wrong type (", it->dump(), ")"));
}

RopeScaling parse_rope_scaling(const json& j, const std::string& where) {
  RopeScaling s;
  if (j.is_null()) return s;
  if (!j.is_object()) throw Error(str(where, ": \"rope_scaling\" must be an object or null"));
  const std::string type = j.contains("rope_type") ? get<std::string>(j, "rope_type", "", where)
                                                   : get<std::string>(j, "type", "", where);
  const std::string key = where + " rope_scaling";
  if (type == "linear") {
    s.type = RopeScaling::Type::kLinear;
  } else if (type == "dynamic") {
    s.type = RopeScaling::Type::kDynamic;
  } else if (type == "llama3") {
    s.type = RopeScaling::Type::kLlama3;
    s.low_freq_factor = get<double>(j, "low_freq_factor", 1.0, key, true);
    s.high_freq_factor = get<double>(j, "high_freq_factor", 4.0, key, true);
    s.original_max_position_embeddings =
        get<int64_t>(j, "original_max_position_embeddings", 8192, key, true);
    if (s.original_max_position_embeddings < 1 || !(s.low_freq_factor > 0) ||
        !(s.high_freq_factor > s.low_freq_factor)) {
      throw Error(str(key, ": needs original_max_position_embeddings >= 1 and ",
                      "0 < low_freq_factor < high_freq_factor"));
    }
  } else if (type == "default") {
    return s;
  } else {
    throw Error(str(where, ": rope_scaling type \"", type,
                    "\" is not supported (supported: linear, dynamic, llama3)"));
  }
  s.factor = get<double>(j, "factor", 1.0, key, true);
  if (!(s.factor >= 1.0)) throw Error(str(where, ": rope_scaling.factor must be >= 1"));
  return s;
}

// The sizes and ids: positive, consistent (heads, head_dim, the vocabulary's ids) and within
// what any model can be (absurd values stop here, before anything would allocate them).
void sizes_check(ModelConfig& c, const json& j, const std::string& where) {
  for (auto [key, value] : {std::pair{"vocab_size", c.vocab_size},
                            {"hidden_size", c.hidden_size},
                            {"intermediate_size", c.intermediate_size},
                            {"num_hidden_layers", c.num_hidden_layers},
                            {"num_attention_heads", c.num_attention_heads},
                            {"num_key_value_heads", c.num_key_value_heads},
                            {"max_position_embeddings", c.max_position_embeddings}}) {
    if (value <= 0) throw Error(str(where, ": \"", key, "\" must be positive, got ", value));
  }
  for (auto [key, id] :
       {std::pair{"bos_token_id", c.bos_token_id}, {"eos_token_id", c.eos_token_id}}) {
    if (id < 0 || id >= c.vocab_size) {
      throw Error(str(where, ": \"", key, "\" ", id, " is outside the vocabulary (vocab_size ",
                      c.vocab_size, ")"));
    }
  }
  // The size, in floating point so that absurd values cannot overflow: no model llmtune can hold
  // comes near 10^13 parameters, and parameter_count() stays exact below that.
  const double h = static_cast<double>(c.hidden_size), heads = c.num_attention_heads,
               kv = c.num_key_value_heads;
  const double size =
      static_cast<double>(c.vocab_size) * h * 2 +
      static_cast<double>(c.num_hidden_layers) *
          (h * h * 2 + h * h * 2 * kv / heads + 3 * h * static_cast<double>(c.intermediate_size));
  if (size > 1e13 || static_cast<double>(c.max_position_embeddings) > 1e9) {
    throw Error(str(where, ": vocab_size ", c.vocab_size, ", hidden_size ", c.hidden_size,
                    ", intermediate_size ", c.intermediate_size, " and num_hidden_layers ",
                    c.num_hidden_layers, " (max_position_embeddings ", c.max_position_embeddings,
                    ") describe a model far beyond any Llama/Mistral; check config.json"));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    throw Error(str(where, ": num_attention_heads (", c.num_attention_heads,
                    ") must be a multiple of num_key_value_heads (", c.num_key_value_heads, ")"));
  }
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    c.head_dim = get<int64_t>(j, "head_dim", 0, where);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      throw Error(str(where, ": hidden_size (", c.hidden_size,
                      ") is not divisible by num_attention_heads (", c.num_attention_heads, ")"));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim <= 0 || c.head_dim % 2 != 0 || c.head_dim > 4096) {
    throw Error(str(where, ": head_dim must be positive, even and at most 4096, got ", c.head_dim));
  }
  // With head_dim given, the attention projections are heads x head_dim wide, not hidden_size:
  // their size too, so that q_dim(), kv_dim() and parameter_count() cannot overflow.
  const double attention = static_cast<double>(c.num_hidden_layers) * h * 2 *
                           static_cast<double>(c.head_dim) * (heads + kv);
  if (attention > 1e13) {
    throw Error(str(where, ": num_attention_heads ", c.num_attention_heads,
                    ", num_key_value_heads ", c.num_key_value_heads, " and head_dim ", c.head_dim,
                    " describe attention far beyond any Llama/Mistral; check config.json"));
  }
}

}  // namespace

ModelConfig ModelConfig::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(str(where, ": expected a JSON object"));
  ModelConfig c;
  c.source = j;
  std::string arch;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty()) {
    arch = j["architectures"][0].is_string() ? j["architectures"][0].get<std::string>() : "";
  }
  const std::string type = get<std::string>(j, "model_type", "", where);
  if (arch == "LlamaForCausalLM" || (arch.empty() && type == "llama")) {
    c.architecture = "LlamaForCausalLM";
    c.model_type = "llama";
  } else if (arch == "MistralForCausalLM" || (arch.empty() && type == "mistral")) {
    c.architecture = "MistralForCausalLM";
    c.model_type = "mistral";
  } else {
    throw Error(str(where, ": architecture \"", arch.empty() ? type : arch,
                    "\" is not supported; llmtune trains LlamaForCausalLM and MistralForCausalLM"));
  }
  const bool mistral = c.model_type == "mistral";
  c.vocab_size = get<int64_t>(j, "vocab_size", 0, where, true);
  c.hidden_size = get<int64_t>(j, "hidden_size", 0, where, true);
  c.intermediate_size = get<int64_t>(j, "intermediate_size", 0, where, true);
  c.num_hidden_layers = get<int64_t>(j, "num_hidden_layers", 0, where, true);
  c.num_attention_heads = get<int64_t>(j, "num_attention_heads", 0, where, true);
  c.num_key_value_heads =
      get<int64_t>(j, "num_key_value_heads", mistral ? 8 : c.num_attention_heads, where);
  c.max_position_embeddings =
      get<int64_t>(j, "max_position_embeddings", mistral ? 131072 : 2048, where);
  c.rms_norm_eps = get<double>(j, "rms_norm_eps", 1e-6, where);
  c.rope_theta = get<double>(j, "rope_theta", 10000.0, where);
  c.rope_scaling = parse_rope_scaling(j.value("rope_scaling", json()), where);
  c.sliding_window = mistral ? get<int64_t>(j, "sliding_window", 4096, where) : 0;
  if (mistral && j.contains("sliding_window") && j["sliding_window"].is_null())
    c.sliding_window = 0;
  else if (mistral && c.sliding_window < 1)
    throw Error(
        str(where, ": \"sliding_window\" must be >= 1 (or null for none), got ", c.sliding_window));
  c.tie_word_embeddings = get<bool>(j, "tie_word_embeddings", false, where);
  c.initializer_range = get<double>(j, "initializer_range", 0.02, where);
  c.bos_token_id = get<int64_t>(j, "bos_token_id", 1, where);
  if (j.contains("eos_token_id") && j["eos_token_id"].is_array()) {  // Llama 3: several
    const json& ids = j["eos_token_id"];
    if (ids.empty() || !std::all_of(ids.begin(), ids.end(),
                                    [](const json& id) { return id.is_number_integer(); })) {
      throw Error(str(where,
                      ": \"eos_token_id\" must be a token id or a non-empty list of ids, got ",
                      ids.dump().substr(0, 60)));
    }
    c.eos_token_id = ids[0].get<int64_t>();
  } else {
    c.eos_token_id = get<int64_t>(j, "eos_token_id", 2, where);
  }

  sizes_check(c, j, where);
  const std::string act = get<std::string>(j, "hidden_act", "silu", where);
  if (act != "silu") {
    throw Error(str(where, ": hidden_act \"", act, "\" is not supported (Llama/Mistral use silu)"));
  }
  for (const char* k : {"attention_bias", "mlp_bias"}) {
    if (get<bool>(j, k, false, where)) {
      throw Error(
          str(where, ": \"", k, "\": true is not supported (Llama/Mistral have no biases)"));
    }
  }
  if (c.rms_norm_eps <= 0 || c.rope_theta <= 0) {
    throw Error(str(where, ": rms_norm_eps and rope_theta must be positive"));
  }
  return c;
}

ModelConfig ModelConfig::load(const std::string& path) {
  return from_json(json_parse(read_file(path, "a model directory needs a config.json"), path),
                   path);
}

json ModelConfig::to_json() const {
  json j = source.is_object() ? source : json::object();
  j["architectures"] = json::array({architecture});
  j["model_type"] = model_type;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  if (head_dim != hidden_size / num_attention_heads) j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["initializer_range"] = initializer_range;
  j["bos_token_id"] = bos_token_id;
  if (!(j.contains("eos_token_id") && j["eos_token_id"].is_array()))
    j["eos_token_id"] = eos_token_id;
  if (is_mistral()) j["sliding_window"] = sliding_window > 0 ? json(sliding_window) : json();
  if (!j.contains("rope_scaling")) j["rope_scaling"] = json();
  return j;
}

int64_t ModelConfig::parameter_count() const {
  const int64_t h = hidden_size;
  const int64_t per_layer = h * q_dim() * 2 + h * kv_dim() * 2 + 3 * h * intermediate_size + 2 * h;
  return vocab_size * h * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * per_layer + h;
}

}  // namespace llmtune::model
