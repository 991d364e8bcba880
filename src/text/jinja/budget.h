// Bounds on the work one render may do. Chat templates arrive inside downloaded
// tokenizer_config.json files, so a template that loops for ever, recurses, or builds a huge
// string ({{ 'a' * 10000000000 }}, {{ '%0999999999d' % 1 }}) must stop with an error naming
// the limit, not run for minutes or exhaust memory. Real chat templates stay orders of
// magnitude below every bound.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmtune::text::jinja {

constexpr int64_t kMaxSteps = 10'000'000;       // statements run plus expressions evaluated
constexpr size_t kMaxValueBytes = 16u << 20;    // one string, list or the rendered output
constexpr size_t kMaxRenderBytes = 256u << 20;  // every string and list made, together

// The budget of the render running on this thread while it lives; the functions below count
// against it (and do nothing when no render runs).
class RenderBudget {
 public:
  RenderBudget();
  ~RenderBudget();
  RenderBudget(const RenderBudget&) = delete;
  RenderBudget& operator=(const RenderBudget&) = delete;

  int64_t steps = 0;
  size_t bytes = 0;

 private:
  RenderBudget* outer_;
};

// One more statement or expression; fail() past kMaxSteps.
void budget_step();
// Before making a value of `bytes` (count * size, which may overflow: pass them apart);
// fail() past kMaxValueBytes for it or kMaxRenderBytes for the render.
void budget_bytes(uint64_t count, uint64_t size = 1);
// While a string grows piece by piece (join, indent, format, repr, tojson): fail() once it is
// past kMaxValueBytes, before the next piece is added. A piece costs a step too, so that
// printing or comparing a list that holds itself many times over stops in time.
void budget_growing(size_t bytes);

}  // namespace llmtune::text::jinja
