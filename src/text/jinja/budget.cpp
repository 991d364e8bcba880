#include "text/jinja/budget.h"

#include <string>

#include "text/jinja/value.h"

namespace llmtune::text::jinja {

namespace {
thread_local RenderBudget* t_budget = nullptr;

std::string mib(size_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}
}  // namespace

RenderBudget::RenderBudget() : outer_(t_budget) {
  t_budget = this;
}

RenderBudget::~RenderBudget() {
  t_budget = outer_;
}

void budget_step() {
  if (t_budget != nullptr && ++t_budget->steps > kMaxSteps) {
    fail("the template ran more than " + std::to_string(kMaxSteps) +
         " steps (statements and expressions), the limit of one render: it loops too long");
  }
}

void budget_growing(size_t bytes) {
  if (t_budget == nullptr) return;
  budget_step();
  if (bytes > kMaxValueBytes) {
    fail("the template makes a value of more than " + mib(kMaxValueBytes) +
         ", the limit of one string, list or output");
  }
}

void budget_bytes(uint64_t count, uint64_t size) {
  if (t_budget == nullptr) return;
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes) || bytes > kMaxValueBytes) {
    fail("the template makes a value of more than " + mib(kMaxValueBytes) +
         ", the limit of one string, list or output");
  }
  t_budget->bytes += bytes;
  if (t_budget->bytes > kMaxRenderBytes) {
    fail("the template makes more than " + mib(kMaxRenderBytes) +
         " of strings and lists, the limit of one render");
  }
}

}  // namespace llmtune::text::jinja
