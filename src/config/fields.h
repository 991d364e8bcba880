// Internal to src/config: the hyperparameters llmtune knows (TrialConfig's fields, and
// TrainingArgs under Hugging Face's names), the typed forms a search gives them, their checks,
// and how a concrete value sets a field.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/experiment.h"
#include "config/keys.h"

namespace llmtune::config {

// The names valid under hyperparameters, and under hyperparameters.training_args (including
// aliases and the TrainingArguments names accepted and ignored).
const std::vector<std::string_view>& hyperparameter_names();
const std::vector<std::string_view>& training_arg_names();

// A typed hyperparameter is a map with a `type` key: {type: const|int|double|log|categorical}.
bool hp_is_typed(const nlohmann::json& v);
// Checks a typed form's keys and values (minval < maxval, count >= 1, vals not empty, ...).
void hp_check_typed(const nlohmann::json& v, const std::string& key, const Locator& loc);
// Values a checked typed form can take, enough to check the field it sets: const -> val,
// categorical -> every val, int -> minval and maxval, double and log -> both ends and the middle
// (a fractional probe for an integer field). Each comes with the key suffix it was written
// under (".vals[1]"; "" for the middle).
std::vector<std::pair<std::string, nlohmann::json>> hp_candidates(const nlohmann::json& v);

// Checks the hyperparameters section: known names, typed forms, and every value a search can
// give each one. Adds a notice for each accepted TrainingArguments name that has no effect here.
void hyperparameters_check(const nlohmann::json& hp, const Locator& loc,
                           std::vector<std::string>& notices);

// Sets one field from a concrete value, checking its type and range. `key` is the full dotted
// key for messages.
void trial_field_set(TrialConfig& t, const std::string& name, const nlohmann::json& v,
                     const std::string& key, const Locator& loc);
void training_arg_set(TrainingArgs& a, const std::string& name, const nlohmann::json& v,
                      const std::string& key, const Locator& loc);

// The checks across TrainingArgs fields (bf16 with fp16, a training length, steps strategies
// with a step count); `prefix` is the dotted key of training_args.
void training_args_check(const TrainingArgs& a, const std::string& prefix, const Locator& loc);

}  // namespace llmtune::config
