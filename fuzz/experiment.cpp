// An experiment YAML: parsed, searched (its hyperparameter sets drawn) and the first set turned
// into a trial's settings.
#include "config/experiment.h"
#include "fuzz/targets.h"

namespace llmtune::fuzz {

int fuzz_experiment(const uint8_t* data, size_t size) {
  const std::string path = fuzz_write("experiment/experiment.yaml", fuzz_bytes(data, size));
  return fuzz_run([&] {
    const config::ExperimentConfig e =
        config::experiment_parse(std::string(fuzz_bytes(data, size)), path);
    const std::vector<nlohmann::json> points = config::search_points(e, 7);
    if (!points.empty()) (void)config::trial_config(e, points.front(), 1);
  });
}

}  // namespace llmtune::fuzz
